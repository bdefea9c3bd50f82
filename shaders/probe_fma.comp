#version 450
// Peak FP32 throughput probe: each of n invocations runs `iters` iterations of 8 independent
// dependent-FMA chains (two vec4), 16 * iters FLOP, and writes the sum of the chains so that
// nothing is optimised away. The chains converge to 1 (no overflow, no denormals).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) writeonly buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint n, iters;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.n)
        return;
    float s = float(i & 255u) * (1.0 / 256.0);
    vec4 a = vec4(s, s + 0.125, s + 0.25, s + 0.375);
    vec4 b = vec4(s + 0.5, s + 0.625, s + 0.75, s + 0.875);
    vec4 m = vec4(0.9990234375); // 1 - 2^-10
    vec4 c = vec4(0.0009765625); // 2^-10: fixed point 1
    for (uint k = 0u; k < pc.iters; k++) {
        a = fma(a, m, c);
        b = fma(b, m, c);
    }
    y[pc.off[0] + i] = dot(a + b, vec4(1.0));
}
