/* The trainer's host utilities (training/): the rng against the reference xoshiro256**, Win-Win
 * window sampling (inside the grid, no overlap, count and size, determinism, coverage of every
 * position, the lattice fallback on tight packings, the capacity bound against a brute-force
 * search, impossible requests), the learning-rate schedule, every validation metric on small
 * hand-computed cases (with invalid and ignored pixels), and the SVG plot of a metrics log
 * (panels, polylines, atomic write, malformed lines named by number).
 *
 * Usage: test_train_utils [NAME-SUBSTRING...]
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "plot.h"
#include "rng.h"
#include "schedule.h"
#include "test_util.h"
#include "windows.h"

enum { ERRLEN = 512 };

/* Relative closeness (learning rates are ~1e-4: an absolute tolerance would hide errors). */
static int near(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fabs(want);
}

/* ---- rng ------------------------------------------------------------------------------------- */

/* The next n outputs of r against want; seed (r's, named in messages) tells the cases apart. */
static void check_outputs(ww_rng *r, uint64_t seed, const uint64_t *want, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t v = ww_rng_next(r);
        TEST_CHECK(v == want[i], "seed %llu: output %d = %#llx, want %#llx",
                   (unsigned long long)seed, i, (unsigned long long)v,
                   (unsigned long long)want[i]);
    }
}

static void test_rng_reference(const char *arg)
{
    (void)arg;
    /* splitmix64 then xoshiro256** as published by Blackman and Vigna: a checkpoint saved by
     * one build must resume the same sequence in any other. */
    ww_rng r;
    ww_rng_seed(&r, 0);
    const uint64_t state0[4] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull,
                                0x06c45d188009454full, 0xf88bb8a8724c81ecull};
    for (int i = 0; i < 4; i++)
        TEST_CHECK(r.s[i] == state0[i], "seed 0: s[%d] = %#llx, want %#llx", i,
                   (unsigned long long)r.s[i], (unsigned long long)state0[i]);
    const uint64_t out0[3] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
                              0x1a5f849d4933e6e0ull};
    check_outputs(&r, 0, out0, 3);
    ww_rng_seed(&r, 42);
    const uint64_t out42[3] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                               0xae17533239e499a1ull};
    check_outputs(&r, 42, out42, 3);
    /* Resuming from a saved state continues the same sequence. */
    ww_rng a, b;
    ww_rng_seed(&a, 7);
    for (int i = 0; i < 10; i++)
        ww_rng_next(&a);
    b = a;
    for (int i = 0; i < 100; i++)
        if (!TEST_CHECK(ww_rng_next(&a) == ww_rng_next(&b), "copied state diverges at %d", i))
            break;
}

static void test_rng_ranges(const char *arg)
{
    (void)arg;
    ww_rng r;
    ww_rng_seed(&r, 123);
    double lo = 1.0, hi = 0.0, sum = 0.0;
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        double u = ww_rng_uniform(&r);
        lo = fmin(lo, u);
        hi = fmax(hi, u);
        sum += u;
        if (!TEST_CHECK(u >= 0.0 && u < 1.0, "uniform %.17g outside [0, 1)", u))
            return;
    }
    TEST_CHECK(lo < 1e-3 && hi > 1.0 - 1e-3, "uniform spans only [%g, %g]", lo, hi);
    TEST_CHECK(fabs(sum / N - 0.5) < 0.01, "uniform mean %g", sum / N);

    TEST_CHECK(ww_rng_below(&r, 0) == 0, "below(0) != 0");
    TEST_CHECK(ww_rng_below(&r, 1) == 0, "below(1) != 0");
    /* 3 does not divide 2^32: a modulo bias would not show at this size, but a wrong range
     * or a stuck bucket would. */
    int count[3] = {0, 0, 0};
    for (int i = 0; i < 30000; i++) {
        uint32_t v = ww_rng_below(&r, 3);
        if (!TEST_CHECK(v < 3, "below(3) = %u", v))
            return;
        count[v]++;
    }
    for (int k = 0; k < 3; k++)
        TEST_CHECK(count[k] > 9400 && count[k] < 10600, "below(3) gave %d %d times in 30000", k,
                   count[k]);
    uint32_t big = 0xFFFFFFFFu, top = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t v = ww_rng_below(&r, big);
        TEST_CHECK(v < big, "below(2^32 - 1) = %u", v);
        top = v > top ? v : top;
    }
    TEST_CHECK(top > 0xF0000000u, "below(2^32 - 1) never reaches the top: max %u", top);
}

/* ---- windows --------------------------------------------------------------------------------- */

