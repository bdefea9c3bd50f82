/* CPU kernels of the attention backward (ww_attention_backward, ww.h; ww_attention_bwd_params,
 * ww_params.h). Per batch and head, with S = q k^T * scale, P = exp(S - lse) (recomputed from the
 * forward's lse, never stored beyond one block), dP = do v^T, D = rowsum(do * o) and
 * dS = P * (dP - D):
 *   dq += scale * dS k,   dk += scale * dS^T q,   dv += P^T do.
 * Deterministic, without atomics: a dq task owns a block of query rows and streams every key
 * block; a dk/dv task owns a block of key rows and streams every query block of every query
 * batch that uses it (all of them when k and v broadcast one batch), always in the same order.
 * Tasks are (batch, head, block) on the thread pool; the block products go to CBLAS when
 * WW_HAVE_CBLAS is defined (small enough for OpenBLAS to run them on the calling thread) and to
 * plain vector loops otherwise. Rows are packed into contiguous blocks first, so any strides
 * work. If a task cannot get its scratch memory it falls back to per-row loops that need none.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef WW_HAVE_CBLAS
#include <cblas.h>
#endif

#include "ww_internal.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t round8(int64_t x) { return (x + 7) / 8 * 8; }

/* 4 floats (SSE2 / NEON) for the head-dim loops: Dh is a multiple of 4. */
typedef float v4f __attribute__((vector_size(16)));

