#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
/* Conv2d backward to the input (ww_conv2d_backward_input): dy [B, Cout, Ho, Wo],
 * w [Cout, Cin, k, k], dx [B, Cin, H, W], all contiguous (ww_conv2d_params, the forward's
 * geometry):
 *   dx[b, ci, iy, ix] += sum over (co, ky, kx) of w[co, ci, ky, kx] * dy[b, co, oy, ox]
 * over the (oy, ox) with oy * stride - pad + ky = iy, ox * stride - pad + kx = ix inside dy.
 * A gather: each dx element is summed by one invocation, in a fixed order.
 *
 * A workgroup of NT invocations (lanes along x) handles one input row iy of TM input channels
 * for NT * TN input pixels; invocation l owns TM channels x TN consecutive pixels
 * ix = (gl_WorkGroupID.x * NT + l) * TN + j.
 *
 * Unrolled path (k == KS, stride == ST, pad == PD, all spec constants, KS != 0): the TN pixels
 * of an invocation start at a multiple of ST (TN is one), so which kernel columns reach pixel j
 * and from which dy column is known when the shader is specialised: kx reaches j when
 * (j + PD - kx) is a multiple of ST, from column ix0 / ST + (j + PD - kx) / ST. Per (co, kernel
 * row) an invocation loads the window of dy columns its pixels need once, and the TM x KS
 * weights, then does the FMAs of the valid (j, kx) pairs (all of them at stride 1). The kernel
 * rows of the workgroup's row iy are ky = (iy + PD) mod ST, + ST, ... (oy = (iy + PD - ky) / ST).
 * The weights are the same for all lanes: loaded once per subgroup, spread over SG lanes, and
 * broadcast (SG = 0 or an unsuitable subgroup: every lane loads them).
 * Generic path (KS = 0, any k, stride and pad): per pixel, the kernel columns
 * kx = (ix + pad) mod stride, + stride, ... (ox = (ix + pad - kx) / stride), rows alike.
 *
 * Spec constants: 0..2 local size (NT = their product; use (WX, 1, 1)), 3 = TM, 4 = TN,
 *   5 = KS | ST << 8 | PD << 16 (KS = 0: generic path only; else the node's k, stride and pad,
 *   TN a multiple of ST), 6 = SG (lanes sharing the weight loads, 0 = no broadcast).
 * Grid: x = ceil(W / (NT * TN)); (row, channel tile, batch) linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z, iy = t % H,
 *   ct = (t / H) % ceil(Cin / TM), b = t / (H * ceil(Cin / TM)); groups with
 *   t >= H * ceil(Cin / TM) * B exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint TM = 8;
layout(constant_id = 4) const uint TN = 4;
layout(constant_id = 5) const uint KSP = 3u | (1u << 8) | (1u << 16);
layout(constant_id = 6) const uint SG = 8;

layout(set = 0, binding = 0, std430) readonly buffer BufDy { float dy[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufW { float w[]; };
layout(set = 0, binding = 2, std430) buffer BufDx { float dx[]; };

layout(push_constant) uniform PC {
    uint off[5];
    uint Cin, H, W, Cout, Ho, Wo, k, stride, pad, B;
    uint flags;
} pc;

const uint KS = KSP & 255u;
const uint ST = ((KSP >> 8) & 255u) == 0u ? 1u : (KSP >> 8) & 255u;
const uint PD = (KSP >> 16) & 255u;
const uint KSE = KS == 0u ? 1u : KS;
/* Column offsets (j + PD - kx) / ST, kept non-negative through OB = KSE * ST: dy column of
 * (j, kx) = ix0 / ST + (j + PD - kx + OB) / ST - KSE. The window spans OMIN .. OMAX. */
const uint OB = KSE * ST;
const uint OMIN = (PD + 1u + OB - KSE) / ST; /* j = 0, kx = KS - 1 */
const uint OMAX = (TN - 1u + PD + OB) / ST; /* j = TN - 1, kx = 0 */
const uint NWIN = OMAX - OMIN + 1u;         /* dy values per (co, kernel row) */
const uint SGE = SG == 0u ? 1u : SG;
const uint NWL = (TM * KSE + SGE - 1u) / SGE; /* per-lane weight loads per (co, kernel row) */

float acc[TM * TN];
uint wci[TM]; /* element index of w[0, ci0 + i, 0, 0] (channel clamped) */
uint wl[NWL]; /* broadcast: this lane's weight item (i, kx) at (co, ky) = (0, 0) */
uint dyb;     /* element index of dy[b, 0, 0, 0] */
uint iy, ix0;

