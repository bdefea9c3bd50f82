/* Kernel selection for the dense-math ops: GEMM, attention, Conv2d, ConvTranspose2d.
 *
 * Every shader here reads its shape from the push constants and its tile geometry from
 * specialization constants (spec[0..2] = workgroup size, spec[3..] as listed per op below).
 * Work that is naturally 2D or 3D beyond the first grid dimension (row tiles x batch, heads x
 * batch, ...) is linearised over y and z by ww_vk_grid(): the shader rebuilds
 * t = gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z and exits when t >= total, so
 * no limit on maxComputeWorkGroupCount[1] alone is ever hit. Empty work still gets one group
 * (the shaders exit at once).
 *
 * Nothing here depends on params.off[]: the shaders check at run time whether the offsets allow
 * their vec4 paths, so off[] may be filled in after planning.
 */

#include "vk_plan.h"

static void set_local(ww_vk_dispatch *d, uint32_t x, uint32_t y, uint32_t z)
{
    d->spec[0] = x;
    d->spec[1] = y;
    d->spec[2] = z;
    d->nspec = 3;
}

static void add_spec(ww_vk_dispatch *d, uint32_t v)
{
    d->spec[d->nspec++] = v;
}

/* Flags that change a GEMM's epilogue; passed as a spec constant so that lavapipe compiles only
 * the code a node needs (the shaders still read the flags from the push constants). */
#define EPI_FLAGS (WW_GEMM_BIAS_ROW | WW_GEMM_GELU | WW_GEMM_ACCUMULATE | WW_HAS_BIAS)

/* ---- GEMM ---------------------------------------------------------------------------------
 * WW_SHADER_GEMM (register tiled, CPU drivers): spec 3 = TM, 4 = TN,
 *   5 = AV | BV << 2 | SG << 4 (AV 1: vec4 A rows, needs a_sk == 1; BV 1: vec4 B along k,
 *   needs b_sk == 1, 2: vec4 B along n, needs b_sn == 1; SG: lanes sharing the A block through
 *   subgroupBroadcast, 0 = off), 6 = epilogue flags compiled in (node flags & EPI_FLAGS);
 *   workgroup (WX, 1, 1); groups x = ceil(N / (WX*TN)), y*z = ceil(M / TM) * batch.
 * WW_SHADER_GEMM_SHMEM (GPUs): spec 3 = BK, 4 = TM, 5 = TN; workgroup (WX, WY, 1) makes
 *   tiles of BM = WY*TM by BN = WX*TN; groups x = ceil(N / BN), y*z = ceil(M / BM) * batch.
 */
ww_status ww_vk_plan_gemm(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d, char *err,
                          size_t errlen)
{
    const ww_gemm_params *p = &n->p.gemm;
    int variant = caps->gemm_variant;
    if (variant != 1 && variant != 2)
        variant = caps->is_cpu ? 1 : 2;

    if (variant == 1) {
        /* 16 x 8 register tiles where the matrix is big enough to fill them; workgroups of 8
         * lanes (one lavapipe SIMD vector, AVX2). */
        const uint32_t WX = 8, SG = 8;
        uint32_t TM = p->M >= 64 ? 16 : p->M > 4 ? 8 : 4;
        uint32_t TN = p->N >= 256 ? 8 : 4;
        uint32_t AV = p->a_sk == 1 ? 1 : 0;
        uint32_t BV = p->b_sk == 1 ? 1 : p->b_sn == 1 ? 2 : 0;
        d->shader = WW_SHADER_GEMM;
        set_local(d, WX, 1, 1);
        add_spec(d, TM);
        add_spec(d, TN);
        add_spec(d, AV | BV << 2 | SG << 4);
        add_spec(d, p->flags & EPI_FLAGS);
        WW_TRY(ww_vk_check_invocations("gemm", WX, caps, err, errlen));
        return ww_vk_grid(ww_vk_div_up(p->N, WX * TN), (uint64_t)ww_vk_div_up(p->M, TM) * p->batch,
                          caps, d->groups, err, errlen);
    }

    /* Shared-memory tiles: 128 x 128 with 8 x 8 per thread where the grid still fills a big GPU,
     * else 64 x 64 with 4 x 4 per thread. Both use 256 invocations and BK = 16. */
    uint32_t BM = 128, BN = 128, BK = 16, TM = 8, TN = 8;
    uint64_t tiles = (uint64_t)ww_vk_div_up(p->M, 128) * ww_vk_div_up(p->N, 128) * p->batch;
    if (tiles < 264) {
        BM = 64;
        BN = 64;
        TM = 4;
        TN = 4;
    }
    uint32_t wx = BN / TN, wy = BM / TM;
    uint32_t shared = 4u * BK * (BM + 1 + BN + 1);
    WW_TRY(ww_vk_check_invocations("gemm", wx * wy, caps, err, errlen));
    if (shared > caps->max_shared_bytes)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "gemm: %u bytes of shared memory exceed the device limit %u",
                               shared, caps->max_shared_bytes);
    d->shader = WW_SHADER_GEMM_SHMEM;
    set_local(d, wx, wy, 1);
    add_spec(d, BK);
    add_spec(d, TM);
    add_spec(d, TN);
    return ww_vk_grid(ww_vk_div_up(p->N, BN), (uint64_t)ww_vk_div_up(p->M, BM) * p->batch, caps,
                      d->groups, err, errlen);
}