static v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void v4_store(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static float v4_sum(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }

static float dot(const float *a, const float *b, int64_t n)
{
    v4f s = {0};
    for (int64_t d = 0; d < n; d += 4)
        s += v4_load(a + d) * v4_load(b + d);
    return v4_sum(s);
}

/* y[0..n) += a * x[0..n) */
static void axpy(float *y, float a, const float *x, int64_t n)
{
    v4f av = {a, a, a, a};
    for (int64_t d = 0; d < n; d += 4)
        v4_store(y + d, v4_load(y + d) + av * v4_load(x + d));
}

/* ---- Row passes over a block of scores (rows padded to a multiple of 8) -------------------
 * 8 floats: two SSE2 registers, or one in the AVX2 variants. No 8-float vector crosses a
 * function boundary (its ABI differs with AVX), hence self-contained bodies. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

/* s[j] = exp(s[j] - l[j]) (l0 for every j when l is NULL), n a multiple of 8. The exp is the
 * forward's (Cephes expf, ~2 ulp) with the argument clamped to [-87, 88]. */
static inline __attribute__((always_inline)) void exp_body(float *s, int64_t n, const float *l,
                                                           float l0)
{
    v8f x, sub;
    for (int i = 0; i < 8; i++)
        sub[i] = l0;
    for (int64_t j = 0; j < n; j += 8) {
        memcpy(&x, s + j, sizeof x);
        if (l)
            memcpy(&sub, l + j, sizeof sub);
        x -= sub;
        for (int i = 0; i < 8; i++) {
            x[i] = -87.0f > x[i] ? -87.0f : x[i];
            x[i] = 88.0f < x[i] ? 88.0f : x[i];
        }
        v8f k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
        v8f r = x - k * 0.693359375f + k * 2.12194440e-4f;
        v8f poly = r * 1.9875691500e-4f + 1.3981999507e-3f;
        poly = poly * r + 8.3334519073e-3f;
        poly = poly * r + 4.1665795894e-2f;
        poly = poly * r + 1.6666665459e-1f;
        poly = poly * r + 5.0000001201e-1f;
        poly = poly * r * r + r + 1.0f;
        v8u e = (v8u)(__builtin_convertvector(k, v8i) + 127) << 23;
        x = poly * (v8f)e;
        memcpy(s + j, &x, sizeof x);
    }
}

/* s[j] = s[j] * (dp[j] - d[j]) (d0 for every j when d is NULL), n a multiple of 8. */
static inline __attribute__((always_inline)) void ds_body(float *s, const float *dp, int64_t n,
                                                          const float *d, float d0)
{
    v8f x, y, sub;
    for (int i = 0; i < 8; i++)
        sub[i] = d0;
    for (int64_t j = 0; j < n; j += 8) {
        memcpy(&x, s + j, sizeof x);
        memcpy(&y, dp + j, sizeof y);
        if (d)
            memcpy(&sub, d + j, sizeof sub);
        x *= y - sub;
        memcpy(s + j, &x, sizeof x);
    }
}

typedef void (*exp_fn)(float *s, int64_t n, const float *l, float l0);
typedef void (*ds_fn)(float *s, const float *dp, int64_t n, const float *d, float d0);

static void exp_row(float *s, int64_t n, const float *l, float l0) { exp_body(s, n, l, l0); }
static void ds_row(float *s, const float *dp, int64_t n, const float *d, float d0)
{
    ds_body(s, dp, n, d, d0);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_ROWS_AVX2 1
__attribute__((target("avx2"))) static void exp_row_avx2(float *s, int64_t n, const float *l,
                                                         float l0)
{
    exp_body(s, n, l, l0);
}
__attribute__((target("avx2"))) static void ds_row_avx2(float *s, const float *dp, int64_t n,
                                                        const float *d, float d0)
{
    ds_body(s, dp, n, d, d0);
}
#endif

/* ---- Block products on packed, contiguous operands ---------------------------------------- */

/* c[m, n] (row stride ldc) = alpha * a[m, K] b[n, K]^T; K a multiple of 4. */
static void mm_abt(int64_t m, int64_t n, int64_t K, float alpha, const float *a, const float *b,
                   float *c, int64_t ldc)
{
#ifdef WW_HAVE_CBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)K, alpha, a, (int)K,
                b, (int)K, 0.0f, c, (int)ldc);
#else
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        const float *a0 = a + i * K, *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;
        for (int64_t j = 0; j < n; j++) {
            const float *bj = b + j * K;
            v4f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
            for (int64_t d = 0; d < K; d += 4) {
                v4f bv = v4_load(bj + d);
                s0 += v4_load(a0 + d) * bv;
                s1 += v4_load(a1 + d) * bv;
                s2 += v4_load(a2 + d) * bv;
                s3 += v4_load(a3 + d) * bv;
            }
            c[i * ldc + j] = alpha * v4_sum(s0);
            c[(i + 1) * ldc + j] = alpha * v4_sum(s1);
            c[(i + 2) * ldc + j] = alpha * v4_sum(s2);
            c[(i + 3) * ldc + j] = alpha * v4_sum(s3);
        }
    }
    for (; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = alpha * dot(a + i * K, b + j * K, K);
#endif
}

/* c[m, K] += a[m, n] (row stride lda) b[n, K]; K a multiple of 4. */
static void mm_ab_acc(int64_t m, int64_t n, int64_t K, const float *a, int64_t lda,
                      const float *b, float *c)
{
#ifdef WW_HAVE_CBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)K, (int)n, 1.0f, a,
                (int)lda, b, (int)K, 1.0f, c, (int)K);
#else
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        float *c0 = c + i * K, *c1 = c0 + K, *c2 = c1 + K, *c3 = c2 + K;
        const float *ar = a + i * lda;
        for (int64_t j = 0; j < n; j++) {
            const float *bj = b + j * K;
            v4f x0 = {0}, x1 = {0}, x2 = {0}, x3 = {0};
            x0 += ar[j];
            x1 += ar[lda + j];
            x2 += ar[2 * lda + j];
            x3 += ar[3 * lda + j];
            for (int64_t d = 0; d < K; d += 4) {
                v4f bv = v4_load(bj + d);
                v4_store(c0 + d, v4_load(c0 + d) + x0 * bv);
                v4_store(c1 + d, v4_load(c1 + d) + x1 * bv);
                v4_store(c2 + d, v4_load(c2 + d) + x2 * bv);
                v4_store(c3 + d, v4_load(c3 + d) + x3 * bv);
            }
        }
    }
    for (; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            axpy(c + i * K, a[i * lda + j], b + j * K, K);
#endif
}

/* ---- The two nodes --------------------------------------------------------------------------- */

typedef struct bwd_job {
    const ww_attention_bwd_params *p;
    const float *q, *k, *v, *o, *dO, *lse;
    float *D; /* written by the dq node, read by the dk/dv node */
    float *dq, *dk, *dv;
    int64_t bq, bk;   /* rows per query block, per key block */
    int64_t nqb, nkb; /* blocks per (batch, head) */
    exp_fn exp_row;
    ds_fn ds_row;
} bwd_job;

/* Element offsets of row 0 of (b, h) in q-like, k-like, v, o and do views. */
static int64_t q_base(const ww_attention_bwd_params *p, int64_t b, int64_t h)
{
    return b * (int64_t)p->q_sb + h * (int64_t)p->q_sh;
}
static int64_t k_base(const ww_attention_bwd_params *p, int64_t b, int64_t h)
{
    return b * (int64_t)p->k_sb + h * (int64_t)p->k_sh;
}
static int64_t v_base(const ww_attention_bwd_params *p, int64_t b, int64_t h)
{
    return b * (int64_t)p->v_sb + h * (int64_t)p->v_sh;
}