/* bc: weights broadcast over the subgroup */
void unrolled(const bool bc)
{
    uint Cout = pc.Cout, Ho = pc.Ho, Wo = pc.Wo, HWo = Ho * Wo;
    uint wco = pc.Cin * KSE * KSE; /* weights per output channel */
    uint ox0 = ix0 / ST + OMIN - KSE; /* column of g[0]; may wrap below zero: then >= Wo */
    uint ny = iy + PD;
    uint ky0 = ny % ST;
    for (uint co = 0u; co < Cout; co++) {
        for (uint ky = ky0; ky < KSE && ky <= ny; ky += ST) {
            uint oy = (ny - ky) / ST;
            if (oy >= Ho)
                continue;
            uint dr = dyb + co * HWo + oy * Wo;
            float g[NWIN];
            [[unroll]] for (uint q = 0u; q < NWIN; q++) {
                uint ox = ox0 + q;
                float v = dy[dr + min(ox, Wo - 1u)];
                g[q] = ox < Wo ? v : 0.0;
            }
            uint wr = co * wco + ky * KSE;
            float wv[TM * KSE]; /* item e = i * KS + kx */
            if (bc) {
                float l[NWL];
                [[unroll]] for (uint r = 0u; r < NWL; r++)
                    l[r] = w[wl[r] + wr];
                [[unroll]] for (uint e = 0u; e < TM * KSE; e++)
                    wv[e] = subgroupBroadcast(l[e / SGE], e % SGE);
            } else {
                [[unroll]] for (uint e = 0u; e < TM * KSE; e++)
                    wv[e] = w[wci[e / KSE] + wr + e % KSE];
            }
            [[unroll]] for (uint kx = 0u; kx < KSE; kx++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    if ((j + PD + OB - kx) % ST == 0u)
                        [[unroll]] for (uint i = 0u; i < TM; i++)
                            acc[i * TN + j] = fma(wv[i * KSE + kx],
                                                  g[(j + PD + OB - kx) / ST - OMIN],
                                                  acc[i * TN + j]);
        }
    }
}

void generic()
{
    uint Cout = pc.Cout, Ho = pc.Ho, Wo = pc.Wo, HWo = Ho * Wo, k = pc.k, s = pc.stride;
    uint kk = k * k, wco = pc.Cin * kk;
    /* rows: ky = ry, ry + s, ... with oy = qy, qy - 1, ... (while oy >= 0) */
    uint ny = iy + pc.pad;
    uint ry = ny % s, qy = ny / s;
    /* columns per pixel */
    uint rx[TN], qx[TN];
    [[unroll]] for (uint j = 0u; j < TN; j++) {
        uint nx = ix0 + j + pc.pad;
        rx[j] = nx % s;
        qx[j] = nx / s;
    }
    for (uint co = 0u; co < Cout; co++) {
        uint dc = dyb + co * HWo;
        uint wc = co * wco;
        for (uint ky = ry, m = 0u; ky < k && m <= qy; ky += s, m++) {
            uint oy = qy - m;
            if (oy >= Ho)
                continue;
            uint dr = dc + oy * Wo;
            uint wr = wc + ky * k;
            [[unroll]] for (uint j = 0u; j < TN; j++) {
                for (uint kx = rx[j], mx = 0u; kx < k && mx <= qx[j]; kx += s, mx++) {
                    uint ox = qx[j] - mx;
                    if (ox >= Wo)
                        continue;
                    float g = dy[dr + ox];
                    [[unroll]] for (uint i = 0u; i < TM; i++)
                        acc[i * TN + j] = fma(w[wci[i] + wr + kx], g, acc[i * TN + j]);
                }
            }
        }
    }
}

void main()
{
    const uint NT = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
    uint Cin = pc.Cin, H = pc.H, W = pc.W;
    uint ct_n = (Cin + TM - 1u) / TM;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= H * ct_n * pc.B || W == 0u || pc.Ho == 0u || pc.Wo == 0u || pc.k == 0u ||
        pc.stride == 0u)
        return;
    iy = t % H;
    uint t2 = t / H;
    uint ct = t2 % ct_n, b = t2 / ct_n;
    uint ci0 = ct * TM;
    /* lanes past the row's end run along (clamped loads, no stores): the broadcast needs them */
    ix0 = (gl_WorkGroupID.x * NT + gl_LocalInvocationIndex) * TN;
    dyb = pc.off[0] + b * pc.Cout * pc.Ho * pc.Wo;
    uint kk = pc.k * pc.k;
    [[unroll]] for (uint i = 0u; i < TM; i++)
        wci[i] = pc.off[1] + min(ci0 + i, Cin - 1u) * kk;
    uint sl = gl_SubgroupInvocationID % SGE;
    [[unroll]] for (uint r = 0u; r < NWL; r++) {
        uint e = min(sl + SGE * r, TM * KSE - 1u); /* item (i, kx): w[., ci0 + i, ., kx] */
        wl[r] = wci[e / KSE] + e % KSE;
    }
    [[unroll]] for (uint e = 0u; e < TM * TN; e++)
        acc[e] = 0.0;

    /* Broadcast needs lanes 0..SG-1 active in every subgroup of the workgroup. */
    uint S = gl_SubgroupSize, part = NT % S;
    bool bcast = SG != 0u && S >= SG && (part == 0u || part >= SG);
    /* KS is a spec constant: one path is compiled (both in one shader slow down lavapipe) */
    if (KS != 0u) {
        if (bcast)
            unrolled(true);
        else
            unrolled(false);
    } else {
        generic();
    }

    uint HW = H * W;
    uint xb = pc.off[2] + (b * Cin + ci0) * HW + iy * W;
    [[unroll]] for (uint i = 0u; i < TM; i++) {
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint ix = ix0 + j;
            if (ci0 + i < Cin && ix < W) {
                uint xi = xb + i * HW + ix;
                dx[xi] = dx[xi] + acc[i * TN + j];
            }
        }
    }
}
