#include "windows.h"

#include <stdlib.h>

#include "train_error.h"

/* Whole-placement tries before the lattice fallback. Two windows covering a quarter of the grid
 * (the paper's setting) are accepted at the first or second try; only near-tight packings get
 * here, and there rejection would rarely succeed at all. */
enum { WINDOW_TRIES = 1000 };

/* Every s x s window contains exactly one token (y, x) with (y + 1) % s == 0 and
 * (x + 1) % s == 0 (s consecutive integers hold exactly one number of each residue), and
 * non-overlapping windows contain different ones; so no placement holds more windows than the
 * grid holds such tokens, and the lattice placement reaches that count. */
int64_t ww_windows_capacity(int gh, int gw, int s)
{
    if (gh < 1 || gw < 1 || s < 1 || s > gh || s > gw)
        return 0;
    return (int64_t)(gh / s) * (int64_t)(gw / s);
}

static int overlaps(const uint32_t *out, int i, int s)
{
    for (int j = 0; j < i; j++) {
        int64_t dy = (int64_t)out[2 * i] - out[2 * j];
        int64_t dx = (int64_t)out[2 * i + 1] - out[2 * j + 1];
        if (dy < s && dy > -s && dx < s && dx > -s)
            return 1;
    }
    return 0;
}

/* A try that meets an overlap is abandoned before drawing its remaining windows: acceptance
 * depends on the whole placement either way, so uniformity over valid placements is kept. */
static int sample_rejection(ww_rng *r, int gh, int gw, int n, int s, uint32_t *out)
{
    uint32_t ny = (uint32_t)(gh - s + 1), nx = (uint32_t)(gw - s + 1);
    for (int t = 0; t < WINDOW_TRIES; t++) {
        int i = 0;
        for (; i < n; i++) {
            out[2 * i] = ww_rng_below(r, ny);
            out[2 * i + 1] = ww_rng_below(r, nx);
            if (overlaps(out, i, s))
                break;
        }
        if (i == n)
            return 1;
    }
    return 0;
}

static ww_status sample_lattice(ww_rng *r, int gh, int gw, int n, int s, uint32_t *out,
                                char *err, size_t errlen)
{
    uint32_t rows = (uint32_t)(gh / s), cols = (uint32_t)(gw / s);
    size_t cells = (size_t)rows * cols;
    uint32_t *order = malloc(cells * sizeof *order);
    if (!order)
        return ww_train_error(err, errlen, WW_ERR_OUT_OF_MEMORY,
                              "windows: out of memory for %zu lattice cells", cells);
    for (size_t c = 0; c < cells; c++)
        order[c] = (uint32_t)c;
    /* The lattice slides by a random offset inside the slack the grid leaves, so that the
     * fallback still varies where the windows lie. */
    uint32_t oy = ww_rng_below(r, (uint32_t)(gh - (int)rows * s + 1));
    uint32_t ox = ww_rng_below(r, (uint32_t)(gw - (int)cols * s + 1));
    for (int i = 0; i < n; i++) {
        /* Partial Fisher-Yates: n distinct cells in random order. */
        size_t j = (size_t)i + ww_rng_below(r, (uint32_t)(cells - (size_t)i));
        uint32_t c = order[j];
        order[j] = order[i];
        order[i] = c;
        out[2 * i] = oy + (c / cols) * (uint32_t)s;
        out[2 * i + 1] = ox + (c % cols) * (uint32_t)s;
    }
    free(order);
    return WW_OK;
}

ww_status ww_windows_sample(ww_rng *r, int gh, int gw, int n, int s, uint32_t *out, char *err,
                            size_t errlen)
{
    if (gh < 1 || gw < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "windows: token grid %dx%d (height x width) must be at least 1x1",
                              gh, gw);
    if (s < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "windows: window size %d must be at least 1", s);
    if (n < 1)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "windows: window count %d must be at least 1", n);
    if (s > gh || s > gw)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "windows: window size %d exceeds the %dx%d (height x width) token "
                              "grid", s, gh, gw);
    int64_t cap = ww_windows_capacity(gh, gw, s);
    if (n > cap)
        return ww_train_error(err, errlen, WW_ERR_INVALID,
                              "windows: %d windows of %dx%d tokens cannot fit without overlap in "
                              "a %dx%d token grid (at most %lld)", n, s, s, gh, gw,
                              (long long)cap);
    if (!r || !out)
        return ww_train_error(err, errlen, WW_ERR_INVALID, "windows: rng or output is NULL");
    if (sample_rejection(r, gh, gw, n, s, out))
        return WW_OK;
    return sample_lattice(r, gh, gw, n, s, out, err, errlen);
}
