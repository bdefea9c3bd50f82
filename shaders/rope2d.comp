#version 450
// RoPE-2D in place on x [B, N, H, Dh] (strided). One invocation per (b, t, h, half, j), j
// fastest: the first half of a head (elements 0 .. Dh/2-1) is rotated by the token's y position,
// the second half by its x position; within a half starting at s, element s+j pairs with
// s+j+Dh/4 and table[p, j] = (cos, sin). Every element is read and written by one invocation.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer P { uint pos[]; };
layout(set = 0, binding = 2, std430) readonly buffer T { float table[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint Dh, H, N, B;
    uint x_st, x_sh, x_sb;
    uint pos_sb;
    uint max_pos;
    uint inverse;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    uint q = pc.Dh >> 2;
    if (q == 0u || i >= pc.B * pc.N * pc.H * 2u * q)
        return;
    uint j = i % q;
    uint r = i / q;
    uint hf = r & 1u;
    r >>= 1;
    uint h = r % pc.H;
    r /= pc.H;
    uint t = r % pc.N;
    uint b = r / pc.N;

    uint p = pos[pc.off[1] + b * pc.pos_sb + t * 2u + hf]; // (y, x): half 0 uses y
    p = min(p, pc.max_pos - 1u);
    uint ti = pc.off[2] + (p * q + j) * 2u;
    float c = table[ti];
    float sn = table[ti + 1u];
    if (pc.inverse != 0u)
        sn = -sn;

    uint e = pc.off[0] + b * pc.x_sb + t * pc.x_st + h * pc.x_sh + hf * (2u * q) + j;
    float u = x[e];
    float w = x[e + q];
    x[e] = u * c - w * sn;
    x[e + q] = w * c + u * sn;
}
