/* Win-Win window sampling: where the kept squares of tokens lie in one training image.
 *
 * Win-Win trains on a few random, non-overlapping square windows of the token grid and drops
 * every other token (../shared/reference/win-win-method.md). This module only chooses the
 * windows; the training graph gathers their tokens.
 */
#ifndef WW_TRAIN_WINDOWS_H
#define WW_TRAIN_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "ww.h"

/* Largest number of non-overlapping s x s windows in a gh x gw token grid:
 * floor(gh / s) * floor(gw / s); 0 when an argument is < 1 or s exceeds the grid. */
int64_t ww_windows_capacity(int gh, int gw, int s);

/* n random non-overlapping s x s windows of tokens, each fully inside the gh x gw token grid.
 * out (caller-owned, 2 * n entries): out[2 * i] = y and out[2 * i + 1] = x of window i's
 * top-left token.
 *
 * Placement: whole placements are drawn uniformly (every window's top-left corner uniform over
 * the grid) and rejected while two windows overlap, so an accepted placement is uniform over
 * all valid placements. When a bounded number of tries all fail (tight packings), a fallback
 * puts the windows on random distinct cells of a lattice of s x s cells with a random offset,
 * which succeeds whenever n <= ww_windows_capacity(gh, gw, s), i.e. whenever any valid
 * placement exists. The result depends only on the arguments and r's state.
 *
 * WW_ERR_INVALID (out and r untouched) when gh, gw, n or s is < 1, s > gh or s > gw, n windows
 * cannot fit, or r or out is NULL. WW_ERR_OUT_OF_MEMORY when the fallback's scratch list of
 * cells cannot be allocated (out then holds a rejected try). */
ww_status ww_windows_sample(ww_rng *r, int gh, int gw, int n, int s, uint32_t *out, char *err,
                            size_t errlen);

#endif