/* 1 when the n windows of out are inside the grid and pairwise disjoint; records failures. */
static int windows_valid(const uint32_t *out, int gh, int gw, int n, int s, const char *what)
{
    for (int i = 0; i < n; i++) {
        uint32_t y = out[2 * i], x = out[2 * i + 1];
        if (!TEST_CHECK(y + (uint32_t)s <= (uint32_t)gh && x + (uint32_t)s <= (uint32_t)gw,
                        "%s: window %d at (%u, %u), size %d, leaves the %dx%d grid", what, i, y,
                        x, s, gh, gw))
            return 0;
        for (int j = 0; j < i; j++) {
            int64_t dy = (int64_t)y - out[2 * j], dx = (int64_t)x - out[2 * j + 1];
            if (!TEST_CHECK(!(dy < s && dy > -s && dx < s && dx > -s),
                            "%s: windows %d (%u, %u) and %d (%u, %u) of size %d overlap", what,
                            j, out[2 * j], out[2 * j + 1], i, y, x, s))
                return 0;
        }
    }
    return 1;
}

/* draws samples of n windows of size s in a gh x gw grid into out (room for 2 n), each checked
 * by windows_valid; stops at the first failure. 1 when every draw passed. */
static int sample_valid(ww_rng *r, int gh, int gw, int n, int s, int draws, uint32_t *out)
{
    char err[ERRLEN] = "", what[96];
    snprintf(what, sizeof what, "%d windows of %d in %dx%d", n, s, gh, gw);
    for (int d = 0; d < draws; d++) {
        if (!TEST_OK(NULL, ww_windows_sample(r, gh, gw, n, s, out, err, sizeof err)))
            return TEST_FAIL("%s: %s", what, err);
        if (!windows_valid(out, gh, gw, n, s, what))
            return 0;
    }
    return 1;
}

static void test_windows_valid(const char *arg)
{
    (void)arg;
    /* The paper's segmentation setting (two 22x22 squares of an 80x45 grid), its flow settings
     * and odd shapes; the last ones are tight enough to need the fallback now and then. */
    const struct { int gh, gw, n, s; } cfg[] = {
        {45, 80, 2, 22}, {24, 32, 2, 10}, {24, 32, 4, 7}, {20, 20, 2, 10}, {7, 5, 3, 2},
        {2, 9, 4, 2},    {8, 8, 1, 8},    {9, 9, 9, 3},   {10, 7, 6, 3},  {6, 6, 36, 1},
    };
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        ww_rng r;
        ww_rng_seed(&r, 1000 + c);
        uint32_t *out = test_malloc(2 * (size_t)cfg[c].n * sizeof *out);
        sample_valid(&r, cfg[c].gh, cfg[c].gw, cfg[c].n, cfg[c].s, 200, out);
    }
}

static void test_windows_deterministic(const char *arg)
{
    (void)arg;
    enum { N = 4, S = 5, DRAWS = 50 };
    uint32_t a[DRAWS][2 * N], b[DRAWS][2 * N], c[DRAWS][2 * N];
    ww_rng ra, rb, rc;
    ww_rng_seed(&ra, 99);
    ww_rng_seed(&rb, 99);
    ww_rng_seed(&rc, 100);
    for (int d = 0; d < DRAWS; d++) {
        TEST_OK(NULL, ww_windows_sample(&ra, 30, 40, N, S, a[d], NULL, 0));
        TEST_OK(NULL, ww_windows_sample(&rb, 30, 40, N, S, b[d], NULL, 0));
        TEST_OK(NULL, ww_windows_sample(&rc, 30, 40, N, S, c[d], NULL, 0));
    }
    TEST_CHECK(memcmp(a, b, sizeof a) == 0, "the same seed gives different windows");
    TEST_CHECK(memcmp(a, c, sizeof a) != 0, "seeds 99 and 100 give the same windows");
    TEST_CHECK(memcmp(&ra, &rb, sizeof ra) == 0, "the same draws leave different rng states");
    /* The fallback is deterministic too. */
    ww_rng_seed(&ra, 5);
    ww_rng_seed(&rb, 5);
    for (int d = 0; d < 20; d++) {
        TEST_OK(NULL, ww_windows_sample(&ra, 5, 5, 4, 2, a[d], NULL, 0));
        TEST_OK(NULL, ww_windows_sample(&rb, 5, 5, 4, 2, b[d], NULL, 0));
    }
    TEST_CHECK(memcmp(a, b, 20 * sizeof a[0]) == 0, "the fallback is not deterministic");
}

static void test_windows_coverage(const char *arg)
{
    (void)arg;
    /* Every top-left position of two 4x4 windows in a 16x16 grid is possible and must turn
     * up: expected ~24 hits each in 2000 draws. */
    enum { G = 16, S = 4, P = G - S + 1 };
    int hits[P][P] = {{0}};
    ww_rng r;
    ww_rng_seed(&r, 2024);
    uint32_t out[4];
    for (int d = 0; d < 2000; d++) {
        if (!TEST_OK(NULL, ww_windows_sample(&r, G, G, 2, S, out, NULL, 0)))
            return;
        hits[out[0]][out[1]]++;
        hits[out[2]][out[3]]++;
    }
    int missing = 0;
    for (int y = 0; y < P; y++)
        for (int x = 0; x < P; x++)
            missing += hits[y][x] == 0;
    TEST_CHECK(missing == 0, "%d of %d positions never drawn", missing, P * P);

    /* One window: its corner is uniform over all 16 positions of a 6x6 grid. */
    int one[4][4] = {{0}};
    for (int d = 0; d < 16000; d++) {
        TEST_OK(NULL, ww_windows_sample(&r, 6, 6, 1, 3, out, NULL, 0));
        one[out[0]][out[1]]++;
    }
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            TEST_CHECK(one[y][x] > 850 && one[y][x] < 1150,
                       "one window: corner (%d, %d) drawn %d times of 16000, want ~1000", y, x,
                       one[y][x]);
}

