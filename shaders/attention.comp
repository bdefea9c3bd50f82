#version 450
#extension GL_EXT_control_flow_attributes : require
/* Multi-head attention, streamed (flash style): o = softmax(q k^T * scale) v per batch and head,
 * with the log-sum-exp of each score row in lse when has_lse (ww_attention_params, ww.h).
 *
 * No Nq x Nk matrix exists anywhere: each invocation owns QR query rows, keeps q and the output
 * accumulator in registers and streams over all keys with a running max m (starting at
 * -FLT_MAX/2, not -inf) and running sum l; the accumulator is rescaled by exp(m_old - m_new)
 * once per block of keys. Scores are kept in the log2 domain (q is pre-scaled by
 * scale * log2(e)); everything accumulates in fp32.
 *
 * No barriers, no shared memory, no subgroup operations: lanes (local_size_x) are query rows of
 * one (batch, head), so every lane reads the same K / V rows, which the caches share. The key
 * loop reads K and V as vec4 in blocks of KB keys when their offsets and strides are multiples
 * of 4 (checked at run time: in practice views into a fused qkv buffer), else as scalars one
 * key at a time.
 *
 * Compile time matters on lavapipe (every load or store of a lane-dependent address becomes a
 * loop over the lanes, and LLVM sees all of them): q is loaded and o stored by loops over the
 * head dim that are NOT unrolled and rotate the register arrays instead of indexing them
 * dynamically (a dynamic index would push the arrays out of registers).
 *
 * Spec constants: 0..2 local size (WX, 1, 1), 3 = DH (head dim, multiple of 4, must equal
 *   pc.Dh; groups exit if not), 4 = KB (keys per block), 5 = QR (query rows per invocation;
 *   invocation lx owns rows x0 + lx + r * WX, x0 = gl_WorkGroupID.x * WX * QR).
 * Grid: x = ceil(Nq / (WX * QR)); (head, batch) pairs are linear over y then z:
 *   t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z, h = t % H, b = t / H; groups
 *   with t >= H * B exit.
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
layout(set = 0, binding = 3, std430) writeonly buffer BufO { float o[]; };
layout(set = 0, binding = 4, std430) writeonly buffer BufL { float lse[]; };

layout(push_constant) uniform PC {
    uint off[5];
    uint Dh, H, Nq, Nk, B;
    uint q_st, q_sh, q_sb;
    uint k_st, k_sh, k_sb;
    uint v_st, v_sh, v_sb;
    uint o_st, o_sh, o_sb;
    float scale;
    uint has_lse;
} pc;

const uint D4 = DH / 4u;
const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
const float M_INIT = -1.70141173e38; /* -FLT_MAX / 2 */
const float S_MASK = -3.40282347e38; /* score of a key past Nk: below M_INIT */

/* Per-invocation state, global so that the loops below can live in functions without passing
 * spec-constant-sized arrays (glslang emits invalid SPIR-V for those). */
vec4 qr[QR * D4];  /* q * scale * log2(e) */
vec4 acc[QR * D4]; /* unnormalised output */
float mrow[QR], lrow[QR];
float s[QR * KB];  /* scores of the current block (log2 domain) */
float p[QR * KB];  /* their softmax weights */
uint kbase, vbase; /* element index of key / value row 0 of this (b, h) */

/* Online softmax over the block of keys j0 .. j0 + nb - 1 (those >= Nk are masked): updates
 * mrow and lrow, rescales acc, fills p. */
void softmax_block(uint j0, const uint nb)
{
    uint Nk = pc.Nk;
    [[unroll]] for (uint r = 0u; r < QR; r++) {
        float mb = mrow[r];
        [[unroll]] for (uint kk = 0u; kk < nb; kk++) {
            s[r * KB + kk] = j0 + kk < Nk ? s[r * KB + kk] : S_MASK;
            mb = max(mb, s[r * KB + kk]);
        }
        float alpha = exp2(mrow[r] - mb);
        float ls = 0.0;
        [[unroll]] for (uint kk = 0u; kk < nb; kk++) {
            float e = j0 + kk < Nk ? exp2(s[r * KB + kk] - mb) : 0.0;
            p[r * KB + kk] = e;
            ls += e;
        }
        lrow[r] = lrow[r] * alpha + ls;
        mrow[r] = mb;
        [[unroll]] for (uint d = 0u; d < D4; d++)
            acc[r * D4 + d] *= alpha;
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
        [[unroll]] for (uint i = 0u; i < QR * KB; i++)
            s[i] = 0.0;
        [[unroll]] for (uint d = 0u; d < D4; d++)
            [[unroll]] for (uint kk = 0u; kk < KB; kk++) {
                vec4 kv = k4[kr[kk] + d];
                [[unroll]] for (uint r = 0u; r < QR; r++)
                    s[r * KB + kk] += dot(qr[r * D4 + d], kv);
            }
        softmax_block(j0, KB);
        [[unroll]] for (uint d = 0u; d < D4; d++)
            [[unroll]] for (uint kk = 0u; kk < KB; kk++) {
                vec4 vv = v4[vr[kk] + d];
                [[unroll]] for (uint r = 0u; r < QR; r++)
                    acc[r * D4 + d] = fma(vec4(p[r * KB + kk]), vv, acc[r * D4 + d]);
            }
    }
}

