#version 450
// Scatter-add of rows, the backward of the gather (ww_scatter_add_rows): contiguous rows of D
// floats, idx [B or 1, n] (batch stride idx_sb; ww_rows_params):
//   y[(b*N + idx[b*idx_sb + i])*D + d] += x[(b*n + i)*D + d]
// Indices are distinct, so no two invocations write one element; an index >= N is skipped.
// One invocation per (b, i, d).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer I { uint idx[]; };
layout(set = 0, binding = 2, std430) buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint D, n, N, B;
    uint idx_sb;
    uint mode;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint e = g * LSIZE + gl_LocalInvocationIndex;
    if (pc.D == 0u || pc.n == 0u || e >= pc.B * pc.n * pc.D)
        return;
    uint d = e % pc.D;
    uint r = e / pc.D; // b*n + i
    uint b = r / pc.n;
    uint i = r % pc.n;
    uint k = idx[pc.off[1] + b * pc.idx_sb + i];
    if (k >= pc.N)
        return;
    uint o = pc.off[2] + (b * pc.N + k) * pc.D + d;
    y[o] = y[o] + x[pc.off[0] + e];
}