static void test_windows_fallback(const char *arg)
{
    (void)arg;
    /* 4 windows of 2x2 fill a 4x4 grid: the only placement is the four quadrants, which
     * rejection almost never draws (4! / 9^4 per try). */
    char err[ERRLEN] = "";
    ww_rng r;
    ww_rng_seed(&r, 1);
    for (int d = 0; d < 50; d++) {
        uint32_t out[8];
        if (!TEST_OK(NULL, ww_windows_sample(&r, 4, 4, 4, 2, out, err, sizeof err))) {
            TEST_FAIL("4x4 grid: %s", err);
            return;
        }
        int quadrants = 0;
        for (int i = 0; i < 4; i++) {
            TEST_CHECK(out[2 * i] % 2 == 0 && out[2 * i + 1] % 2 == 0,
                       "window %d at (%u, %u) is not a quadrant", i, out[2 * i], out[2 * i + 1]);
            quadrants |= 1 << (out[2 * i] + out[2 * i + 1] / 2);
        }
        TEST_CHECK(quadrants == 0xF, "quadrants covered: %#x", quadrants);
    }
    /* Full packings of other shapes, and one with slack around the lattice. */
    const struct { int gh, gw, n, s; } cfg[] = {
        {6, 9, 6, 3}, {5, 5, 4, 2}, {8, 4, 8, 2}, {12, 12, 16, 3}, {7, 11, 6, 3},
    };
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        uint32_t out[32];
        sample_valid(&r, cfg[c].gh, cfg[c].gw, cfg[c].n, cfg[c].s, 30, out);
    }
}

/* The most s x s windows a gh x gw grid holds, by exhaustive search (tiny grids only). */
static int max_packing(uint8_t *used, int gh, int gw, int s, int from)
{
    int best = 0;
    for (int pos = from; pos < gh * gw; pos++) {
        int y = pos / gw, x = pos % gw;
        if (y + s > gh || x + s > gw)
            continue;
        int free_ = 1;
        for (int dy = 0; dy < s && free_; dy++)
            for (int dx = 0; dx < s && free_; dx++)
                free_ = !used[(y + dy) * gw + x + dx];
        if (!free_)
            continue;
        for (int dy = 0; dy < s; dy++)
            for (int dx = 0; dx < s; dx++)
                used[(y + dy) * gw + x + dx] = 1;
        int k = 1 + max_packing(used, gh, gw, s, pos + 1);
        best = k > best ? k : best;
        for (int dy = 0; dy < s; dy++)
            for (int dx = 0; dx < s; dx++)
                used[(y + dy) * gw + x + dx] = 0;
    }
    return best;
}

static void test_windows_capacity(const char *arg)
{
    (void)arg;
    /* floor(gh / s) * floor(gw / s) is the true maximum, so "cannot fit" is never wrong and
     * the fallback always reaches it. */
    ww_rng r;
    ww_rng_seed(&r, 3);
    for (int s = 1; s <= 3; s++)
        for (int gh = s; gh <= 6; gh++)
            for (int gw = s; gw <= 6; gw++) {
                if (s == 1 && gh * gw > 12)
                    continue; /* the search is exponential; s = 1 is trivially gh * gw */
                uint8_t used[36] = {0};
                int best = max_packing(used, gh, gw, s, 0);
                int64_t cap = ww_windows_capacity(gh, gw, s);
                TEST_CHECK(cap == best, "%dx%d grid, s %d: capacity %lld, exhaustive %d", gh,
                           gw, s, (long long)cap, best);
                uint32_t out[72];
                sample_valid(&r, gh, gw, best, s, 1, out);
                TEST_STATUS(NULL, ww_windows_sample(&r, gh, gw, best + 1, s, out, NULL, 0),
                            WW_ERR_INVALID);
            }
}