/* Any offsets and strides: one key at a time, scalar loads. */
void key_loop_scalar()
{
    uint Nk = pc.Nk, k_st = pc.k_st, v_st = pc.v_st;
    for (uint j = 0u; j < Nk; j++) {
        uint ke = kbase + j * k_st, ve = vbase + j * v_st;
        [[unroll]] for (uint r = 0u; r < QR; r++)
            s[r * KB] = 0.0;
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            uint e = ke + 4u * d;
            vec4 kv = vec4(k[e], k[e + 1u], k[e + 2u], k[e + 3u]);
            [[unroll]] for (uint r = 0u; r < QR; r++)
                s[r * KB] += dot(qr[r * D4 + d], kv);
        }
        softmax_block(j, 1u);
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            uint e = ve + 4u * d;
            vec4 vv = vec4(v[e], v[e + 1u], v[e + 2u], v[e + 3u]);
            [[unroll]] for (uint r = 0u; r < QR; r++)
                acc[r * D4 + d] = fma(vec4(p[r * KB]), vv, acc[r * D4 + d]);
        }
    }
}

void main()
{
    const uint WX = gl_WorkGroupSize.x;
    uint H = pc.H, Nq = pc.Nq;
    uint t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z;
    if (t >= H * pc.B || pc.Dh != DH || Nq == 0u)
        return;
    uint b = t / H, h = t - b * H;
    uint x0 = gl_WorkGroupID.x * (WX * QR) + gl_LocalInvocationID.x;

    /* Load q (rows clamped into range; only the stores are guarded): chunk d goes in at the
     * end of the row's segment while the segment rotates left, so after D4 steps chunk d sits
     * at index d. */
    float qs = pc.scale * LOG2E;
    uint qe[QR];
    [[unroll]] for (uint r = 0u; r < QR; r++) {
        qe[r] = pc.off[0] + b * pc.q_sb + h * pc.q_sh + min(x0 + r * WX, Nq - 1u) * pc.q_st;
        [[unroll]] for (uint d = 0u; d < D4; d++) {
            qr[r * D4 + d] = vec4(0.0);
            acc[r * D4 + d] = vec4(0.0);
        }
        mrow[r] = M_INIT;
        lrow[r] = 0.0;
    }
    [[dont_unroll]] for (uint d = 0u; d < D4; d++) {
        [[unroll]] for (uint r = 0u; r < QR; r++) {
            uint e = qe[r] + 4u * d;
            vec4 x = vec4(q[e], q[e + 1u], q[e + 2u], q[e + 3u]) * qs;
            [[unroll]] for (uint i = 0u; i + 1u < D4; i++)
                qr[r * D4 + i] = qr[r * D4 + i + 1u];
            qr[r * D4 + D4 - 1u] = x;
        }
    }

    kbase = pc.off[1] + b * pc.k_sb + h * pc.k_sh;
    vbase = pc.off[2] + b * pc.v_sb + h * pc.v_sh;
    if (((kbase | pc.k_st | vbase | pc.v_st) & 3u) == 0u)
        key_loop_vec();
    else
        key_loop_scalar();

    /* Normalise and store o (rotating like the loads), then lse. */
    float inv[QR];
    uint oe[QR];
    bool ok[QR];
    [[unroll]] for (uint r = 0u; r < QR; r++) {
        uint row = x0 + r * WX;
        ok[r] = row < Nq;
        inv[r] = lrow[r] > 0.0 ? 1.0 / lrow[r] : 0.0;
        oe[r] = pc.off[3] + b * pc.o_sb + h * pc.o_sh + row * pc.o_st;
        if (ok[r] && pc.has_lse != 0u)
            lse[pc.off[4] + (b * H + h) * Nq + row] = (mrow[r] + log2(lrow[r])) * LN2;
    }
    [[dont_unroll]] for (uint d = 0u; d < D4; d++) {
        [[unroll]] for (uint r = 0u; r < QR; r++) {
            vec4 x = acc[r * D4] * inv[r];
            if (ok[r]) {
                uint e = oe[r] + 4u * d;
                o[e] = x.x;
                o[e + 1u] = x.y;
                o[e + 2u] = x.z;
                o[e + 3u] = x.w;
            }
            [[unroll]] for (uint i = 0u; i + 1u < D4; i++)
                acc[r * D4 + i] = acc[r * D4 + i + 1u];
        }
    }
}
