#version 450
#extension GL_EXT_control_flow_attributes : require
/* Attention backward, key side (WW_OP_ATTENTION_BWD_DKDV; ww_attention_bwd_params, ww.h):
 *   dv_j += sum_i P_ij do_i,   dk_j += scale * sum_i dS_ij q_i,
 * P_ij = exp(q_i k_j * scale - lse_i), dS_ij = P_ij (do_i v_j - D_i), D from the dq pass.
 *
 * Each invocation owns KR key rows of one (key batch, head), keeps k, v and both accumulators
 * in registers and walks every query row of every query batch that uses these keys (all B of
 * them when k and v broadcast one batch) once, in order: deterministic, no atomics, no Nq x Nk
 * matrix. Scores in the log2 domain (k pre-scaled by scale * log2(e)), fp32 throughout.
 *
 * No barriers, no shared memory, no subgroup operations: lanes (local_size_x) are key rows, so
 * every lane reads the same Q / dO rows (and lse, D), which the caches share. The query loop
 * reads Q and dO as vec4 in blocks of QB queries when their offsets and strides are multiples
 * of 4 (checked at run time), else as scalars one query at a time. Lane-dependent loads and
 * stores go through head-dim loops that are not unrolled and rotate the register arrays (see
 * attention.comp: lavapipe compile time).
 *
 * Bindings: q, k, v, do, lse, D, dk (read and written), dv (read and written).
 * Spec constants: 0..2 local size (WX, 1, 1), 3 = DH (head dim, multiple of 4, must equal
 *   pc.Dh; groups exit if not), 4 = QB (queries per block), 5 = KR (key rows per invocation;
 *   invocation lx owns rows x0 + lx + r * WX, x0 = gl_WorkGroupID.x * WX * KR).
 * Grid: x = ceil(Nk / (WX * KR)); t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z,
 *   h = t % H, key batch bk = t / H; groups with t >= H * Bkv exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint DH = 64;
layout(constant_id = 4) const uint QB = 2;
layout(constant_id = 5) const uint KR = 1;

layout(set = 0, binding = 0, std430) readonly buffer BufQ { float q[]; };
layout(set = 0, binding = 0, std430) readonly buffer BufQ4 { vec4 q4[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufK { float k[]; };
layout(set = 0, binding = 2, std430) readonly buffer BufV { float v[]; };
layout(set = 0, binding = 3, std430) readonly buffer BufDO { float dout[]; };
layout(set = 0, binding = 3, std430) readonly buffer BufDO4 { vec4 dout4[]; };
layout(set = 0, binding = 4, std430) readonly buffer BufL { float lse[]; };
layout(set = 0, binding = 5, std430) readonly buffer BufD { float Dbuf[]; };
layout(set = 0, binding = 6, std430) buffer BufDK { float dk[]; };
layout(set = 0, binding = 7, std430) buffer BufDV { float dv[]; };

layout(push_constant) uniform PC {
    uint off[8];
    uint Dh, H, Nq, Nk, B, Bkv;
    uint q_st, q_sh, q_sb;
    uint k_st, k_sh, k_sb;
    uint v_st, v_sh, v_sb;
    uint o_st, o_sh, o_sb;
    uint do_st, do_sh, do_sb;
    float scale;
} pc;

const uint D4 = DH / 4u;
const float LOG2E = 1.4426950408889634;

/* Per-invocation state, global so that the loops below can live in functions without passing
 * spec-constant-sized arrays (glslang emits invalid SPIR-V for those). */
vec4 kr[KR * D4]; /* k * scale * log2(e) */
vec4 vr[KR * D4]; /* v */
vec4 ak[KR * D4]; /* sum_i dS_ij q_i */
vec4 av[KR * D4]; /* sum_i P_ij do_i */
float s[KR * QB];  /* scores of the current block (log2 domain), then P */
float dp[KR * QB]; /* do_i v_j, then dS */
uint qbase, dobase, rbase; /* element index of q / do row 0 and of lse / D of this (b, h) */