static void test_windows_errors(const char *arg)
{
    (void)arg;
    const struct { int gh, gw, n, s; const char *msg; } cases[] = {
        {16, 16, 2, 0, "window size 0"},
        {16, 16, 2, -3, "window size -3"},
        {16, 16, 0, 4, "window count 0"},
        {16, 16, -1, 4, "window count -1"},
        {8, 20, 1, 9, "window size 9 exceeds the 8x20"},
        {20, 8, 1, 9, "window size 9 exceeds the 20x8"},
        {4, 4, 5, 2, "5 windows of 2x2 tokens cannot fit"},
        {5, 5, 2, 3, "at most 1"},
        {45, 80, 7, 22, "at most 6"},
        {0, 10, 1, 1, "token grid 0x10"},
    };
    ww_rng r, before;
    ww_rng_seed(&r, 11);
    before = r;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t out[16] = {0};
        char err[ERRLEN] = "";
        TEST_STATUS(NULL, ww_windows_sample(&r, cases[c].gh, cases[c].gw, cases[c].n, cases[c].s,
                                            out, err, sizeof err),
                    WW_ERR_INVALID);
        TEST_CHECK(test_contains(err, cases[c].msg), "case %zu: message '%s' lacks '%s'", c, err,
                   cases[c].msg);
        /* No message buffer is fine too. */
        TEST_STATUS(NULL, ww_windows_sample(&r, cases[c].gh, cases[c].gw, cases[c].n, cases[c].s,
                                            out, NULL, 0),
                    WW_ERR_INVALID);
    }
    TEST_CHECK(memcmp(&r, &before, sizeof r) == 0, "a refused request advanced the rng");
    TEST_STATUS(NULL, ww_windows_sample(NULL, 8, 8, 1, 2, (uint32_t[2]){0}, NULL, 0),
                WW_ERR_INVALID);
}

/* ---- schedule -------------------------------------------------------------------------------- */

static void test_schedule(const char *arg)
{
    (void)arg;
    ww_lr_schedule s = {.lr = 1e-3f, .min_lr = 1e-5f, .warmup = 10, .steps = 110};
    const struct { int step; double want; } pts[] = {
        {0, 1e-4},         /* below 1 counts as 1 */
        {1, 1e-4},         {5, 5e-4},  {10, 1e-3}, /* warmup ends at the peak */
        {60, 5.05e-4},     /* half-way through the cosine */
        {35, 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + cos(3.14159265358979323846 * 0.25))},
        {110, 1e-5},       {111, 1e-5}, {100000, 1e-5},
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        float got = ww_lr_at(&s, pts[i].step);
        TEST_CHECK(near(got, pts[i].want, 1e-6), "step %d: lr %.9g, want %.9g", pts[i].step,
                   got, pts[i].want);
    }
    float prev = ww_lr_at(&s, 10);
    for (int step = 11; step <= 120; step++) {
        float v = ww_lr_at(&s, step);
        if (!TEST_CHECK(v <= prev && v >= s.min_lr, "step %d: lr %g after %g", step, v, prev))
            break;
        prev = v;
    }

    /* No warmup: the cosine starts at step 1, just below the peak. */
    ww_lr_schedule nw = {.lr = 1.0f, .min_lr = 0.0f, .warmup = 0, .steps = 100};
    TEST_CHECK(near(ww_lr_at(&nw, 1), 0.5 * (1 + cos(3.14159265358979323846 / 100)), 1e-6),
               "no warmup: step 1 lr %g", ww_lr_at(&nw, 1));
    TEST_CHECK(ww_lr_at(&nw, 100) == 0.0f, "no warmup: last step lr %g", ww_lr_at(&nw, 100));
    /* Warmup as long as the run: the peak, then the floor. */
    ww_lr_schedule wl = {.lr = 2.0f, .min_lr = 0.5f, .warmup = 10, .steps = 10};
    TEST_CHECK(ww_lr_at(&wl, 10) == 2.0f && ww_lr_at(&wl, 11) == 0.5f,
               "warmup = steps: lr %g at 10, %g at 11", ww_lr_at(&wl, 10), ww_lr_at(&wl, 11));
}

/* ---- metrics --------------------------------------------------------------------------------- */

