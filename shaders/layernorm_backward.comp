#version 450
// LayerNorm backward (ww_layernorm_backward), two passes selected by pc.pass:
// ROWS (0): one workgroup per row (linear group index = row). mean and rstd as the forward
//   computes them (two fp32 passes through a shared-memory tree that is correct for any
//   workgroup size, no subgroup operations), stored in the scratch as (mean, rstd); then with
//   xhat = (x - mean) rstd and g = dy w: dx += rstd (g - mean(g) - xhat mean(g xhat)).
// PARTIALS (1): linear group index = part * ceil(D / L) + column block, one column per
//   invocation: over the part's rows in order, pw[part][d] = sum dy xhat, pb[part][d] = sum dy,
//   after the stats of the scratch (w and dx are not bound to real data in this pass).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer Wt { float w[]; };
layout(set = 0, binding = 2, std430) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 3, std430) buffer DX { float dx[]; };
layout(set = 0, binding = 4, std430) buffer S { float scr[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint D, rows;
    uint x_rs, dy_rs, dx_rs;
    float eps;
    uint pass;
    uint chunk, parts;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
shared float red[LSIZE];

// Sum of v over the workgroup, returned to every invocation.
float group_sum(float v) {
    uint lid = gl_LocalInvocationIndex;
    red[lid] = v;
    barrier();
    for (uint n = LSIZE; n > 1u;) {
        uint h = (n + 1u) >> 1; // lanes [h, n) fold onto [0, n - h)
        if (lid < n - h)
            red[lid] += red[lid + h];
        barrier();
        n = h;
    }
    float s = red[0];
    barrier(); // red may be reused by the next call
    return s;
}

void rows_pass(uint row) {
    uint lid = gl_LocalInvocationIndex;
    uint xb = pc.off[0] + row * pc.x_rs;
    uint gb = pc.off[2] + row * pc.dy_rs;
    uint db = pc.off[3] + row * pc.dx_rs;
    uint wb = pc.off[1];
    float fD = float(pc.D);

    float s = 0.0;
    for (uint d = lid; d < pc.D; d += LSIZE)
        s += x[xb + d];
    float mean = group_sum(s) / fD;
    float v = 0.0;
    for (uint d = lid; d < pc.D; d += LSIZE) {
        float t = x[xb + d] - mean;
        v += t * t;
    }
    float rstd = inversesqrt(group_sum(v) / fD + pc.eps);

    float sg = 0.0, sgx = 0.0;
    for (uint d = lid; d < pc.D; d += LSIZE) {
        float g = dy[gb + d] * w[wb + d];
        sg += g;
        sgx += g * ((x[xb + d] - mean) * rstd);
    }
    float mg = group_sum(sg) / fD;
    float mgx = group_sum(sgx) / fD;
    for (uint d = lid; d < pc.D; d += LSIZE) {
        float g = dy[gb + d] * w[wb + d];
        float xh = (x[xb + d] - mean) * rstd;
        dx[db + d] += rstd * (g - mg - xh * mgx);
    }
    if (lid == 0u) {
        scr[pc.off[4] + 2u * row] = mean;
        scr[pc.off[4] + 2u * row + 1u] = rstd;
    }
}

void partials_pass(uint g) {
    uint blocks = (pc.D + LSIZE - 1u) / LSIZE;
    uint part = g / blocks;
    uint d = (g - part * blocks) * LSIZE + gl_LocalInvocationIndex;
    if (part >= pc.parts || d >= pc.D)
        return;
    uint r0 = part * pc.chunk, r1 = min(pc.rows, r0 + pc.chunk);
    uint so = pc.off[4];
    float sw = 0.0, sb = 0.0;
    for (uint r = r0; r < r1; r++) {
        float gv = dy[pc.off[2] + r * pc.dy_rs + d];
        float xh = (x[pc.off[0] + r * pc.x_rs + d] - scr[so + 2u * r]) * scr[so + 2u * r + 1u];
        sw += gv * xh;
        sb += gv;
    }
    uint pw = so + 2u * pc.rows;
    scr[pw + part * pc.D + d] = sw;
    scr[pw + (pc.parts + part) * pc.D + d] = sb;
}

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (pc.pass == 0u) {
        if (g < pc.rows) // uniform over the workgroup
            rows_pass(g);
    } else {
        partials_pass(g);
    }
}
