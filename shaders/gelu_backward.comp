#version 450
// GELU backward (exact): dx += dy * gelu'(x), gelu'(x) = Phi(x) + x phi(x) with
// Phi(x) = 0.5 (1 + erf(x / sqrt 2)) (through erfc in the tails, as ww_gelu) and
// phi(x) = exp(-x^2 / 2) / sqrt(2 pi). One invocation per element.
#extension GL_GOOGLE_include_directive : require
#include "erf.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 2, std430) buffer DX { float dx[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint n;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

// 0.5 (1 + erf(v / sqrt 2)), branch-free like ww_gelu
float phi_cdf(float v) {
    float z = v * 0.70710678118654752;
    float t = abs(z);
    float small = 1.0 + fma(z, ww_erf_small_r(z * z), z);
    float e = ww_erfc_large(t);
    float large = z < 0.0 ? e : 2.0 - e;
    return 0.5 * (t < 0.875 ? small : large);
}

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.n)
        return;
    float v = x[pc.off[0] + i];
    float d = phi_cdf(v) + v * exp(-0.5 * v * v) * 0.39894228040143268;
    dx[pc.off[2] + i] += dy[pc.off[1] + i] * d;
}