/* P and dS of the block of queries i0 .. i0 + nb - 1 (queries >= Nq give 0). */
void p_block(uint i0, const uint nb)
{
    uint Nq = pc.Nq;
    [[unroll]] for (uint ii = 0u; ii < nb; ii++) {
        uint i = min(i0 + ii, Nq - 1u);
        float l2 = lse[pc.off[4] + rbase + i] * LOG2E;
        float Dd = Dbuf[pc.off[5] + rbase + i];
        bool live = i0 + ii < Nq;
        [[unroll]] for (uint r = 0u; r < KR; r++) {
            float p = live ? exp2(s[r * QB + ii] - l2) : 0.0;
            s[r * QB + ii] = p;
            dp[r * QB + ii] = p * (dp[r * QB + ii] - Dd);
        }
    }
}

/* Q and dO rows 16-byte aligned: blocks of QB queries, vec4 loads. */
void query_loop_vec()
{
    uint Nq = pc.Nq, q_st4 = pc.q_st >> 2, do_st4 = pc.do_st >> 2;
    uint qb4 = qbase >> 2, db4 = dobase >> 2;
    for (uint i0 = 0u; i0 < Nq; i0 += QB) {
        uint qi[QB], di[QB];
        [[unroll]] for (uint ii = 0u; ii < QB; ii++) {
            uint i = min(i0 + ii, Nq - 1u);
            qi[ii] = qb4 + i * q_st4;
            di[ii] = db4 + i * do_st4;
        }
        [[unroll]] for (uint x = 0u; x < KR * QB; x++) {
            s[x] = 0.0;
            dp[x] = 0.0;
        }
        [[unroll]] for (uint d = 0u; d < D4; d++)
            [[unroll]] for (uint ii = 0u; ii < QB; ii++) {
                vec4 qv = q4[qi[ii] + d], dv4 = dout4[di[ii] + d];
                [[unroll]] for (uint r = 0u; r < KR; r++) {
                    s[r * QB + ii] += dot(kr[r * D4 + d], qv);
                    dp[r * QB + ii] += dot(vr[r * D4 + d], dv4);
                }
            }
        p_block(i0, QB);
        [[unroll]] for (uint d = 0u; d < D4; d++)
            [[unroll]] for (uint ii = 0u; ii < QB; ii++) {
                vec4 qv = q4[qi[ii] + d], dv4 = dout4[di[ii] + d];
                [[unroll]] for (uint r = 0u; r < KR; r++) {
                    av[r * D4 + d] = fma(vec4(s[r * QB + ii]), dv4, av[r * D4 + d]);
                    ak[r * D4 + d] = fma(vec4(dp[r * QB + ii]), qv, ak[r * D4 + d]);
                }
            }
    }
}

/* Any offsets and strides: one query at a time, scalar loads. */
void query_loop_scalar()
{
    uint Nq = pc.Nq, q_st = pc.q_st, do_st = pc.do_st;
    for (uint i = 0u; i < Nq; i++) {
        uint qe = qbase + i * q_st, de = dobase + i * do_st;
        [[unroll]] for (uint r = 0u; r < KR; r++) {
            s[r * QB] = 0.0;
            dp[r * QB] = 0.0;
        }
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            uint e = qe + 4u * d, f = de + 4u * d;
            vec4 qv = vec4(q[e], q[e + 1u], q[e + 2u], q[e + 3u]);
            vec4 dv4 = vec4(dout[f], dout[f + 1u], dout[f + 2u], dout[f + 3u]);
            [[unroll]] for (uint r = 0u; r < KR; r++) {
                s[r * QB] += dot(kr[r * D4 + d], qv);
                dp[r * QB] += dot(vr[r * D4 + d], dv4);
            }
        }
        p_block(i, 1u);
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            uint e = qe + 4u * d, f = de + 4u * d;
            vec4 qv = vec4(q[e], q[e + 1u], q[e + 2u], q[e + 3u]);
            vec4 dv4 = vec4(dout[f], dout[f + 1u], dout[f + 2u], dout[f + 3u]);
            [[unroll]] for (uint r = 0u; r < KR; r++) {
                av[r * D4 + d] = fma(vec4(s[r * QB]), dv4, av[r * D4 + d]);
                ak[r * D4 + d] = fma(vec4(dp[r * QB]), qv, ak[r * D4 + d]);
            }
        }
    }
}

