#!/usr/bin/env python3
"""PyTorch timings of the reference model (tests/reference/croco_ref.py), for winwin-bench model.

Prints one line per resolution: "torch TASK SIZE WxH MEDIAN_MS P95_MS" (a flow row times one
frame pair: two encoders and the decoder). Needs torch and numpy (Debian: python3-torch);
exits 3 when they are missing, so that the caller can leave the column empty.
"""
import argparse
import os
import sys
import time

try:
    import torch
except ImportError:
    sys.exit(3)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import croco_ref  # noqa: E402

# Same sizes as ww_model_preset() in core/model.c.
SIZES = {
    "tiny": (192, 12, 3, 192, 8, 3),
    "small": (384, 12, 6, 384, 12, 6),
    "base": (768, 12, 12, 768, 12, 12),
    "croco-flow": (1024, 24, 16, 768, 12, 12),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["flow", "depth", "seg"], required=True)
    ap.add_argument("--size", choices=sorted(SIZES), required=True)
    ap.add_argument("--res", action="append", required=True, help="WxH, repeatable")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    ed, edep, eh, dd, ddep, dh = SIZES[a.size]
    flow = a.task == "flow"
    cfg = croco_ref.CroCoConfig(
        enc_embed_dim=ed, enc_depth=edep, enc_num_heads=eh,
        dec_embed_dim=dd if flow else 0, dec_depth=ddep if flow else 0,
        dec_num_heads=dh if flow else 0,
        out_channels=3 if flow else 1 if a.task == "depth" else 19,
        head_type="semseg" if a.task == "seg" else "regression")
    model = croco_ref.CroCoRef(cfg).eval()
    for res in a.res:
        w, h = (int(v) for v in res.split("x"))
        hp, wp = croco_ref.padded_size(h, w)
        x1 = torch.randn(1, 3, hp, wp)
        x2 = torch.randn(1, 3, hp, wp) if flow else None
        times = []
        with torch.no_grad():
            model(x1, x2)  # warm-up
            for _ in range(max(1, a.runs)):
                t0 = time.perf_counter()
                model(x1, x2)
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        print(f"torch {a.task} {a.size} {w}x{h} {times[len(times) // 2]:.2f} {p95:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