static void test_flow_metrics(const char *arg)
{
    (void)arg;
    /* 3x2 pixels: errors 0, 5, (NaN gt), (|gt| = 1e4: invalid), 2, 0.5. */
    const float gt[12] = {0, 1, NAN, 6000, 0, 1, /* u */ 0, 0, 0, 8000, 0, 1 /* v */};
    const float pred[12] = {0, 4, 3, 6000, 0, 1, /* u */ 0, 4, 3, 8000, 2, 1.5f /* v */};
    ww_flow_metrics m;
    ww_flow_metrics_reset(&m);
    ww_flow_metrics_add(&m, pred, gt, 3, 2);
    TEST_CHECK(m.valid == 4, "valid pixels %llu, want 4", (unsigned long long)m.valid);
    TEST_CHECK(near(ww_flow_metrics_epe(&m), 1.875, 1e-12), "EPE %g", ww_flow_metrics_epe(&m));
    TEST_CHECK(near(ww_flow_metrics_px1(&m), 50.0, 1e-12), "1px %g", ww_flow_metrics_px1(&m));
    TEST_CHECK(near(ww_flow_metrics_px3(&m), 25.0, 1e-12), "3px %g", ww_flow_metrics_px3(&m));
    char buf[256];
    ww_flow_metrics_json(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"epe\": 1.875, \"px1\": 50, \"px3\": 25") == 0, "json: %s", buf);
    int need = ww_flow_metrics_format(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "EPE 1.8750  1px 50.00%  3px 25.00%") == 0, "log: %s", buf);
    TEST_CHECK(need == (int)strlen(buf), "format returned %d for '%s'", need, buf);
    /* Cut output: snprintf's contract. */
    char small[8];
    need = ww_flow_metrics_json(&m, small, sizeof small);
    TEST_CHECK(need == (int)strlen("\"epe\": 1.875, \"px1\": 50, \"px3\": 25") &&
                   strlen(small) == sizeof small - 1,
               "cut json: returned %d, wrote '%s'", need, small);

    /* Accumulating the same image again keeps the means. */
    ww_flow_metrics_add(&m, pred, gt, 3, 2);
    TEST_CHECK(m.valid == 8 && near(ww_flow_metrics_epe(&m), 1.875, 1e-12),
               "after two images: %llu valid, EPE %g", (unsigned long long)m.valid,
               ww_flow_metrics_epe(&m));

    /* A NaN prediction at a valid pixel: an outlier with infinite error. */
    const float gt1[2] = {0.5f, 0.5f}, pred1[2] = {NAN, 0.5f};
    ww_flow_metrics_reset(&m);
    ww_flow_metrics_add(&m, pred1, gt1, 1, 1);
    TEST_CHECK(isinf(ww_flow_metrics_epe(&m)) && ww_flow_metrics_px1(&m) == 100.0,
               "NaN prediction: EPE %g, 1px %g", ww_flow_metrics_epe(&m),
               ww_flow_metrics_px1(&m));
    ww_flow_metrics_json(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"epe\": null, \"px1\": 100, \"px3\": 100") == 0, "json: %s", buf);

    /* Nothing valid: no numbers at all. */
    ww_flow_metrics_reset(&m);
    ww_flow_metrics_add(&m, pred, gt, 0, 2);
    TEST_CHECK(isnan(ww_flow_metrics_epe(&m)), "empty EPE %g", ww_flow_metrics_epe(&m));
    ww_flow_metrics_json(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"epe\": null, \"px1\": null, \"px3\": null") == 0, "json: %s", buf);
    ww_flow_metrics_format(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "EPE n/a  1px n/a  3px n/a") == 0, "log: %s", buf);
}

static void test_depth_metrics(const char *arg)
{
    (void)arg;
    /* Pixels: exact; ratio exactly 1.25 (not < 1.25); gt 0 and NaN (ignored); a negative
     * prediction (taken as WW_DEPTH_EPS); 10 vs 9. */
    const float gt[6] = {2, 4, 0, NAN, 1, 10};
    const float pred[6] = {2, 5, 3, 3, -1, 9};
    ww_depth_metrics m;
    ww_depth_metrics_reset(&m);
    ww_depth_metrics_add(&m, pred, gt, 6);
    double eps = WW_DEPTH_EPS;
    double absrel = (0.0 + 0.25 + (1.0 - eps) + 0.1) / 4;
    double rmse = sqrt((0.0 + 1.0 + (1.0 - eps) * (1.0 - eps) + 1.0) / 4);
    TEST_CHECK(m.valid == 4, "valid pixels %llu, want 4", (unsigned long long)m.valid);
    TEST_CHECK(near(ww_depth_metrics_absrel(&m), absrel, 1e-12), "AbsRel %.12g, want %.12g",
               ww_depth_metrics_absrel(&m), absrel);
    TEST_CHECK(near(ww_depth_metrics_rmse(&m), rmse, 1e-12), "RMSE %.12g, want %.12g",
               ww_depth_metrics_rmse(&m), rmse);
    TEST_CHECK(near(ww_depth_metrics_delta1(&m), 50.0, 1e-12), "delta1 %g",
               ww_depth_metrics_delta1(&m));
    char buf[256];
    ww_depth_metrics_json(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"absrel\": 0.3375, \"rmse\": 0.866025, \"delta1\": 50") == 0,
               "json: %s", buf);
    ww_depth_metrics_format(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "AbsRel 0.3375  RMSE 0.8660  d1 50.00%") == 0, "log: %s", buf);

    /* An infinite prediction is clamped like a negative one; a prediction above the ground
     * truth counts in delta1 through p / g. */
    const float gt2[2] = {1, 1}, pred2[2] = {INFINITY, 1.2f};
    ww_depth_metrics_reset(&m);
    ww_depth_metrics_add(&m, pred2, gt2, 2);
    TEST_CHECK(m.valid == 2 && m.delta1 == 1 && isfinite(ww_depth_metrics_rmse(&m)),
               "inf prediction: %llu valid, %llu in delta1, RMSE %g",
               (unsigned long long)m.valid, (unsigned long long)m.delta1,
               ww_depth_metrics_rmse(&m));

    ww_depth_metrics_reset(&m);
    ww_depth_metrics_add(&m, pred, gt, 0);
    ww_depth_metrics_json(&m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"absrel\": null, \"rmse\": null, \"delta1\": null") == 0,
               "empty json: %s", buf);
}