/* ---- Attention ----------------------------------------------------------------------------
 * WW_SHADER_ATTENTION: spec 3 = Dh (must equal the params' Dh), 4 = KB (keys per block),
 *   5 = QR (query rows per invocation); workgroup (WX, 1, 1); groups x = ceil(Nq / (WX*QR)),
 *   y*z = H * B (t = h + H * b).
 * CPU drivers: 8 lanes (one AVX2 vector) x 8 rows each, so every K / V load feeds 8 rows; fewer
 * rows for Dh = 128 to bound the unrolled code (lavapipe compile time: ~0.5 s at Dh 16, ~2.5 s
 * at Dh 64). GPUs: one row per lane, 64 lanes.
 */
ww_status ww_vk_plan_attention(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                               char *err, size_t errlen)
{
    const ww_attention_params *p = &n->p.attention;
    if (p->Dh == 0 || p->Dh % 4 != 0 || p->Dh > 256)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED,
                               "attention: head dim %u unsupported (needs a multiple of 4, at "
                               "most 256)",
                               p->Dh);
    uint32_t WX, KB, QR;
    if (caps->is_cpu) {
        WX = 8;
        KB = p->Dh <= 32 ? 2 : 1;
        QR = p->Dh <= 64 ? 8 : 2;
    } else {
        WX = 64;
        KB = 4;
        QR = 1;
    }
    WW_TRY(ww_vk_check_invocations("attention", WX, caps, err, errlen));
    d->shader = WW_SHADER_ATTENTION;
    set_local(d, WX, 1, 1);
    add_spec(d, p->Dh);
    add_spec(d, KB);
    add_spec(d, QR);
    return ww_vk_grid(ww_vk_div_up(p->Nq, (uint64_t)WX * QR), (uint64_t)p->H * p->B, caps,
                      d->groups, err, errlen);
}

/* ---- Conv2d -------------------------------------------------------------------------------
 * WW_SHADER_CONV2D: spec 3 = TM (output channels per invocation), 4 = TN (consecutive output
 *   pixels per invocation), 5 = KS, 6 = ST (kernel size and stride of the unrolled fast path;
 *   KS = 0: generic path only), 7 = SG | EPI << 8 (subgroup broadcast of the weights, 0 = off;
 *   EPI: features compiled in, bit 0 relu in, 1 relu out, 2 accumulate, 3 bias);
 *   workgroup (WX, 1, 1); groups x = ceil(Wo / (WX*TN)),
 *   y*z = Ho * ceil(Cout / TM) * B (t = oy + Ho * (channel tile + ceil(Cout/TM) * b)).
 */
