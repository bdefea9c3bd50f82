#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
/* Conv2d, direct (implicit GEMM with registers as the tiles): x [B, Cin, H, W],
 * w [Cout, Cin, k, k], bias [Cout], y [B, Cout, Ho, Wo], all contiguous (ww_conv2d_params).
 *   y (+)= relu_out?(bias + sum_{ci,ky,kx} w[co, ci, ky, kx] * relu_in?(x[ci, iy, ix]))
 * with iy = oy * stride - pad + ky, ix = ox * stride - pad + kx, zero outside the image.
 *
 * A workgroup of NT invocations computes one output row oy of TM output channels for NT * TN
 * output pixels; invocation l (gl_LocalInvocationIndex) owns TM channels x TN consecutive
 * pixels ox = (gl_WorkGroupID.x * NT + l) * TN + j. Lanes run along x (lavapipe vectorises only
 * x; use (WX, 1, 1)): the weights are the same for all lanes, the input differs per lane.
 *
 * Fast path (k == KS and stride == ST, spec constants): for each (ci, ky) an invocation loads
 * the (TN - 1) * ST + KS input values its TN pixels need once (neighbouring pixels share them)
 * and the TM x KS weights, then does TM * TN * KS FMAs. Weights are loaded once per subgroup,
 * spread over SG lanes, and broadcast (SG from OPT; 0 or an unsuitable subgroup: every lane
 * loads them). Generic path (any k and stride, e.g. KS = 0): one (ci, ky, kx) at a time.
 *
 * Spec constants: 0..2 local size (NT = their product), 3 = TM, 4 = TN, 5 = KS, 6 = ST,
 *   7 = OPT = SG | (EPI << 8), EPI a mask of the features compiled in: bit 0 WW_CONV_RELU_IN,
 *   1 WW_CONV_RELU_OUT, 2 WW_CONV_ACCUMULATE, 3 bias (WW_HAS_BIAS); a flag outside the mask
 *   is ignored.
 * Grid: x = ceil(Wo / (NT * TN)); (row, channel tile, batch) linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z,
 *   oy = t % Ho, ct = (t / Ho) % ceil(Cout / TM), b = t / (Ho * ceil(Cout / TM)); groups with
 *   t >= Ho * ceil(Cout / TM) * B exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint TM = 8;
layout(constant_id = 4) const uint TN = 4;
layout(constant_id = 5) const uint KS = 3;
layout(constant_id = 6) const uint ST = 1;
layout(constant_id = 7) const uint OPT = 8u | (15u << 8);

layout(set = 0, binding = 0, std430) readonly buffer BufX { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufW { float w[]; };
layout(set = 0, binding = 2, std430) readonly buffer BufBias { float bias[]; };
layout(set = 0, binding = 3, std430) buffer BufY { float y[]; };

layout(push_constant) uniform PC {
    uint off[5];
    uint Cin, H, W, Cout, Ho, Wo, k, stride, pad, B;
    uint flags;
} pc;

const uint F_RELU_IN = 1u, F_RELU_OUT = 2u, F_ACC = 4u, F_HAS_BIAS = 65536u;
const uint SG = OPT & 255u;
const uint EPI = OPT >> 8;
const uint SGE = SG == 0u ? 1u : SG;
const uint KSE = KS == 0u ? 1u : KS;
const uint NWIN = (TN - 1u) * ST + KSE;       /* input values per (ci, ky), fast path */
const uint NWF = (TM * KSE + SGE - 1u) / SGE; /* per-lane weight loads per (ci, ky), fast */
const uint NWG = (TM + SGE - 1u) / SGE;       /* per-lane weight loads per tap, generic */

float acc[TM * TN];
uint wrow[TM];  /* element index of w[co0 + i, 0, 0, 0] (channel clamped) */
uint wfast[NWF]; /* broadcast, fast path: this lane's weight item at (ci, ky) = (0, 0) */
uint wgen[NWG];  /* broadcast, generic path: this lane's weight item at tap 0 */
uint xb;        /* element index of x[b, 0, 0, 0] */
uint oy, ox0;   /* output row, first output column of this invocation */
bool relu_in;

/* k == KS, stride == ST. bc: weights broadcast over the subgroup. */
void conv_fast(const bool bc)
{
    uint Cin = pc.Cin, H = pc.H, W = pc.W, HW = pc.H * pc.W;
    uint ix0 = ox0 * ST - pc.pad; /* may wrap below zero: then >= W as unsigned */
    uint iy0 = oy * ST - pc.pad;
    for (uint ci = 0u; ci < Cin; ci++) {
        for (uint ky = 0u; ky < KSE; ky++) {
            uint iy = iy0 + ky;
            bool rowok = iy < H;
            uint xr = xb + ci * HW + min(iy, H - 1u) * W;
            float xin[NWIN];
            [[unroll]] for (uint q = 0u; q < NWIN; q++) {
                uint ix = ix0 + q;
                float v = x[xr + min(ix, W - 1u)];
                v = (rowok && ix < W) ? v : 0.0;
                xin[q] = relu_in ? max(v, 0.0) : v;
            }
            uint tap = (ci * KSE + ky) * KSE; /* weight offset of (ci, ky, 0) in a row */
            float wv[TM * KSE];
            if (bc) {
                float l[NWF];
                [[unroll]] for (uint r = 0u; r < NWF; r++)
                    l[r] = w[wfast[r] + tap];
                [[unroll]] for (uint e = 0u; e < TM * KSE; e++)
                    wv[e] = subgroupBroadcast(l[e / SGE], e % SGE);
            } else {
                [[unroll]] for (uint i = 0u; i < TM; i++)
                    [[unroll]] for (uint kx = 0u; kx < KSE; kx++)
                        wv[i * KSE + kx] = w[wrow[i] + tap + kx];
            }
            [[unroll]] for (uint kx = 0u; kx < KSE; kx++)
                [[unroll]] for (uint i = 0u; i < TM; i++)
                    [[unroll]] for (uint j = 0u; j < TN; j++)
                        acc[i * TN + j] =
                            fma(wv[i * KSE + kx], xin[j * ST + kx], acc[i * TN + j]);
        }
    }
}

