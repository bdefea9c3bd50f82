#version 450
// Patches of img [B, C, H, W] as rows: out [B, N, C*p*p], N = (H/p)*(W/p) in row-major grid
// order, columns ordered (c, ky, kx). One invocation per output element (contiguous writes).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer I { float img[]; };
layout(set = 0, binding = 1, std430) writeonly buffer O { float outp[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint C, H, W, p, B;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    uint p = pc.p;
    if (p == 0u)
        return;
    uint gw = pc.W / p;
    uint N = (pc.H / p) * gw;
    uint K = pc.C * p * p;
    if (i >= pc.B * N * K)
        return;
    uint col = i % K;
    uint row = i / K;
    uint b = row / N;
    uint n = row % N;
    uint gy = n / gw, gx = n % gw;
    uint c = col / (p * p);
    uint kk = col % (p * p);
    uint ky = kk / p, kx = kk % p;
    uint src = ((b * pc.C + c) * pc.H + gy * p + ky) * pc.W + gx * p + kx;
    outp[pc.off[1] + i] = img[pc.off[0] + src];
}