/* n rows of Dh floats with row stride st into dst (contiguous). */
static void pack_rows(float *dst, const float *src, int64_t n, int64_t st, int64_t Dh)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + i * Dh, src + i * st, (size_t)Dh * sizeof(float));
}

/* D of query rows t0 .. t0+nq of (b, h), into D and (if not NULL) dl. */
static void rows_D(const bwd_job *j, int64_t b, int64_t h, int64_t t0, int64_t nq, float *dl)
{
    const ww_attention_bwd_params *p = j->p;
    const float *o = j->o + b * (int64_t)p->o_sb + h * (int64_t)p->o_sh;
    const float *dO = j->dO + b * (int64_t)p->do_sb + h * (int64_t)p->do_sh;
    float *D = j->D + (b * p->H + h) * (int64_t)p->Nq;
    for (int64_t i = t0; i < t0 + nq; i++) {
        float d = dot(o + i * (int64_t)p->o_st, dO + i * (int64_t)p->do_st, p->Dh);
        D[i] = d;
        if (dl)
            dl[i - t0] = d;
    }
}

/* dq for query rows t0 .. t0+nq of (b, h) one row at a time, accumulating into dq itself: the
 * path that needs no memory. */
static void dq_direct(const bwd_job *j, int64_t b, int64_t h, int64_t t0, int64_t nq)
{
    const ww_attention_bwd_params *p = j->p;
    int64_t Dh = p->Dh;
    rows_D(j, b, h, t0, nq, NULL);
    const float *kb = j->k + k_base(p, b, h), *vb = j->v + v_base(p, b, h);
    for (int64_t i = t0; i < t0 + nq; i++) {
        const float *q = j->q + q_base(p, b, h) + i * (int64_t)p->q_st;
        const float *dO = j->dO + b * (int64_t)p->do_sb + h * (int64_t)p->do_sh +
                          i * (int64_t)p->do_st;
        float *dq = j->dq + q_base(p, b, h) + i * (int64_t)p->q_st;
        float l = j->lse[(b * p->H + h) * (int64_t)p->Nq + i];
        float D = j->D[(b * p->H + h) * (int64_t)p->Nq + i];
        for (int64_t n = 0; n < p->Nk; n++) {
            const float *k = kb + n * (int64_t)p->k_st, *v = vb + n * (int64_t)p->v_st;
            float P = expf(dot(q, k, Dh) * p->scale - l);
            float ds = P * (dot(dO, v, Dh) - D);
            axpy(dq, ds * p->scale, k, Dh);
        }
    }
}

static void dq_task(int64_t task, void *user) /* task = (b * H + h) * nqb + query block */
{
    const bwd_job *j = user;
    const ww_attention_bwd_params *p = j->p;
    int64_t Dh = p->Dh, BQ = j->bq, BK = j->bk, BKP = round8(BK);
    int64_t bh = task / j->nqb, b = bh / p->H, h = bh % p->H;
    int64_t t0 = task % j->nqb * BQ, nq = min64(BQ, (int64_t)p->Nq - t0);

    /* qp, dop, acc [BQ, Dh]; kp, vp [BK, Dh]; s, dp [BQ, BKP]; dl [BQ] */
    float *qp = malloc((size_t)(BQ * Dh * 3 + BK * Dh * 2 + BQ * BKP * 2 + BQ) * sizeof(float));
    if (!qp) {
        dq_direct(j, b, h, t0, nq);
        return;
    }
    float *dop = qp + BQ * Dh, *acc = dop + BQ * Dh, *kp = acc + BQ * Dh, *vp = kp + BK * Dh;
    float *s = vp + BK * Dh, *dp = s + BQ * BKP, *dl = dp + BQ * BKP;
    memset(acc, 0, (size_t)(BQ * Dh) * sizeof(float));
    memset(s, 0, (size_t)(2 * BQ * BKP) * sizeof(float));

    rows_D(j, b, h, t0, nq, dl);
    const float *lse = j->lse + bh * (int64_t)p->Nq + t0;
    pack_rows(qp, j->q + q_base(p, b, h) + t0 * (int64_t)p->q_st, nq, p->q_st, Dh);
    pack_rows(dop, j->dO + b * (int64_t)p->do_sb + h * (int64_t)p->do_sh + t0 * (int64_t)p->do_st,
              nq, p->do_st, Dh);
    const float *kb = j->k + k_base(p, b, h), *vb = j->v + v_base(p, b, h);
    for (int64_t n0 = 0; n0 < p->Nk; n0 += BK) {
        int64_t nk = min64(BK, (int64_t)p->Nk - n0), nkp = round8(nk);
        pack_rows(kp, kb + n0 * (int64_t)p->k_st, nk, p->k_st, Dh);
        pack_rows(vp, vb + n0 * (int64_t)p->v_st, nk, p->v_st, Dh);
        mm_abt(nq, nk, Dh, p->scale, qp, kp, s, BKP); /* S */
        mm_abt(nq, nk, Dh, 1.0f, dop, vp, dp, BKP);   /* dP */
        for (int64_t i = 0; i < nq; i++) {
            j->exp_row(s + i * BKP, nkp, NULL, lse[i]);             /* P */
            j->ds_row(s + i * BKP, dp + i * BKP, nkp, NULL, dl[i]); /* dS */
        }
        mm_ab_acc(nq, nk, Dh, s, BKP, kp, acc); /* acc += dS k */
    }
    float *dq = j->dq + q_base(p, b, h) + t0 * (int64_t)p->q_st;
    for (int64_t i = 0; i < nq; i++)
        axpy(dq + i * (int64_t)p->q_st, p->scale, acc + i * Dh, Dh);
    free(qp);
}