/* Any k and stride: one tap (ci, ky, kx) at a time. */
void conv_generic(const bool bc)
{
    uint Cin = pc.Cin, H = pc.H, W = pc.W, HW = pc.H * pc.W, k = pc.k, s = pc.stride;
    uint ix0 = ox0 * s - pc.pad;
    uint iy0 = oy * s - pc.pad;
    uint tap = 0u;
    for (uint ci = 0u; ci < Cin; ci++) {
        for (uint ky = 0u; ky < k; ky++) {
            uint iy = iy0 + ky;
            bool rowok = iy < H;
            uint xr = xb + ci * HW + min(iy, H - 1u) * W;
            for (uint kx = 0u; kx < k; kx++, tap++) {
                float xin[TN];
                [[unroll]] for (uint j = 0u; j < TN; j++) {
                    uint ix = ix0 + j * s + kx;
                    float v = x[xr + min(ix, W - 1u)];
                    v = (rowok && ix < W) ? v : 0.0;
                    xin[j] = relu_in ? max(v, 0.0) : v;
                }
                float wv[TM];
                if (bc) {
                    float l[NWG];
                    [[unroll]] for (uint r = 0u; r < NWG; r++)
                        l[r] = w[wgen[r] + tap];
                    [[unroll]] for (uint i = 0u; i < TM; i++)
                        wv[i] = subgroupBroadcast(l[i / SGE], i % SGE);
                } else {
                    [[unroll]] for (uint i = 0u; i < TM; i++)
                        wv[i] = w[wrow[i] + tap];
                }
                [[unroll]] for (uint i = 0u; i < TM; i++)
                    [[unroll]] for (uint j = 0u; j < TN; j++)
                        acc[i * TN + j] = fma(wv[i], xin[j], acc[i * TN + j]);
            }
        }
    }
}

void main()
{
    const uint NT = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
    uint Cout = pc.Cout, Ho = pc.Ho, Wo = pc.Wo;
    uint ct_n = (Cout + TM - 1u) / TM;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= Ho * ct_n * pc.B || Wo == 0u || pc.H == 0u || pc.W == 0u)
        return;
    oy = t % Ho;
    uint t2 = t / Ho;
    uint ct = t2 % ct_n, b = t2 / ct_n;
    uint co0 = ct * TM;
    ox0 = (gl_WorkGroupID.x * NT + gl_LocalInvocationIndex) * TN;
    xb = pc.off[0] + b * pc.Cin * pc.H * pc.W;
    uint flags = pc.flags;
    relu_in = (EPI & 1u) != 0u && (flags & F_RELU_IN) != 0u;

    uint kk = pc.k * pc.k, wco = pc.Cin * kk; /* weights per output channel */
    [[unroll]] for (uint i = 0u; i < TM; i++)
        wrow[i] = pc.off[1] + min(co0 + i, Cout - 1u) * wco;
    uint sl = gl_SubgroupInvocationID % SGE;
    [[unroll]] for (uint r = 0u; r < NWF; r++) {
        uint e = min(sl + SGE * r, TM * KSE - 1u); /* item (i, kx) */
        wfast[r] = pc.off[1] + min(co0 + e / KSE, Cout - 1u) * wco + e % KSE;
    }
    [[unroll]] for (uint r = 0u; r < NWG; r++) {
        uint i = min(sl + SGE * r, TM - 1u);
        wgen[r] = pc.off[1] + min(co0 + i, Cout - 1u) * wco;
    }
    [[unroll]] for (uint e = 0u; e < TM * TN; e++)
        acc[e] = 0.0;

    /* Broadcast needs lanes 0..SG-1 active in every subgroup of the workgroup. */
    uint S = gl_SubgroupSize, part = NT % S;
    bool bcast = SG != 0u && S >= SG && (part == 0u || part >= SG);
    bool fast = KS != 0u && pc.k == KS && pc.stride == ST;
    if (fast && bcast)
        conv_fast(true);
    else if (fast)
        conv_fast(false);
    else if (bcast)
        conv_generic(true);
    else
        conv_generic(false);

    bool has_bias = (EPI & 8u) != 0u && (flags & F_HAS_BIAS) != 0u;
    bool relu_out = (EPI & 2u) != 0u && (flags & F_RELU_OUT) != 0u;
    bool accum = (EPI & 4u) != 0u && (flags & F_ACC) != 0u;
    uint HWo = Ho * Wo;
    uint yb = pc.off[3] + (b * Cout + co0) * HWo + oy * Wo;
    [[unroll]] for (uint i = 0u; i < TM; i++) {
        float bv = has_bias ? bias[pc.off[2] + min(co0 + i, Cout - 1u)] : 0.0;
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint ox = ox0 + j;
            if (co0 + i < Cout && ox < Wo) {
                float v = acc[i * TN + j] + bv;
                if (relu_out)
                    v = max(v, 0.0);
                uint yi = yb + i * HWo + ox;
                if (accum)
                    v += y[yi];
                y[yi] = v;
            }
        }
    }
}
