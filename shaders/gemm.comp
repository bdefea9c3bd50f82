#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
/* GEMM for CPU Vulkan drivers: register-tiled, no shared memory, no barriers.
 *
 *   c[b](m, n) (+)= gelu?(sum_k A(m, k) B(k, n) + bias)        (ww_gemm_params, ww.h)
 *
 * Lanes run along N (local_size_x; lavapipe vectorises only x). Invocation (lx, ly) of a
 * workgroup owns rows m0 + i (i < TM), m0 = row tile * (TM * local_size_y) + ly * TM, and TN
 * columns: n0 + lx + j * local_size_x, or with BV = 2 groups of 4 adjacent columns
 * n0 + 4 * (lx + (j / 4) * local_size_x) + j % 4.
 *
 * On lavapipe (Mesa 22.3) every buffer load, uniform or not, is a loop over the SIMD lanes, so
 * what matters is FMAs per load instruction. The fast k loop takes 4 k per step: the TM x 4
 * block of A (the same for every lane) is loaded once per subgroup, spread over SG lanes
 * (vec4 rows when AV = 1, else scalars) and broadcast with subgroupBroadcast; the 4 x TN block
 * of B comes with vec4 loads along k (BV = 1) or along n (BV = 2), or scalars (BV = 0); then
 * 4 * TM * TN FMAs. It runs when the subgroup suits (local_size_y == 1, gl_SubgroupSize >= SG,
 * lanes 0..SG-1 active in every subgroup) and the offsets / strides allow the vec4 loads the
 * spec constants ask for (checked at run time). Otherwise, and for the K % 4 tail, a plain
 * scalar loop runs: any spec constants give correct results for any params. Subgroup sizes
 * are never assumed: SG is a spec constant checked against gl_SubgroupSize.
 *
 * Every vec4 load lies inside the matrix (rows / columns are whole multiples of 4 there), so
 * nothing relies on robust buffer access.
 *
 * Spec constants: 0..2 local size (WX, WY, 1), 3 = TM, 4 = TN,
 *   5 = LOADS = AV | BV << 2 | SG << 4:
 *       AV: 1 vec4 A rows along k (needs a_sk == 1), 0 scalar A items;
 *       BV: 0 scalar, 1 vec4 along k (b_sk == 1), 2 vec4 along n (b_sn == 1, N % 4 == 0;
 *           TN % 4 == 0);
 *       SG: lanes sharing the A block (0 = no broadcast: scalar loop only);
 *   6 = EPI: the flags compiled in (WW_HAS_BIAS, WW_GEMM_BIAS_ROW, WW_GEMM_GELU,
 *       WW_GEMM_ACCUMULATE bits); a flag outside EPI is ignored. Each of the TM * TN
 *       epilogue loads / stores is another lane loop for lavapipe to compile, so the planner
 *       passes the node's flags.
 * Grid: x = ceil(N / (WX * TN)); the (row tile, batch) pairs are linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z, row tile = t % mt,
 *   batch = t / mt, mt = ceil(M / (WY * TM)); groups with t >= mt * batch exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint TM = 16;
layout(constant_id = 4) const uint TN = 8;
layout(constant_id = 5) const uint LOADS = 1u | (1u << 2) | (8u << 4); /* AV | BV << 2 | SG << 4 */
layout(constant_id = 6) const uint EPI = 0xffffffffu;
const uint AV = LOADS & 3u;
const uint BV = (LOADS >> 2) & 3u;
const uint SG = (LOADS >> 4) & 255u;

