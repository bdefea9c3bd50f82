#version 450
// Channel sums, the bias gradients of the convolutions: t [B, C, HW] contiguous,
// sum[c] += sum over (b, i) of t[b, c, i] (ww_channels_params: C, HW, B).
// One workgroup per channel (linear group index, see ww_vk_groups_1d); lane l adds the
// elements l, l + LSIZE, ... of every batch's row, then lane 0 adds the lanes' sums in order
// (a fixed order: the same result from run to run, no atomics).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer T { float t[]; };
layout(set = 0, binding = 1, std430) buffer S { float sum[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint C, HW, B;
    uint mode, has_conf; // unused
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
shared float red[LSIZE];

void main() {
    uint c = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (c >= pc.C) // whole workgroups exit together
        return;
    uint lid = gl_LocalInvocationIndex;
    float s = 0.0;
    for (uint b = 0u; b < pc.B; b++) {
        uint base = pc.off[0] + (b * pc.C + c) * pc.HW;
        for (uint i = lid; i < pc.HW; i += LSIZE)
            s += t[base + i];
    }
    red[lid] = s;
    barrier();
    if (lid == 0u) {
        float total = 0.0;
        for (uint l = 0u; l < LSIZE; l++)
            total += red[l];
        sum[pc.off[1] + c] = sum[pc.off[1] + c] + total;
    }
}
