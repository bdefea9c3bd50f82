/* Plots of the trainer's JSONL metrics log as one self-contained SVG file.
 *
 * The log holds one flat JSON object per line. Training lines look like
 *   {"step": 10, "loss": 0.53, "lr": 0.0001, "grad_norm": 1.2, "samples_per_s": 3.1}
 * and validation lines carry "val": 1 (or true) besides their metrics:
 *   {"step": 100, "val": 1, "epe": 2.1, "px1": 40.2, "px3": 12.0}
 * Every numeric key other than "step" and "val" is a series plotted against "step": one panel
 * per training key ("train: loss", "train: lr", ...) in the order keys first appear, then one per
 * validation key ("val: epe", ...). Strings, booleans and nulls are ignored, and so are
 * non-finite numbers (NaN, Infinity, -Infinity are accepted as Python's json module writes them)
 * and lines without a numeric "step" (run information). Blank lines are skipped.
 */
#ifndef WW_TRAIN_PLOT_H
#define WW_TRAIN_PLOT_H

#include <stddef.h>

#include "ww.h"

/* Read jsonl_path and write the panels to svg_path, atomically: into svg_path.tmp.PID first,
 * renamed over svg_path only when complete, so a viewer never sees a half-written plot. A log
 * without any point gives an SVG that says so.
 *
 * WW_ERR_IO when the log cannot be read or the SVG written (message: the path and the system's
 * reason); WW_ERR_INVALID when a line is not a flat JSON object (message: "PATH: line N: column
 * C: problem"; nested objects and arrays count as malformed); WW_ERR_OUT_OF_MEMORY. */
ww_status ww_plot_svg(const char *jsonl_path, const char *svg_path, char *err, size_t errlen);

#endif