layout(set = 0, binding = 0, std430) readonly buffer BufA { float a[]; };
layout(set = 0, binding = 0, std430) readonly buffer BufA4 { vec4 a4[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufB { float b[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufB4 { vec4 b4[]; };
layout(set = 0, binding = 2, std430) readonly buffer BufBias { float bias[]; };
layout(set = 0, binding = 3, std430) buffer BufC { float c[]; };

layout(push_constant) uniform PC {
    uint off[5];
    uint M, N, K, batch;
    uint a_sm, a_sk, a_sb;
    uint b_sk, b_sn, b_sb;
    uint c_sm, c_sb;
    uint flags;
} pc;

#include "erf.glsl"

const uint F_BIAS_ROW = 4u, F_GELU = 8u, F_ACC = 16u, F_HAS_BIAS = 65536u;

/* Effective modes (no && / || in constant expressions: glslang turns them into phis). */
const uint AV_EFF = AV == 1u ? 1u : 0u;
const uint BV_EFF = BV == 2u ? ((TN & 3u) == 0u ? 2u : 0u) : (BV == 1u ? 1u : 0u);
const uint BC = BV_EFF == 2u ? TN / 4u : TN; /* B vec4 loads per k (mode 2) / per 4 k (mode 1) */
const uint SGE = SG == 0u ? 1u : SG;
const uint NLV = (TM + SGE - 1u) / SGE;      /* per-lane A loads per 4 k, broadcast, vec4 items */
const uint NLS = (4u * TM + SGE - 1u) / SGE; /* the same with scalar items */

/* Per-invocation state, global so that the k loop can be a function specialised (after
 * inlining) by constant load modes: a run-time `if` inside the loop would make lavapipe
 * execute both sides with masks. */
float acc[TM * TN];
uint arow[TM];  /* element index of A(m_i, 0) */
uint bcol[TN];  /* element index of B(0, n_j) */
uint bv4[BC];   /* vec4 index of B's column j (bm = 1) or columns 4r..4r+3 (bm = 2) at k = 0 */
uint alv[NLV];  /* broadcast, am = 1: vec4 index of this lane's A row at k = 0 */
uint als[NLS];  /* broadcast, am = 0: element index of this lane's A item at k = 0 */

/* Runs k from its value while k + 4 <= K. am: 0 scalar A items, 1 vec4 A rows along k; bm:
 * 0 scalar B loads, 1 vec4 along k, 2 vec4 along n. The A block is loaded once per subgroup,
 * spread over SG lanes, and broadcast (lanes 0..SG-1 must be active). */
void kloop4(const uint am, const uint bm, inout uint k)
{
    uint K = pc.K;
    uint a_sk = pc.a_sk, b_sk = pc.b_sk;
    uint b_sk4 = b_sk >> 2;
    uint ka = k * a_sk, kb = k * b_sk;
    uint ka4 = k >> 2;
    uint kb4 = bm == 1u ? k >> 2 : (k >> 2) * b_sk;
    for (; k + 4u <= K; k += 4u) {
        float ab[TM * 4];
        float bb[4 * TN];
        if (am == 1u) {
            vec4 l[NLV];
            [[unroll]] for (uint r = 0u; r < NLV; r++)
                l[r] = a4[alv[r] + ka4];
            [[unroll]] for (uint i = 0u; i < TM; i++) {
                vec4 v = subgroupBroadcast(l[i / SGE], i % SGE);
                ab[i * 4u + 0u] = v.x;
                ab[i * 4u + 1u] = v.y;
                ab[i * 4u + 2u] = v.z;
                ab[i * 4u + 3u] = v.w;
            }
        } else {
            float l[NLS];
            [[unroll]] for (uint r = 0u; r < NLS; r++)
                l[r] = a[als[r] + ka];
            [[unroll]] for (uint v = 0u; v < 4u * TM; v++)
                ab[v] = subgroupBroadcast(l[v / SGE], v % SGE);
        }
        if (bm == 1u) {
            [[unroll]] for (uint j = 0u; j < TN; j++) {
                vec4 v = b4[bv4[j] + kb4];
                bb[0u * TN + j] = v.x;
                bb[1u * TN + j] = v.y;
                bb[2u * TN + j] = v.z;
                bb[3u * TN + j] = v.w;
            }
        } else if (bm == 2u) {
            [[unroll]] for (uint q = 0u; q < 4u; q++)
                [[unroll]] for (uint r = 0u; r < BC; r++) {
                    vec4 v = b4[bv4[r] + kb4 + q * b_sk4];
                    bb[q * TN + 4u * r + 0u] = v.x;
                    bb[q * TN + 4u * r + 1u] = v.y;
                    bb[q * TN + 4u * r + 2u] = v.z;
                    bb[q * TN + 4u * r + 3u] = v.w;
                }
        } else {
            [[unroll]] for (uint q = 0u; q < 4u; q++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    bb[q * TN + j] = b[bcol[j] + kb + q * b_sk];
        }
        [[unroll]] for (uint i = 0u; i < TM; i++)
            [[unroll]] for (uint j = 0u; j < TN; j++)
                [[unroll]] for (uint q = 0u; q < 4u; q++)
                    acc[i * TN + j] = fma(ab[i * 4u + q], bb[q * TN + j], acc[i * TN + j]);
        ka += 4u * a_sk;
        kb += 4u * b_sk;
        ka4 += 1u;
        kb4 += bm == 1u ? 1u : b_sk;
    }
}

void main()
{
    const uint WX = gl_WorkGroupSize.x, WY = gl_WorkGroupSize.y;
    const uint lx = gl_LocalInvocationID.x;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint mt = (M + WY * TM - 1u) / (WY * TM);
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= mt * pc.batch || N == 0u)
        return;
    uint bat = t / mt;
    uint m0 = (t - bat * mt) * (WY * TM) + gl_LocalInvocationID.y * TM;
    uint nb = gl_WorkGroupID.x * (WX * TN);

    uint abat = pc.off[0] + bat * pc.a_sb;
    uint bbat = pc.off[1] + bat * pc.b_sb;

    /* Which paths can run (uniform)? vec4 loads need 16-byte aligned rows / columns. */
    bool avec = AV_EFF == 1u && pc.a_sk == 1u && ((abat | pc.a_sm) & 3u) == 0u;
    bool bvec = false;
    if (BV_EFF == 1u)
        bvec = pc.b_sk == 1u && ((bbat | pc.b_sn) & 3u) == 0u;
    if (BV_EFF == 2u)
        bvec = pc.b_sn == 1u && ((bbat | pc.b_sk) & 3u) == 0u && (N & 3u) == 0u;
    /* Broadcast of A over the subgroup: every subgroup of the workgroup must have lanes
     * 0..SG-1 active and hold only one row of the workgroup (local_size_y == 1). */
    uint S = gl_SubgroupSize, part = WX % S;
    bool bcast = SG != 0u && WY == 1u && S >= SG && (part == 0u || part >= SG);

    /* Columns: with BV = 2 the layout is in groups of 4 even on the scalar path, so which
     * invocation owns which column does not depend on the run-time checks. */
    uint col[TN];
    [[unroll]] for (uint j = 0u; j < TN; j++)
        col[j] = BV_EFF == 2u ? nb + 4u * (lx + (j / 4u) * WX) + (j & 3u) : nb + lx + j * WX;

    /* Rows / columns clamped into the matrix: the k loop needs no bounds checks; only the
     * stores are guarded. */
    [[unroll]] for (uint i = 0u; i < TM; i++)
        arow[i] = abat + min(m0 + i, M - 1u) * pc.a_sm;
    [[unroll]] for (uint j = 0u; j < TN; j++)
        bcol[j] = bbat + min(col[j], N - 1u) * pc.b_sn;
    [[unroll]] for (uint r = 0u; r < BC; r++)
        bv4[r] = BV_EFF == 2u ? (bbat + min(nb + 4u * (lx + r * WX), max(N, 4u) - 4u)) >> 2
                              : bcol[r] >> 2;
    uint sl = gl_SubgroupInvocationID % SGE;
    [[unroll]] for (uint r = 0u; r < NLV; r++)
        alv[r] = (abat + min(m0 + min(sl + SGE * r, TM - 1u), M - 1u) * pc.a_sm) >> 2;
    [[unroll]] for (uint r = 0u; r < NLS; r++) {
        uint v = min(sl + SGE * r, 4u * TM - 1u);
        als[r] = abat + min(m0 + (v >> 2), M - 1u) * pc.a_sm + (v & 3u) * pc.a_sk;
    }
    [[unroll]] for (uint i = 0u; i < TM * TN; i++)
        acc[i] = 0.0;

    /* The fast path needs everything the spec constants promise; otherwise (or for the K % 4
     * tail) the plain scalar loop runs. Only one instance of the big loop exists, which keeps
     * lavapipe's compile time down. */
    uint k = 0u;
    if (bcast && (AV_EFF == 0u || avec) && (BV_EFF == 0u || bvec))
        kloop4(AV_EFF, BV_EFF, k);

    /* Scalar loop: the K % 4 tail of the vec4 paths, or all of K. */
    {
        uint a_sk = pc.a_sk, b_sk = pc.b_sk;
        uint ka = k * a_sk, kb = k * b_sk;
        for (; k < K; k++) {
            float av[TM];
            float bv[TN];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                av[i] = a[arow[i] + ka];
            [[unroll]] for (uint j = 0u; j < TN; j++)
                bv[j] = b[bcol[j] + kb];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]);
            ka += a_sk;
            kb += b_sk;
        }
    }

    /* Epilogue. EPI (spec) masks the flags the shader is compiled for; a flag outside it is
     * ignored, so the planner passes the node's flags. Fewer features, much less code: on
     * lavapipe every one of the TM * TN loads or stores below is a loop over the lanes. */
    uint flags = pc.flags & EPI;
    bool has_bias = (flags & F_HAS_BIAS) != 0u;
    bool bias_row = (flags & F_BIAS_ROW) != 0u;
    float brow[TM], bcolv[TN];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        brow[i] = 0.0;
    [[unroll]] for (uint j = 0u; j < TN; j++)
        bcolv[j] = 0.0;
    if ((EPI & F_HAS_BIAS) != 0u && has_bias) {
        if ((EPI & F_BIAS_ROW) != 0u && bias_row) {
            [[unroll]] for (uint i = 0u; i < TM; i++)
                brow[i] = bias[pc.off[2] + min(m0 + i, M - 1u)];
        } else {
            [[unroll]] for (uint j = 0u; j < TN; j++)
                bcolv[j] = bias[pc.off[2] + min(col[j], N - 1u)];
        }
    }
    uint cbase = pc.off[3] + bat * pc.c_sb;
    [[unroll]] for (uint i = 0u; i < TM; i++) {
        uint m = m0 + i;
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint n = col[j];
            if (m < M && n < N) {
                float v = acc[i * TN + j] + (brow[i] + bcolv[j]);
                if ((EPI & F_GELU) != 0u && (flags & F_GELU) != 0u)
                    v = ww_gelu(v);
                uint ci = cbase + m * pc.c_sm + n;
                if ((EPI & F_ACC) != 0u && (flags & F_ACC) != 0u)
                    v += c[ci];
                c[ci] = v;
            }
        }
    }
}