ww_status ww_vk_plan_conv2d(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                            char *err, size_t errlen)
{
    const ww_conv2d_params *p = &n->p.conv2d;
    const uint32_t WX = caps->is_cpu ? 8 : 64, SG = 8;
    uint32_t TM = p->Cout >= 16 ? 16 : p->Cout >= 8 ? 8 : 4;
    /* pixels per invocation: as many as the row has for the lanes, up to 8 */
    uint32_t TN = p->Wo >= 8 * WX ? 8 : p->Wo >= 4 * WX ? 4 : p->Wo >= 2 * WX ? 2 : 1;
    if (!caps->is_cpu) {
        TM = TM > 8 ? 8 : TM;
        TN = 4;
    }
    /* Unrolled fast path for small kernels (1, 3, 5, 7); larger ones (patch embedding, k = 16)
     * take the generic loop, which is as fast there and compiles in a tenth of the time. */
    uint32_t KS = p->k, ST = p->stride;
    if (KS == 0 || KS >= 8 || ST == 0 || ST > 8)
        KS = ST = 0;
    uint32_t epi = ((p->flags & WW_CONV_RELU_IN) ? 1u : 0u) |
                   ((p->flags & WW_CONV_RELU_OUT) ? 2u : 0u) |
                   ((p->flags & WW_CONV_ACCUMULATE) ? 4u : 0u) |
                   ((p->flags & WW_HAS_BIAS) ? 8u : 0u);
    WW_TRY(ww_vk_check_invocations("conv2d", WX, caps, err, errlen));
    d->shader = WW_SHADER_CONV2D;
    set_local(d, WX, 1, 1);
    add_spec(d, TM);
    add_spec(d, TN);
    add_spec(d, KS);
    add_spec(d, ST ? ST : 1);
    add_spec(d, SG | epi << 8);
    return ww_vk_grid(ww_vk_div_up(p->Wo, (uint64_t)WX * TN),
                      (uint64_t)p->Ho * ww_vk_div_up(p->Cout, TM) * p->B, caps, d->groups, err,
                      errlen);
}

/* ---- ConvTranspose2d (kernel == stride) ----------------------------------------------------
 * WW_SHADER_CONV_TRANSPOSE2D: spec 3 = CO (output channels per invocation), 4 = K (kernel size
 *   of the unrolled path, = the params' k; 0 = generic loop, used for k > 4), 5 = TN
 *   (consecutive input pixels per invocation), 6 = SG (subgroup broadcast of the weights,
 *   0 = off); workgroup (WX, 1, 1); groups x = ceil(W / (WX*TN)),
 *   y*z = H * ceil(Cout / CO) * B (t = iy + H * (channel tile + ceil(Cout/CO) * b)).
 */
ww_status ww_vk_plan_convt(const ww_node *n, const ww_vk_caps *caps, ww_vk_dispatch *d,
                           char *err, size_t errlen)
{
    const ww_convt_params *p = &n->p.convt;
    if (p->k == 0)
        return ww_vk_plan_fail(err, errlen, WW_ERR_UNSUPPORTED, "conv_transpose2d: kernel size 0");
    const uint32_t WX = caps->is_cpu ? 8 : 64, SG = 8;
    uint32_t K = p->k <= 4 ? p->k : 0;
    uint32_t kk = K ? K * K : 1;
    /* about 128 accumulators: CO x TN x k x k */
    uint32_t TN = p->W >= 4 * WX ? 4 : p->W >= 2 * WX ? 2 : 1;
    uint32_t CO = 128 / (TN * kk);
    CO = CO > 16 ? 16 : CO < 1 ? 1 : CO;
    WW_TRY(ww_vk_check_invocations("conv_transpose2d", WX, caps, err, errlen));
    d->shader = WW_SHADER_CONV_TRANSPOSE2D;
    set_local(d, WX, 1, 1);
    add_spec(d, CO);
    add_spec(d, K);
    add_spec(d, TN);
    add_spec(d, SG);
    return ww_vk_grid(ww_vk_div_up(p->W, (uint64_t)WX * TN),
                      (uint64_t)p->H * ww_vk_div_up(p->Cout, CO) * p->B, caps, d->groups, err,
                      errlen);
}