static void test_seg_metrics(const char *arg)
{
    (void)arg;
    /* 3 classes. Pixel 5 is ignored (255); pixel 6 predicts 7, outside the classes: wrong for
     * class 1 and a false positive of none. Class 0: TP 2, union 4; class 1: TP 2, union 4;
     * class 2: TP 0, union 1. 4 of 7 labelled pixels are right. */
    const uint32_t gt[8] = {0, 0, 1, 1, 2, 255, 1, 0};
    const uint32_t pred[8] = {0, 1, 1, 1, 0, 2, 7, 0};
    char err[ERRLEN] = "", buf[256];
    ww_seg_metrics *m = NULL;
    if (!TEST_OK(NULL, ww_seg_metrics_create(3, &m, err, sizeof err)))
        return;
    ww_seg_metrics_add(m, pred, gt, 8);
    TEST_CHECK(near(ww_seg_metrics_iou(m, 0), 50.0, 1e-12), "IoU 0 %g", ww_seg_metrics_iou(m, 0));
    TEST_CHECK(near(ww_seg_metrics_iou(m, 1), 50.0, 1e-12), "IoU 1 %g", ww_seg_metrics_iou(m, 1));
    TEST_CHECK(ww_seg_metrics_iou(m, 2) == 0.0, "IoU 2 %g", ww_seg_metrics_iou(m, 2));
    TEST_CHECK(isnan(ww_seg_metrics_iou(m, 3)), "IoU of class 3 of 3: %g",
               ww_seg_metrics_iou(m, 3));
    TEST_CHECK(near(ww_seg_metrics_miou(m), 100.0 / 3, 1e-12), "mIoU %g", ww_seg_metrics_miou(m));
    TEST_CHECK(near(ww_seg_metrics_pixel_acc(m), 400.0 / 7, 1e-12), "pixel acc %g",
               ww_seg_metrics_pixel_acc(m));
    ww_seg_metrics_json(m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"miou\": 33.3333, \"pixel_acc\": 57.1429") == 0, "json: %s", buf);
    ww_seg_metrics_format(m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "mIoU 33.33%  acc 57.14%") == 0, "log: %s", buf);

    /* The same pixels over 4 classes: class 3 never occurs, so it does not dilute the mean. */
    ww_seg_metrics *m4 = NULL;
    if (TEST_OK(NULL, ww_seg_metrics_create(4, &m4, err, sizeof err))) {
        ww_seg_metrics_add(m4, pred, gt, 8);
        TEST_CHECK(isnan(ww_seg_metrics_iou(m4, 3)), "absent class IoU %g",
                   ww_seg_metrics_iou(m4, 3));
        TEST_CHECK(near(ww_seg_metrics_miou(m4), 100.0 / 3, 1e-12), "4 classes: mIoU %g",
                   ww_seg_metrics_miou(m4));
        ww_seg_metrics_destroy(m4);
    }

    /* Reset, then only ignored pixels: no numbers. */
    ww_seg_metrics_reset(m);
    ww_seg_metrics_add(m, pred, (const uint32_t[8]){255, 3, 255, 9, 255, 255, 255, 255}, 8);
    TEST_CHECK(isnan(ww_seg_metrics_miou(m)) && isnan(ww_seg_metrics_pixel_acc(m)),
               "ignored only: mIoU %g, acc %g", ww_seg_metrics_miou(m),
               ww_seg_metrics_pixel_acc(m));
    ww_seg_metrics_json(m, buf, sizeof buf);
    TEST_CHECK(strcmp(buf, "\"miou\": null, \"pixel_acc\": null") == 0, "json: %s", buf);
    ww_seg_metrics_destroy(m);
    ww_seg_metrics_destroy(NULL);

    ww_seg_metrics *bad = (ww_seg_metrics *)&bad;
    TEST_STATUS(NULL, ww_seg_metrics_create(0, &bad, err, sizeof err), WW_ERR_INVALID);
    TEST_CHECK(bad == NULL && test_contains(err, "class count 0"), "create(0): %s", err);
    TEST_STATUS(NULL, ww_seg_metrics_create(WW_SEG_MAX_CLASSES + 1, &bad, err, sizeof err),
                WW_ERR_INVALID);
    TEST_CHECK(test_contains(err, "class count 1025"), "create(1025): %s", err);
}

/* ---- plot ------------------------------------------------------------------------------------ */

static int write_text(const char *path, const char *text)
{
    return test_write_bytes(path, text, strlen(text));
}

/* The whole file as a test-owned string, or NULL after recording a failure. */
static char *read_text(const char *path)
{
    return (char *)test_read_bytes(path, NULL);
}

/* ww_plot_svg of log into svg, then the SVG's text (test memory); NULL after recording a failure
 * that starts with what. */
