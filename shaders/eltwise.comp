#version 450
// Elementwise: ADD y = a + b, GELU y = 0.5 a (1 + erf(a / sqrt 2)) (exact), RELU, COPY, ZERO.
// One invocation per element; y may be the same memory as a (or b).
#extension GL_GOOGLE_include_directive : require
#include "erf.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer A { float a[]; };
layout(set = 0, binding = 1, std430) readonly buffer B { float b[]; };
layout(set = 0, binding = 2, std430) buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint n, op;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.n)
        return;
    if (pc.op == 4u) {
        y[pc.off[2] + i] = 0.0; // a aliases y: nothing to read
        return;
    }
    float v = a[pc.off[0] + i];
    float r;
    if (pc.op == 0u)
        r = v + b[pc.off[1] + i];
    else if (pc.op == 1u)
        r = ww_gelu(v); // 0.5 v (1 + erf(v / sqrt 2)), accurate in the left tail too
    else if (pc.op == 2u)
        r = v > 0.0 ? v : 0.0; // NaN -> 0
    else
        r = v;
    y[pc.off[2] + i] = r;
}
