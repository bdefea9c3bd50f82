#version 450
// Partial or final sums (ww_sum_rows, ww_sum_squares, the weight gradients of
// ww_layernorm_backward): x is [outer, N, inner], count = outer * inner terms r = o * inner + i;
// for part p < parts and n < N: y[p N + n] (+)= sum over r in [p chunk, min(count, (p+1) chunk))
// of f(x[(o N + n) inner + i]), f(v) = v or v^2 (pc.square).
// inner == 1: linear group index = p * ceil(N / L) + column block, one n per invocation, its
//   part's rows added in order (coalesced along n).
// inner > 1: linear group index = p * N + n; the invocations stride over the part's terms and a
//   shared-memory tree adds their sums (correct for any workgroup size, no subgroup operations).
// Either way the order of additions is fixed by the shape and the workgroup size: no atomics.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint outer, N, inner;
    uint chunk, parts;
    uint square, accumulate;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
shared float red[LSIZE];

void store(uint part, uint n, float s) {
    uint o = pc.off[1] + part * pc.N + n;
    y[o] = pc.accumulate != 0u ? y[o] + s : s;
}

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint lid = gl_LocalInvocationIndex;
    uint count = pc.outer * pc.inner;
    if (pc.inner == 1u) {
        uint blocks = (pc.N + LSIZE - 1u) / LSIZE;
        uint part = g / blocks;
        uint n = (g - part * blocks) * LSIZE + lid;
        if (part >= pc.parts || n >= pc.N)
            return;
        uint r0 = part * pc.chunk, r1 = min(count, r0 + pc.chunk);
        float s = 0.0;
        for (uint r = r0; r < r1; r++) {
            float v = x[pc.off[0] + r * pc.N + n];
            s += pc.square != 0u ? v * v : v;
        }
        store(part, n, s);
        return;
    }
    uint part = g / pc.N;
    uint n = g - part * pc.N;
    if (part >= pc.parts)
        return; // uniform over the workgroup
    uint r0 = part * pc.chunk, r1 = min(count, r0 + pc.chunk);
    float s = 0.0;
    for (uint r = r0 + lid; r < r1; r += LSIZE) {
        uint o = r / pc.inner;
        float v = x[pc.off[0] + (o * pc.N + n) * pc.inner + (r - o * pc.inner)];
        s += pc.square != 0u ? v * v : v;
    }
    red[lid] = s;
    barrier();
    for (uint m = LSIZE; m > 1u;) {
        uint h = (m + 1u) >> 1; // lanes [h, m) fold onto [0, m - h)
        if (lid < m - h)
            red[lid] += red[lid + h];
        barrier();
        m = h;
    }
    if (lid == 0u)
        store(part, n, red[0]);
}