/* Query batches whose gradients reach the key batch bk: all of them when k and v broadcast. */
static void query_batches(const ww_attention_bwd_params *p, int64_t bk, int64_t *b0, int64_t *b1)
{
    *b0 = p->Bkv == 1 ? 0 : bk;
    *b1 = p->Bkv == 1 ? p->B : bk + 1;
}

/* dk, dv for key rows n0 .. n0+nk of (bk, h) one row at a time, accumulating into dk and dv. */
static void dkdv_direct(const bwd_job *j, int64_t bk, int64_t h, int64_t n0, int64_t nk)
{
    const ww_attention_bwd_params *p = j->p;
    int64_t Dh = p->Dh, b0, b1;
    query_batches(p, bk, &b0, &b1);
    for (int64_t n = n0; n < n0 + nk; n++) {
        const float *k = j->k + k_base(p, bk, h) + n * (int64_t)p->k_st;
        const float *v = j->v + v_base(p, bk, h) + n * (int64_t)p->v_st;
        float *dk = j->dk + k_base(p, bk, h) + n * (int64_t)p->k_st;
        float *dv = j->dv + v_base(p, bk, h) + n * (int64_t)p->v_st;
        for (int64_t b = b0; b < b1; b++) {
            for (int64_t i = 0; i < p->Nq; i++) {
                const float *q = j->q + q_base(p, b, h) + i * (int64_t)p->q_st;
                const float *dO = j->dO + b * (int64_t)p->do_sb + h * (int64_t)p->do_sh +
                                  i * (int64_t)p->do_st;
                int64_t r = (b * p->H + h) * (int64_t)p->Nq + i;
                float P = expf(dot(q, k, Dh) * p->scale - j->lse[r]);
                float ds = P * (dot(dO, v, Dh) - j->D[r]);
                axpy(dv, P, dO, Dh);
                axpy(dk, ds * p->scale, q, Dh);
            }
        }
    }
}

