#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
/* ConvTranspose2d with kernel == stride == k (no overlap): x [B, Cin, H, W],
 * w [Cin, Cout, k, k] (PyTorch layout), bias [Cout], y [B, Cout, H*k, W*k], all contiguous
 * (ww_convt_params):
 *   y[b, co, iy*k + ky, ix*k + kx] = bias[co] + sum_ci x[b, ci, iy, ix] * w[ci, co, ky, kx]
 *
 * A workgroup of NT invocations handles one input row iy, CO output channels and NT * TN input
 * pixels; invocation l (gl_LocalInvocationIndex) owns the TN consecutive input pixels
 * ix = (gl_WorkGroupID.x * NT + l) * TN + j and produces their k x k output blocks for CO
 * channels. Per input channel it loads TN inputs (lane-dependent) and the CO * k * k weights
 * (the same for all lanes, contiguous in w; loaded once per subgroup, spread over SG lanes and
 * broadcast when the subgroup allows), then does CO * TN * k * k FMAs.
 *
 * Spec constants: 0..2 local size (NT = their product; use (WX, 1, 1)), 3 = CO, 4 = K (the
 *   kernel size of the unrolled path, must equal pc.k; 0 or another value: a generic loop
 *   over the k x k positions), 5 = TN, 6 = SG (0 = no subgroup broadcast).
 * Grid: x = ceil(W / (NT * TN)); (row, channel tile, batch) linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z, iy = t % H,
 *   ct = (t / H) % ceil(Cout / CO), b = t / (H * ceil(Cout / CO)); groups with
 *   t >= H * ceil(Cout / CO) * B exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint CO = 4;
layout(constant_id = 4) const uint K = 2;
layout(constant_id = 5) const uint TN = 2;
layout(constant_id = 6) const uint SG = 8;

layout(set = 0, binding = 0, std430) readonly buffer BufX { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufW { float w[]; };
layout(set = 0, binding = 2, std430) readonly buffer BufBias { float bias[]; };
layout(set = 0, binding = 3, std430) writeonly buffer BufY { float y[]; };

layout(push_constant) uniform PC {
    uint off[5];
    uint Cin, H, W, Cout, k, B;
    uint flags;
} pc;

const uint F_HAS_BIAS = 65536u;
const uint KE = K == 0u ? 1u : K;
const uint KK = KE * KE;
const uint SGE = SG == 0u ? 1u : SG;
const uint NWL = (CO * KK + SGE - 1u) / SGE; /* per-lane weight loads per input channel */

void main()
{
    const uint NT = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
    uint Cin = pc.Cin, H = pc.H, W = pc.W, Cout = pc.Cout, k = pc.k;
    uint ct_n = (Cout + CO - 1u) / CO;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= H * ct_n * pc.B || k == 0u || W == 0u)
        return;
    uint iy = t % H;
    uint t2 = t / H;
    uint ct = t2 % ct_n, b = t2 / ct_n;
    uint co0 = ct * CO;
    uint ix0 = (gl_WorkGroupID.x * NT + gl_LocalInvocationIndex) * TN;
    uint HW = H * W;
    uint xrow = pc.off[0] + b * Cin * HW + iy * W;
    uint kk = k * k;
    uint wstep = Cout * kk; /* weights per input channel */
    uint wb = pc.off[1] + co0 * kk;
    uint nvalid = (min(co0 + CO, Cout) - co0) * kk; /* weight items inside w for this tile */
    bool has_bias = (pc.flags & F_HAS_BIAS) != 0u;
    uint Wo = W * k, HWo = HW * kk;
    uint yb = pc.off[3] + b * Cout * HWo;

    uint xi[TN];
    [[unroll]] for (uint j = 0u; j < TN; j++)
        xi[j] = xrow + min(ix0 + j, W - 1u);

    uint S = gl_SubgroupSize, part = NT % S;
    bool bcast = SG != 0u && S >= SG && (part == 0u || part >= SG);

    if (K != 0u && k == K) {
        /* Unrolled path: accumulators for CO channels x TN pixels x K x K positions. */
        float acc[CO * TN * KK];
        [[unroll]] for (uint e = 0u; e < CO * TN * KK; e++)
            acc[e] = 0.0;
        uint sl = gl_SubgroupInvocationID % SGE;
        uint wl[NWL];
        [[unroll]] for (uint r = 0u; r < NWL; r++)
            wl[r] = wb + min(sl + SGE * r, nvalid - 1u);
        for (uint ci = 0u; ci < Cin; ci++) {
            float xv[TN];
            [[unroll]] for (uint j = 0u; j < TN; j++)
                xv[j] = x[xi[j] + ci * HW];
            float wv[CO * KK]; /* item e = i * KK + ky * K + kx */
            uint wc = ci * wstep;
            if (bcast) {
                float l[NWL];
                [[unroll]] for (uint r = 0u; r < NWL; r++)
                    l[r] = w[wl[r] + wc];
                [[unroll]] for (uint e = 0u; e < CO * KK; e++)
                    wv[e] = subgroupBroadcast(l[e / SGE], e % SGE);
            } else {
                [[unroll]] for (uint e = 0u; e < CO * KK; e++)
                    wv[e] = w[wb + wc + min(e, nvalid - 1u)];
            }
            [[unroll]] for (uint i = 0u; i < CO; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    [[unroll]] for (uint q = 0u; q < KK; q++)
                        acc[(i * TN + j) * KK + q] =
                            fma(xv[j], wv[i * KK + q], acc[(i * TN + j) * KK + q]);
        }
        [[unroll]] for (uint i = 0u; i < CO; i++) {
            uint co = co0 + i;
            float bv = has_bias ? bias[pc.off[2] + min(co, Cout - 1u)] : 0.0;
            [[unroll]] for (uint j = 0u; j < TN; j++) {
                uint ix = ix0 + j;
                if (co < Cout && ix < W) {
                    [[unroll]] for (uint ky = 0u; ky < KE; ky++)
                        [[unroll]] for (uint kx = 0u; kx < KE; kx++)
                            y[yb + co * HWo + (iy * KE + ky) * Wo + ix * KE + kx] =
                                acc[(i * TN + j) * KK + ky * KE + kx] + bv;
                }
            }
        }
    } else {
        /* Generic path: one output position (ky, kx) of the blocks at a time. */
        for (uint q = 0u; q < kk; q++) {
            uint ky = q / k, kx = q - (q / k) * k;
            float acc[CO * TN];
            [[unroll]] for (uint e = 0u; e < CO * TN; e++)
                acc[e] = 0.0;
            for (uint ci = 0u; ci < Cin; ci++) {
                float xv[TN];
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    xv[j] = x[xi[j] + ci * HW];
                [[unroll]] for (uint i = 0u; i < CO; i++) {
                    float wv = w[wb + ci * wstep + min(i * kk + q, nvalid - 1u)];
                    [[unroll]] for (uint j = 0u; j < TN; j++)
                        acc[i * TN + j] = fma(xv[j], wv, acc[i * TN + j]);
                }
            }
            [[unroll]] for (uint i = 0u; i < CO; i++) {
                uint co = co0 + i;
                float bv = has_bias ? bias[pc.off[2] + min(co, Cout - 1u)] : 0.0;
                [[unroll]] for (uint j = 0u; j < TN; j++) {
                    uint ix = ix0 + j;
                    if (co < Cout && ix < W)
                        y[yb + co * HWo + (iy * k + ky) * Wo + ix * k + kx] = acc[i * TN + j] + bv;
                }
            }
        }
    }
}
