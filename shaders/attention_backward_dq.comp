#version 450
#extension GL_EXT_control_flow_attributes : require
/* Attention backward, query side (WW_OP_ATTENTION_BWD_DQ; ww_attention_bwd_params, ww.h):
 *   D = rowsum(do * o) (written for the dk/dv pass), dq += scale * sum_j dS_ij k_j with
 *   P_ij = exp(q_i k_j * scale - lse_i) and dS_ij = P_ij (do_i v_j - D_i).
 *
 * Streamed like the forward (attention.comp): each invocation owns QR query rows, keeps q, do and
 * the dq accumulator in registers and walks every key once, in order, so the sum is
 * deterministic and no Nq x Nk matrix exists. P is recomputed from the forward's lse in the log2
 * domain (q pre-scaled by scale * log2(e)); everything accumulates in fp32.
 *
 * No barriers, no shared memory, no subgroup operations: lanes (local_size_x) are query rows of
 * one (batch, head), so every lane reads the same K / V rows. The key loop reads K and V as vec4
 * in blocks of KB keys when their offsets and strides are multiples of 4 (checked at run time),
 * else as scalars one key at a time. Lane-dependent loads and stores go through loops over the
 * head dim that are not unrolled and rotate the register arrays (see attention.comp: lavapipe
 * compile time).
 *
 * Bindings: q, k, v, o, do, lse, D (written), dq (read and written).
 * Spec constants: 0..2 local size (WX, 1, 1), 3 = DH (head dim, multiple of 4, must equal
 *   pc.Dh; groups exit if not), 4 = KB (keys per block), 5 = QR (query rows per invocation;
 *   invocation lx owns rows x0 + lx + r * WX, x0 = gl_WorkGroupID.x * WX * QR).
 * Grid: x = ceil(Nq / (WX * QR)); t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z,
 *   h = t % H, b = t / H; groups with t >= H * B exit.
 */
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint DH = 64;
layout(constant_id = 4) const uint KB = 2;
layout(constant_id = 5) const uint QR = 1;

layout(set = 0, binding = 0, std430) readonly buffer BufQ { float q[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufK { float k[]; };
layout(set = 0, binding = 1, std430) readonly buffer BufK4 { vec4 k4[]; };
layout(set = 0, binding = 2, std430) readonly buffer BufV { float v[]; };
layout(set = 0, binding = 2, std430) readonly buffer BufV4 { vec4 v4[]; };
layout(set = 0, binding = 3, std430) readonly buffer BufO { float o[]; };
layout(set = 0, binding = 4, std430) readonly buffer BufDO { float dout[]; };
layout(set = 0, binding = 5, std430) readonly buffer BufL { float lse[]; };
layout(set = 0, binding = 6, std430) writeonly buffer BufD { float Dbuf[]; };
layout(set = 0, binding = 7, std430) buffer BufDQ { float dq[]; };

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
vec4 qr[QR * D4];  /* q * scale * log2(e) */
vec4 dor[QR * D4]; /* do */
vec4 acc[QR * D4]; /* sum_j dS_ij k_j */
float l2[QR];      /* lse * log2(e) */
float drow[QR];    /* D */
float s[QR * KB];  /* scores of the current block (log2 domain), then dS */
float dp[QR * KB]; /* do_i v_j */
uint kbase, vbase; /* element index of key / value row 0 of this (b, h) */

/* dS of the block of keys j0 .. j0 + nb - 1 from s and dp (keys >= Nk give 0). */
void ds_block(uint j0, const uint nb)
{
    uint Nk = pc.Nk;
    [[unroll]] for (uint r = 0u; r < QR; r++)
        [[unroll]] for (uint kk = 0u; kk < nb; kk++) {
            float p = j0 + kk < Nk ? exp2(s[r * KB + kk] - l2[r]) : 0.0;
            s[r * KB + kk] = p * (dp[r * KB + kk] - drow[r]);
        }
}

/* K and V rows 16-byte aligned: blocks of KB keys, vec4 loads. */
void key_loop_vec()
{
    uint Nk = pc.Nk, k_st4 = pc.k_st >> 2, v_st4 = pc.v_st >> 2;
    uint kb4 = kbase >> 2, vb4 = vbase >> 2;
    for (uint j0 = 0u; j0 < Nk; j0 += KB) {
        uint kr[KB], vr[KB];
        [[unroll]] for (uint kk = 0u; kk < KB; kk++) {
            uint j = min(j0 + kk, Nk - 1u);
            kr[kk] = kb4 + j * k_st4;
            vr[kk] = vb4 + j * v_st4;
        }
        [[unroll]] for (uint i = 0u; i < QR * KB; i++) {
            s[i] = 0.0;
            dp[i] = 0.0;
        }
        [[unroll]] for (uint d = 0u; d < D4; d++)
            [[unroll]] for (uint kk = 0u; kk < KB; kk++) {
                vec4 kv = k4[kr[kk] + d], vv = v4[vr[kk] + d];
                [[unroll]] for (uint r = 0u; r < QR; r++) {
                    s[r * KB + kk] += dot(qr[r * D4 + d], kv);
                    dp[r * KB + kk] += dot(dor[r * D4 + d], vv);
                }
            }
        ds_block(j0, KB);
        [[unroll]] for (uint d = 0u; d < D4; d++)
            [[unroll]] for (uint kk = 0u; kk < KB; kk++) {
                vec4 kv = k4[kr[kk] + d];
                [[unroll]] for (uint r = 0u; r < QR; r++)
                    acc[r * D4 + d] = fma(vec4(s[r * KB + kk]), kv, acc[r * D4 + d]);
            }
    }
}

/* Any offsets and strides: one key at a time, scalar loads. */
void key_loop_scalar()
{
    uint Nk = pc.Nk, k_st = pc.k_st, v_st = pc.v_st;
    for (uint j = 0u; j < Nk; j++) {
        uint ke = kbase + j * k_st, ve = vbase + j * v_st;
        [[unroll]] for (uint r = 0u; r < QR; r++) {
            s[r * KB] = 0.0;
            dp[r * KB] = 0.0;
        }
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            uint e = ke + 4u * d, f = ve + 4u * d;
            vec4 kv = vec4(k[e], k[e + 1u], k[e + 2u], k[e + 3u]);
            vec4 vv = vec4(v[f], v[f + 1u], v[f + 2u], v[f + 3u]);
            [[unroll]] for (uint r = 0u; r < QR; r++) {
                s[r * KB] += dot(qr[r * D4 + d], kv);
                dp[r * KB] += dot(dor[r * D4 + d], vv);
            }
        }
        ds_block(j, 1u);
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            uint e = ke + 4u * d;
            vec4 kv = vec4(k[e], k[e + 1u], k[e + 2u], k[e + 3u]);
            [[unroll]] for (uint r = 0u; r < QR; r++)
                acc[r * D4 + d] = fma(vec4(s[r * KB]), kv, acc[r * D4 + d]);
        }
    }
}