static char *plot_text(const char *log, const char *svg, const char *what)
{
    char err[ERRLEN] = "";
    if (!TEST_OK(NULL, ww_plot_svg(log, svg, err, sizeof err))) {
        TEST_FAIL("%s: %s", what, err);
        return NULL;
    }
    return read_text(svg);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Any leftover temporary of the atomic write in the test directory. */
static int tmp_files_left(void)
{
    DIR *d = opendir(test_tmp_dir());
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

static void test_plot(const char *arg)
{
    (void)arg;
    const char *log = test_tmp_path("metrics.jsonl"), *svg = test_tmp_path("metrics.svg");
    FILE *f = fopen(log, "wb");
    if (!TEST_CHECK(f != NULL, "cannot create %s", log))
        return;
    /* Run information without a step, a blank line, CRLF, escapes and values of every type. */
    fputs("{\"run\": \"flow \\\"tiny\\\" \\u00e9\\ud83d\\ude00\", \"device\": \"cpu\", "
          "\"resumed\": false, \"note\": null}\n\n", f);
    for (int step = 10; step <= 300; step += 10) {
        fprintf(f, "{\"step\": %d, \"loss\": %.6g, \"lr\": %.6g, \"grad_norm\": %.3f, "
                   "\"samples_per_s\": %.2f, \"phase\": \"train\\n\\t\"}%s\n",
                step, 2.0 / (1.0 + step / 50.0), 1e-4 * fmin(1.0, step / 100.0),
                1.0 + 0.1 * (step % 30), 3.0 + 0.01 * step, step == 150 ? "\r" : "");
        if (step % 100 == 0)
            fprintf(f, "{ \"step\" : %d , \"val\" : %s , \"epe\" : %g, \"px1\": %g, "
                       "\"px3\": %g, \"skip\": NaN }\n",
                    step, step == 200 ? "true" : "1", 5.0 - step / 100.0, 60.0 - step / 10.0,
                    20.0 - step / 30.0);
    }
    fputs("{\"step\": 310, \"loss\": -1.5e-1, \"lr\": 0, \"inf\": -Infinity}\n", f);
    fclose(f);

    char *text = plot_text(log, svg, "plot");
    if (!text)
        return;
    TEST_CHECK(strncmp(text, "<?xml", 5) == 0 && strstr(text, "</svg>\n") != NULL,
               "not a complete SVG document");
    const char *titles[] = {"train: loss", "train: lr", "train: grad_norm",
                            "train: samples_per_s", "val: epe", "val: px1", "val: px3"};
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        TEST_CHECK(count_of(text, titles[i]) == 1, "panel title '%s' appears %d times",
                   titles[i], count_of(text, titles[i]));
    TEST_CHECK(count_of(text, "<polyline") == 7, "%d polylines, want 7",
               count_of(text, "<polyline"));
    TEST_CHECK(count_of(text, "class=\"panel\"") == 7, "%d panels, want 7",
               count_of(text, "class=\"panel\""));
    const char *not_panels[] = {"val: skip", "train: inf", "train: phase", "train: run",
                                "train: resumed", "train: note", "val: val", "train: step"};
    for (size_t i = 0; i < sizeof not_panels / sizeof not_panels[0]; i++)
        TEST_CHECK(strstr(text, not_panels[i]) == NULL, "a panel '%s' (not a numeric series)",
                   not_panels[i]);
    /* Training panels come first, in the order their keys appear. */
    const char *loss = strstr(text, "train: loss"), *lr = strstr(text, "train: lr");
    const char *epe = strstr(text, "val: epe");
    TEST_CHECK(loss && lr && epe && loss < lr && lr < epe, "panel order is wrong");
    /* Validation points get markers: 3 per validation panel. */
    TEST_CHECK(count_of(text, "fill=\"#d62728\"") == 9, "%d validation markers, want 9",
               count_of(text, "fill=\"#d62728\""));
    /* Step labels: 300 is a round tick of the 10..310 axis. */
    TEST_CHECK(strstr(text, ">300</text>") != NULL, "no tick label 300 on the step axis");
    TEST_CHECK(tmp_files_left() == 0, "a temporary file is left in %s", test_tmp_dir());

    /* A long run is thinned to at most 1000 drawn points per panel. */
    f = fopen(log, "wb");
    if (!TEST_CHECK(f != NULL, "cannot rewrite %s", log))
        return;
    for (int step = 1; step <= 5000; step++)
        fprintf(f, "{\"step\": %d, \"loss\": %g}\n", step, 1.0 / step);
    fclose(f);
    if (!(text = plot_text(log, svg, "long run")))
        return;
    const char *pts = strstr(text, "points=\"");
    if (TEST_CHECK(pts != NULL, "no polyline in the long-run plot")) {
        int commas = 0;
        for (const char *p = pts + 8; *p && *p != '"'; p++)
            commas += *p == ',';
        TEST_CHECK(commas >= 900 && commas <= 1000, "%d points drawn of 5000", commas);
    }

    /* An empty log still gives a valid plot. */
    write_text(log, "");
    if ((text = plot_text(log, svg, "empty log")))
        TEST_CHECK(strstr(text, "no data yet") && strstr(text, "</svg>"),
                   "empty log: no 'no data yet' SVG");
}

static void test_plot_errors(const char *arg)
{
    (void)arg;
    const char *log = test_tmp_path("bad.jsonl"), *svg = test_tmp_path("bad.svg");
    const struct { const char *line; const char *why; } bad[] = {
        {"{\"step\": 3, \"loss\": }", "expected a value"},
        {"{\"step\": 3, \"loss\": 1,}", "expected a string"},
        {"{\"step\": 3 \"loss\": 1}", "expected ',' or '}'"},
        {"{\"step\": 3, \"loss\": [1, 2]}", "nested"},
        {"{\"step\": 3, \"cfg\": {\"a\": 1}}", "nested"},
        {"{\"step\": 3, \"name\": \"abc}", "unterminated string"},
        {"{\"step\": 3, \"name\": \"a\\qb\"}", "unknown escape"},
        {"{\"step\": 3, \"name\": \"\\ud800x\"}", "surrogate"},
        {"{\"step\": 3, \"name\": \"\\u12G4\"}", "hex"},
        {"{\"step\": 3, \"name\": \"\\u0000\"}", "\\u0000"},
        {"{\"step\": 3, \"name\": \"a\tb\"}", "control character"},
        {"{\"step\": 01}", "malformed number"},
        {"{\"step\": .5}", "expected a value"},
        {"{\"step\": 1.}", "digits after '.'"},
        {"{\"step\": 1e}", "exponent"},
        {"{\"step\": +1}", "expected a value"},
        {"{\"step\": 0x10}", "malformed number"},
        {"{\"step\": tru}", "expected a value"},
        {"{\"step\": 1} x", "text after the object"},
        {"{\"step\": 1}{}", "text after the object"},
        {"[1, 2]", "expected '{'"},
        {"{step: 1}", "expected a string"},
        {"{\"step\" 1}", "expected ':'"},
        {"{\"step\": 1", "expected ',' or '}'"},
    };
    char err[ERRLEN], text[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "{\"step\": 1, \"loss\": 2}\n\n%s\n{\"step\": 4}\n",
                 bad[i].line);
        if (!write_text(log, text))
            return;
        err[0] = '\0';
        TEST_STATUS(NULL, ww_plot_svg(log, svg, err, sizeof err), WW_ERR_INVALID);
        TEST_CHECK(strstr(err, log) && strstr(err, "line 3:") && strstr(err, bad[i].why),
                   "'%s': message '%s' lacks the file, 'line 3:' or '%s'", bad[i].line, err,
                   bad[i].why);
    }
    TEST_CHECK(!test_file_exists(svg), "an SVG was written for a malformed log");
    TEST_CHECK(tmp_files_left() == 0, "a temporary file is left in %s", test_tmp_dir());

    /* The column points at the problem. */
    write_text(log, "{\"step\": 1, \"loss\": x}\n");
    ww_plot_svg(log, svg, err, sizeof err);
    TEST_CHECK(strstr(err, "line 1: column 21:") != NULL, "column: %s", err);

    /* I/O: a missing log, an SVG in a missing directory. */
    const char *missing = test_tmp_path("missing.jsonl");
    TEST_STATUS(NULL, ww_plot_svg(missing, svg, err, sizeof err), WW_ERR_IO);
    TEST_CHECK(strstr(err, missing) && test_contains(err, "cannot open"), "missing log: %s",
               err);
    write_text(log, "{\"step\": 1, \"loss\": 2}\n");
    char nodir[1024];
    snprintf(nodir, sizeof nodir, "%s/no-such-dir/plot.svg", test_tmp_dir());
    TEST_STATUS(NULL, ww_plot_svg(log, nodir, err, sizeof err), WW_ERR_IO);
    TEST_CHECK(strstr(err, "no-such-dir") && test_contains(err, "cannot create"),
               "unwritable SVG: %s", err);
    TEST_STATUS(NULL, ww_plot_svg(log, NULL, NULL, 0), WW_ERR_INVALID);
}

static const ww_test_case tests[] = {
    {"rng_reference", test_rng_reference, NULL},
    {"rng_ranges", test_rng_ranges, NULL},
    {"windows_valid", test_windows_valid, NULL},
    {"windows_deterministic", test_windows_deterministic, NULL},
    {"windows_coverage", test_windows_coverage, NULL},
    {"windows_fallback", test_windows_fallback, NULL},
    {"windows_capacity", test_windows_capacity, NULL},
    {"windows_errors", test_windows_errors, NULL},
    {"schedule", test_schedule, NULL},
    {"flow_metrics", test_flow_metrics, NULL},
    {"depth_metrics", test_depth_metrics, NULL},
    {"seg_metrics", test_seg_metrics, NULL},
    {"plot", test_plot, NULL},
    {"plot_errors", test_plot_errors, NULL},
};

int main(int argc, char **argv)
{
    return ww_test_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