static void dkdv_task(int64_t task, void *user) /* task = (bk * H + h) * nkb + key block */
{
    const bwd_job *j = user;
    const ww_attention_bwd_params *p = j->p;
    int64_t Dh = p->Dh, BQ = j->bq, BK = j->bk, BQP = round8(BQ);
    int64_t bh = task / j->nkb, bk = bh / p->H, h = bh % p->H;
    int64_t n0 = task % j->nkb * BK, nk = min64(BK, (int64_t)p->Nk - n0);

    /* kp, vp, acck, accv [BK, Dh]; qp, dop [BQ, Dh]; st, dpt [BK, BQP]; ll, dl [BQP] */
    float *kp = malloc((size_t)(BK * Dh * 4 + BQ * Dh * 2 + BK * BQP * 2 + BQP * 2) *
                       sizeof(float));
    if (!kp) {
        dkdv_direct(j, bk, h, n0, nk);
        return;
    }
    float *vp = kp + BK * Dh, *acck = vp + BK * Dh, *accv = acck + BK * Dh;
    float *qp = accv + BK * Dh, *dop = qp + BQ * Dh, *st = dop + BQ * Dh, *dpt = st + BK * BQP;
    float *ll = dpt + BK * BQP, *dl = ll + BQP;
    memset(acck, 0, (size_t)(2 * BK * Dh) * sizeof(float));
    memset(st, 0, (size_t)(2 * BK * BQP + 2 * BQP) * sizeof(float));

    float *dk = j->dk + k_base(p, bk, h) + n0 * (int64_t)p->k_st;
    float *dv = j->dv + v_base(p, bk, h) + n0 * (int64_t)p->v_st;
    pack_rows(kp, j->k + k_base(p, bk, h) + n0 * (int64_t)p->k_st, nk, p->k_st, Dh);
    pack_rows(vp, j->v + v_base(p, bk, h) + n0 * (int64_t)p->v_st, nk, p->v_st, Dh);
    int64_t b0, b1;
    query_batches(p, bk, &b0, &b1);
    for (int64_t b = b0; b < b1; b++) {
        const float *qb = j->q + q_base(p, b, h);
        const float *dob = j->dO + b * (int64_t)p->do_sb + h * (int64_t)p->do_sh;
        const float *lse = j->lse + (b * p->H + h) * (int64_t)p->Nq;
        const float *D = j->D + (b * p->H + h) * (int64_t)p->Nq;
        for (int64_t t0 = 0; t0 < p->Nq; t0 += BQ) {
            int64_t nq = min64(BQ, (int64_t)p->Nq - t0), nqp = round8(nq);
            pack_rows(qp, qb + t0 * (int64_t)p->q_st, nq, p->q_st, Dh);
            pack_rows(dop, dob + t0 * (int64_t)p->do_st, nq, p->do_st, Dh);
            memcpy(ll, lse + t0, (size_t)nq * sizeof(float));
            memcpy(dl, D + t0, (size_t)nq * sizeof(float));
            mm_abt(nk, nq, Dh, p->scale, kp, qp, st, BQP); /* S^T */
            mm_abt(nk, nq, Dh, 1.0f, vp, dop, dpt, BQP);   /* dP^T */
            for (int64_t r = 0; r < nk; r++)
                j->exp_row(st + r * BQP, nqp, ll, 0.0f); /* P^T */
            mm_ab_acc(nk, nq, Dh, st, BQP, dop, accv); /* accv += P^T do */
            for (int64_t r = 0; r < nk; r++)
                j->ds_row(st + r * BQP, dpt + r * BQP, nqp, dl, 0.0f); /* dS^T */
            mm_ab_acc(nk, nq, Dh, st, BQP, qp, acck); /* acck += dS^T q */
        }
    }
    for (int64_t r = 0; r < nk; r++) {
        axpy(dk + r * (int64_t)p->k_st, p->scale, acck + r * Dh, Dh);
        axpy(dv + r * (int64_t)p->v_st, 1.0f, accv + r * Dh, Dh);
    }
    free(kp);
}

/* Rows of the other side per block: 64 x that x Dh products stay within the 2^18 multiply-adds
 * that OpenBLAS runs on the calling thread (above that every pool thread would queue for
 * OpenBLAS's own threads), as in the forward. */
static int64_t inner_block(int64_t Dh)
{
    return max64(8, min64(64, ((int64_t)1 << 18) / (64 * Dh)) / 8 * 8);
}

void ww_cpu_attention_backward(const ww_node *n, void *const *ptr, ww_threads *pool)
{
    const ww_attention_bwd_params *p = &n->p.attention_bwd;
    if (p->B == 0 || p->H == 0 || p->Nq == 0 || p->Nk == 0 || p->Dh == 0)
        return;
    bwd_job j = {.p = p, .exp_row = exp_row, .ds_row = ds_row};
#ifdef HAVE_ROWS_AVX2
    if (__builtin_cpu_supports("avx2")) {
        j.exp_row = exp_row_avx2;
        j.ds_row = ds_row_avx2;
    }
#endif
    j.q = ptr[0];
    j.k = ptr[1];
    j.v = ptr[2];
    if (n->op == WW_OP_ATTENTION_BWD_DQ) {
        j.o = ptr[3];
        j.dO = ptr[4];
        j.lse = ptr[5];
        j.D = ptr[6];
        j.dq = ptr[7];
        j.bq = 64;
        j.bk = inner_block(p->Dh);
        j.nqb = ((int64_t)p->Nq + j.bq - 1) / j.bq;
        ww_threads_parallel_for(pool, (int64_t)p->B * p->H * j.nqb, dq_task, &j);
    } else if (n->op == WW_OP_ATTENTION_BWD_DKDV) {
        j.dO = ptr[3];
        j.lse = ptr[4];
        j.D = ptr[5];
        j.dk = ptr[6];
        j.dv = ptr[7];
        j.bk = 64;
        j.bq = inner_block(p->Dh);
        j.nkb = ((int64_t)p->Nk + j.bk - 1) / j.bk;
        ww_threads_parallel_for(pool, (int64_t)p->Bkv * p->H * j.nkb, dkdv_task, &j);
    }
}
