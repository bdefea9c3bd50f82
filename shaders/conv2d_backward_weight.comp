#version 450
#extension GL_EXT_control_flow_attributes : require
/* Conv2d backward to the weights (ww_conv2d_backward_weight; also the ConvTranspose2d weight
 * gradient, with the roles of x and dy swapped): x [B, Cin, H, W], dy [B, Cout, Ho, Wo],
 * dw [Cout, Cin, k, k], all contiguous (ww_conv2d_params, the forward's geometry):
 *   dw[co, r] += sum over p = (b, oy, ox) of dy[b, co, oy, ox] * x'[b, ci, iy, ix]
 * with tap r = (ci * k + ky) * k + kx, iy = oy * stride - pad + ky, ix = ox * stride - pad + kx,
 * x' zero outside the image and relu(x) with WW_CONV_RELU_IN.
 *
 * dw is seen as a matrix of Cout rows by Cin * k * k taps. A workgroup owns a tile of TM rows by
 * TN taps; its NT lanes (along x) split the positions p = l, l + NT, ... of the B * Ho * Wo
 * (consecutive lanes: consecutive output pixels) and each keeps TM x TN partial sums. The lanes'
 * partial sums go through shared memory and lane e sums entry e over the lanes 0..NT-1 in order:
 * a fixed order, so the result is the same from run to run (no atomics).
 *
 * Spec constants: 0..2 local size (NT = their product; use (WX, 1, 1)), 3 = TM, 4 = TN.
 *   Shared memory: NT * TM * TN floats.
 * Grid: x = ceil(Cin * k * k / TN) tap tiles; row tiles linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z; groups with
 *   t >= ceil(Cout / TM) exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint TM = 8;
layout(constant_id = 4) const uint TN = 8;

layout(set = 0, binding = 0, std430) readonly buffer BufX { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufDy { float dy[]; };
layout(set = 0, binding = 2, std430) buffer BufDw { float dw[]; };

layout(push_constant) uniform PC {
    uint off[5];
    uint Cin, H, W, Cout, Ho, Wo, k, stride, pad, B;
    uint flags;
} pc;

const uint F_RELU_IN = 1u;
const uint NT = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
const uint TMN = TM * TN;
shared float red[NT * TMN]; /* entry e of lane l at e * NT + l */

void main()
{
    uint Cin = pc.Cin, H = pc.H, W = pc.W, Cout = pc.Cout, Ho = pc.Ho, Wo = pc.Wo, k = pc.k;
    uint s = pc.stride, pad = pc.pad;
    uint kk = k * k, ntap = Cin * kk, HW = H * W, HWo = Ho * Wo;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    /* whole workgroups exit together, before the barrier */
    if (t >= (Cout + TM - 1u) / TM || ntap == 0u || HWo == 0u)
        return;
    uint co0 = t * TM, r0 = gl_WorkGroupID.x * TN;
    uint lid = gl_LocalInvocationIndex;
    bool relu = (pc.flags & F_RELU_IN) != 0u;

    /* the tile's taps: x offset inside a batch, kernel row and column */
    uint toff[TN], tky[TN], tkx[TN];
    [[unroll]] for (uint j = 0u; j < TN; j++) {
        uint r = min(r0 + j, ntap - 1u);
        uint ci = r / kk, q = r - ci * kk;
        tky[j] = q / k;
        tkx[j] = q - tky[j] * k;
        toff[j] = ci * HW + tky[j] * W + tkx[j];
    }
    uint drow[TM];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        drow[i] = min(co0 + i, Cout - 1u) * HWo;

    float acc[TMN];
    [[unroll]] for (uint e = 0u; e < TMN; e++)
        acc[e] = 0.0;

    uint npos = pc.B * HWo;
    for (uint p = lid; p < npos; p += NT) {
        uint b = p / HWo, q = p - b * HWo;
        uint oy = q / Wo, ox = q - oy * Wo;
        uint iy0 = oy * s - pad, ix0 = ox * s - pad; /* may wrap below zero */
        uint xb = pc.off[0] + b * Cin * HW;
        uint at = xb + iy0 * W + ix0;                /* x index of tap (0, 0, 0), wrapping */
        uint db = pc.off[1] + b * Cout * HWo + q;
        float g[TM];
        [[unroll]] for (uint i = 0u; i < TM; i++)
            g[i] = dy[db + drow[i]];
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint iy = iy0 + tky[j], ix = ix0 + tkx[j];
            bool ok = iy < H && ix < W;
            float v = x[ok ? at + toff[j] : xb];
            v = ok ? v : 0.0;
            if (relu)
                v = v > 0.0 ? v : 0.0;
            [[unroll]] for (uint i = 0u; i < TM; i++)
                acc[i * TN + j] = fma(g[i], v, acc[i * TN + j]);
        }
    }

    [[unroll]] for (uint e = 0u; e < TMN; e++)
        red[e * NT + lid] = acc[e];
    barrier();
    for (uint e = lid; e < TMN; e += NT) {
        float sum = 0.0;
        for (uint l = 0u; l < NT; l++)
            sum += red[e * NT + l];
        uint co = co0 + e / TN, r = r0 + e % TN;
        if (co < Cout && r < ntap) {
            uint i = pc.off[2] + co * ntap + r;
            dw[i] = dw[i] + sum;
        }
    }
}