void main()
{
    const uint WX = gl_WorkGroupSize.x;
    uint H = pc.H, Nk = pc.Nk;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= H * pc.Bkv || pc.Dh != DH || Nk == 0u || pc.Nq == 0u)
        return;
    uint bk = t / H, h = t - bk * H;
    uint x0 = gl_WorkGroupID.x * (WX * KR) + gl_LocalInvocationID.x;

    /* Load k and v (rows clamped into range; only the stores are guarded), rotating: chunk d
     * goes in at the end of the row's segment while the segment rotates left. */
    float ks = pc.scale * LOG2E;
    uint ke[KR], ve[KR];
    [[unroll]] for (uint r = 0u; r < KR; r++) {
        uint row = min(x0 + r * WX, Nk - 1u);
        ke[r] = bk * pc.k_sb + h * pc.k_sh + row * pc.k_st;
        ve[r] = bk * pc.v_sb + h * pc.v_sh + row * pc.v_st;
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            kr[r * D4 + d] = vec4(0.0);
            vr[r * D4 + d] = vec4(0.0);
            ak[r * D4 + d] = vec4(0.0);
            av[r * D4 + d] = vec4(0.0);
        }
    }
    [[dont_unroll]] for (uint d = 0u; d < D4; d++) {
        [[unroll]] for (uint r = 0u; r < KR; r++) {
            uint e = pc.off[1] + ke[r] + 4u * d, f = pc.off[2] + ve[r] + 4u * d;
            vec4 x = vec4(k[e], k[e + 1u], k[e + 2u], k[e + 3u]) * ks;
            vec4 y = vec4(v[f], v[f + 1u], v[f + 2u], v[f + 3u]);
            [[unroll]] for (uint i = 0u; i + 1u < D4; i++) {
                kr[r * D4 + i] = kr[r * D4 + i + 1u];
                vr[r * D4 + i] = vr[r * D4 + i + 1u];
            }
            kr[r * D4 + D4 - 1u] = x;
            vr[r * D4 + D4 - 1u] = y;
        }
    }

    /* Every query batch that uses key batch bk, in order. */
    uint b0 = pc.Bkv == 1u ? 0u : bk, b1 = pc.Bkv == 1u ? pc.B : bk + 1u;
    for (uint b = b0; b < b1; b++) {
        qbase = pc.off[0] + b * pc.q_sb + h * pc.q_sh;
        dobase = pc.off[3] + b * pc.do_sb + h * pc.do_sh;
        rbase = (b * H + h) * pc.Nq;
        if (((qbase | pc.q_st | dobase | pc.do_st) & 3u) == 0u)
            query_loop_vec();
        else
            query_loop_scalar();
    }

    /* dk += scale * ak, dv += av, rotating like the loads. */
    bool ok[KR];
    [[unroll]] for (uint r = 0u; r < KR; r++)
        ok[r] = x0 + r * WX < Nk;
    float sc = pc.scale;
    [[dont_unroll]] for (uint d = 0u; d < D4; d++) {
        [[unroll]] for (uint r = 0u; r < KR; r++) {
            vec4 x = ak[r * D4] * sc, y = av[r * D4];
            if (ok[r]) {
                uint e = pc.off[6] + ke[r] + 4u * d, f = pc.off[7] + ve[r] + 4u * d;
                dk[e] += x.x;
                dk[e + 1u] += x.y;
                dk[e + 2u] += x.z;
                dk[e + 3u] += x.w;
                dv[f] += y.x;
                dv[f + 1u] += y.y;
                dv[f + 2u] += y.z;
                dv[f + 3u] += y.w;
            }
            [[unroll]] for (uint i = 0u; i + 1u < D4; i++) {
                ak[r * D4 + i] = ak[r * D4 + i + 1u];
                av[r * D4 + i] = av[r * D4 + i + 1u];
            }
        }
    }
}