void main()
{
    const uint WX = gl_WorkGroupSize.x;
    uint H = pc.H, Nq = pc.Nq;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= H * pc.B || pc.Dh != DH || Nq == 0u || pc.Nk == 0u)
        return;
    uint b = t / H, h = t - b * H;
    uint x0 = gl_WorkGroupID.x * (WX * QR) + gl_LocalInvocationID.x;

    /* Load q and do and form D = do . o (rows clamped into range; only the stores are
     * guarded): chunk d goes in at the end of the row's segment while the segment rotates left,
     * so after D4 steps chunk d sits at index d. */
    float qs = pc.scale * LOG2E;
    uint qe[QR], oe[QR], de[QR], row[QR];
    vec4 dsum[QR];
    [[unroll]] for (uint r = 0u; r < QR; r++) {
        row[r] = min(x0 + r * WX, Nq - 1u);
        qe[r] = pc.off[0] + b * pc.q_sb + h * pc.q_sh + row[r] * pc.q_st;
        oe[r] = pc.off[3] + b * pc.o_sb + h * pc.o_sh + row[r] * pc.o_st;
        de[r] = pc.off[4] + b * pc.do_sb + h * pc.do_sh + row[r] * pc.do_st;
        dsum[r] = vec4(0.0);
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            qr[r * D4 + d] = vec4(0.0);
            dor[r * D4 + d] = vec4(0.0);
            acc[r * D4 + d] = vec4(0.0);
        }
    }
    [[dont_unroll]] for (uint d = 0u; d < D4; d++) {
        [[unroll]] for (uint r = 0u; r < QR; r++) {
            uint e = qe[r] + 4u * d, f = de[r] + 4u * d, g = oe[r] + 4u * d;
            vec4 x = vec4(q[e], q[e + 1u], q[e + 2u], q[e + 3u]) * qs;
            vec4 y = vec4(dout[f], dout[f + 1u], dout[f + 2u], dout[f + 3u]);
            dsum[r] = fma(y, vec4(o[g], o[g + 1u], o[g + 2u], o[g + 3u]), dsum[r]);
            [[unroll]] for (uint i = 0u; i + 1u < D4; i++) {
                qr[r * D4 + i] = qr[r * D4 + i + 1u];
                dor[r * D4 + i] = dor[r * D4 + i + 1u];
            }
            qr[r * D4 + D4 - 1u] = x;
            dor[r * D4 + D4 - 1u] = y;
        }
    }
    uint rows0 = pc.off[5] + (b * H + h) * Nq;
    [[unroll]] for (uint r = 0u; r < QR; r++) {
        drow[r] = (dsum[r].x + dsum[r].y) + (dsum[r].z + dsum[r].w);
        l2[r] = lse[rows0 + row[r]] * LOG2E;
        if (x0 + r * WX < Nq)
            Dbuf[pc.off[6] + (b * H + h) * Nq + row[r]] = drow[r];
    }

    kbase = pc.off[1] + b * pc.k_sb + h * pc.k_sh;
    vbase = pc.off[2] + b * pc.v_sb + h * pc.v_sh;
    if (((kbase | pc.k_st | vbase | pc.v_st) & 3u) == 0u)
        key_loop_vec();
    else
        key_loop_scalar();

    /* dq += scale * acc, rotating like the loads. */
    uint ge[QR];
    bool ok[QR];
    [[unroll]] for (uint r = 0u; r < QR; r++) {
        ok[r] = x0 + r * WX < Nq;
        ge[r] = pc.off[7] + b * pc.q_sb + h * pc.q_sh + row[r] * pc.q_st;
    }
    float sc = pc.scale;
    [[dont_unroll]] for (uint d = 0u; d < D4; d++) {
        [[unroll]] for (uint r = 0u; r < QR; r++) {
            vec4 x = acc[r * D4] * sc;
            if (ok[r]) {
                uint e = ge[r] + 4u * d;
                dq[e] += x.x;
                dq[e + 1u] += x.y;
                dq[e + 2u] += x.z;
                dq[e + 3u] += x.w;
            }
            [[unroll]] for (uint i = 0u; i + 1u < D4; i++)
                acc[r * D4 + i] = acc[r * D4 + i + 1u];
        }
    }
}
