#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
/* GEMM for GPUs: classic shared-memory tiling.
 *
 *   c[b](m, n) (+)= gelu?(sum_k A(m, k) B(k, n) + bias)        (ww_gemm_params, ww.h)
 *
 * A workgroup computes a BM x BN tile of C, stepping through K in BK slices staged in shared
 * memory (As[k][m], Bs[k][n], rows padded by one word against bank conflicts). Invocation
 * (lx, ly) owns rows m0 + ly + i * (BM / TM) and columns n0 + lx + j * (BN / TN): neighbouring
 * lanes read neighbouring shared words and write neighbouring words of C. The next slice is
 * fetched from global memory into registers while the current one is being multiplied.
 * Global reads are coalesced along whichever of A's (B's) dimensions has unit stride; any
 * strides are correct.
 *
 * Spec constants: 0..2 local size (WX, WY, 1), 3 = BK, 4 = TM, 5 = TN. The tile is
 *   BM = WY * TM rows by BN = WX * TN columns. Shared memory: 4 * BK * (BM + 1 + BN + 1) bytes.
 * Grid: x = ceil(N / BN); the (row tile, batch) pairs are linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z, row tile = t % mt,
 *   batch = t / mt, mt = ceil(M / BM); groups with t >= mt * batch exit (uniformly, before any
 *   barrier).
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

layout(set = 0, binding = 0, std430) readonly buffer BufA { float a[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufB { float b[]; };
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

const uint BM = gl_WorkGroupSize.y * TM;
const uint BN = gl_WorkGroupSize.x * TN;
const uint ASTR = BM + 1u; /* shared row strides */
const uint BSTR = BN + 1u;
shared float As[BK * ASTR];
shared float Bs[BK * BSTR];

const uint NT = gl_WorkGroupSize.x * gl_WorkGroupSize.y;
const uint LA = (BM * BK + NT - 1u) / NT; /* tile elements each invocation stages */
const uint LB = (BN * BK + NT - 1u) / NT;

void main()
{
    const uint WX = gl_WorkGroupSize.x, WY = gl_WorkGroupSize.y;
    const uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
    const uint tid = ly * WX + lx;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint mt = (M + BM - 1u) / BM;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= mt * pc.batch)
        return; /* uniform over the workgroup */
    uint bat = t / mt;
    uint m0 = (t - bat * mt) * BM;
    uint n0 = gl_WorkGroupID.x * BN;
    uint abat = pc.off[0] + bat * pc.a_sb;
    uint bbat = pc.off[1] + bat * pc.b_sb;
    uint a_sm = pc.a_sm, a_sk = pc.a_sk, b_sk = pc.b_sk, b_sn = pc.b_sn;

    /* Staging layout: element e of a tile -> (k, m) (or (k, n)), with the unit-stride
     * dimension fastest across lanes so that global reads coalesce. */
    bool a_kfast = a_sk == 1u;
    bool b_kfast = b_sk == 1u && b_sn != 1u;
    uint a_mm[LA], a_kk[LA], b_nn[LB], b_kk[LB];
    [[unroll]] for (uint r = 0u; r < LA; r++) {
        uint e = min(tid + r * NT, BM * BK - 1u);
        a_mm[r] = a_kfast ? e / BK : e % BM;
        a_kk[r] = a_kfast ? e % BK : e / BM;
    }
    [[unroll]] for (uint r = 0u; r < LB; r++) {
        uint e = min(tid + r * NT, BN * BK - 1u);
        b_nn[r] = b_kfast ? e / BK : e % BN;
        b_kk[r] = b_kfast ? e % BK : e / BN;
    }

    float ra[LA], rb[LB];
    uint nkt = (K + BK - 1u) / BK;

    /* fetch slice 0 */
    [[unroll]] for (uint r = 0u; r < LA; r++) {
        uint m = m0 + a_mm[r], k = a_kk[r];
        ra[r] = (m < M && k < K) ? a[abat + m * a_sm + k * a_sk] : 0.0;
    }
    [[unroll]] for (uint r = 0u; r < LB; r++) {
        uint n = n0 + b_nn[r], k = b_kk[r];
        rb[r] = (n < N && k < K) ? b[bbat + k * b_sk + n * b_sn] : 0.0;
    }

    float acc[TM * TN];
    [[unroll]] for (uint i = 0u; i < TM * TN; i++)
        acc[i] = 0.0;

    for (uint kt = 0u; kt < nkt; kt++) {
        barrier(); /* everyone is done reading the previous slice */
        [[unroll]] for (uint r = 0u; r < LA; r++)
            if (tid + r * NT < BM * BK)
                As[a_kk[r] * ASTR + a_mm[r]] = ra[r];
        [[unroll]] for (uint r = 0u; r < LB; r++)
            if (tid + r * NT < BN * BK)
                Bs[b_kk[r] * BSTR + b_nn[r]] = rb[r];
        barrier();

        /* fetch the next slice while this one is multiplied */
        if (kt + 1u < nkt) {
            uint k0 = (kt + 1u) * BK;
            [[unroll]] for (uint r = 0u; r < LA; r++) {
                uint m = m0 + a_mm[r], k = k0 + a_kk[r];
                ra[r] = (m < M && k < K) ? a[abat + m * a_sm + k * a_sk] : 0.0;
            }
            [[unroll]] for (uint r = 0u; r < LB; r++) {
                uint n = n0 + b_nn[r], k = k0 + b_kk[r];
                rb[r] = (n < N && k < K) ? b[bbat + k * b_sk + n * b_sn] : 0.0;
            }
        }

        [[unroll]] for (uint kk = 0u; kk < BK; kk++) {
            float af[TM], bf[TN];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                af[i] = As[kk * ASTR + ly + i * WY];
            [[unroll]] for (uint j = 0u; j < TN; j++)
                bf[j] = Bs[kk * BSTR + lx + j * WX];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    acc[i * TN + j] = fma(af[i], bf[j], acc[i * TN + j]);
        }
    }

    uint flags = pc.flags;
    bool has_bias = (flags & F_HAS_BIAS) != 0u;
    bool bias_row = (flags & F_BIAS_ROW) != 0u;
    uint cbase = pc.off[3] + bat * pc.c_sb;
    [[unroll]] for (uint i = 0u; i < TM; i++) {
        uint m = m0 + ly + i * WY;
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint n = n0 + lx + j * WX;
            if (m < M && n < N) {
                float v = acc[i * TN + j];
                if (has_bias)
                    v += bias[pc.off[2] + (bias_row ? m : n)];
                if ((flags & F_GELU) != 0u)
                    v = ww_gelu(v);
                uint ci = cbase + m * pc.c_sm + n;
                if ((flags & F_ACC) != 0u)
                    v += c[ci];
                c[ci] = v;
            }
        }
    }
}
