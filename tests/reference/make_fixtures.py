#!/usr/bin/env python3
"""Generate tests/fixtures/: tiny random CroCo-family models (flow, depth, seg) and, for each, the
inputs, expected outputs and intermediates at two resolutions, computed by croco_ref.py.

    /usr/bin/python3 tests/reference/make_fixtures.py [--out DIR]

Deterministic: weights and images come from numpy's PCG64 generator with fixed seeds, the
reference runs single-threaded in float64 (weights are the stored float32 values, exactly), and
the results are rounded to float32 once at the end; rerunning gives the same bytes.
See README.md in this directory for what each file holds.
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import croco_ref as R  # noqa: E402
from convert_croco import st_entry, write_safetensors, MEAN, STD  # noqa: E402

LAYER_DIMS = [8, 16, 24, 32]
SEG_CLASSES = ["road", "sky", "building", "vegetation", "car"]
SEG_PALETTE = [(128, 64, 128), (70, 130, 180), (70, 70, 70), (107, 142, 35), (0, 0, 142)]
# (H, W): a multiple of 32, and a portrait size that is not (padded to 96 x 64)
RESOLUTIONS = [(64, 96), (70, 50)]

TASKS = {
    # binocular: enc and dec widths (head dims 16 and 12) differ on purpose; dec_depth 3 ->
    # step 1, hooks [3, 4, 5, 6]: the last encoder output (32 channels), the 3 decoder blocks (24)
    "flow": dict(seed=1, cfg=R.CroCoConfig(
        enc_embed_dim=32, enc_depth=4, enc_num_heads=2, dec_embed_dim=24, dec_depth=3,
        dec_num_heads=2, layer_dims=LAYER_DIMS, feature_dim=8, head_hidden=8, out_channels=3,
        head_type="regression")),
    # monocular, enc_depth 4 -> step 1, hooks [0, 1, 2, 3]
    "depth": dict(seed=2, cfg=R.CroCoConfig(
        enc_embed_dim=32, enc_depth=4, enc_num_heads=2, dec_embed_dim=0, dec_depth=0,
        dec_num_heads=0, layer_dims=LAYER_DIMS, feature_dim=8, head_hidden=8, out_channels=1,
        head_type="regression")),
    # monocular, head dim 12 (RoPE halves of 6: a 3-entry frequency table), enc_depth 8 ->
    # step 2, hooks [1, 3, 5, 7]; semseg head, 5 classes
    "seg": dict(seed=3, cfg=R.CroCoConfig(
        enc_embed_dim=24, enc_depth=8, enc_num_heads=2, dec_embed_dim=0, dec_depth=0,
        dec_num_heads=0, layer_dims=LAYER_DIMS, feature_dim=8, head_hidden=0,
        out_channels=len(SEG_CLASSES), head_type="semseg")),
}


def weights_metadata(task, cfg, seed):
    md = {"winwin.format": "1", "task": task,
          "enc_embed_dim": str(cfg.enc_embed_dim), "enc_depth": str(cfg.enc_depth),
          "enc_num_heads": str(cfg.enc_num_heads), "dec_embed_dim": str(cfg.dec_embed_dim),
          "dec_depth": str(cfg.dec_depth), "dec_num_heads": str(cfg.dec_num_heads),
          "layer_dims": ",".join(map(str, cfg.layer_dims)), "feature_dim": str(cfg.feature_dim),
          "head_hidden": str(cfg.head_hidden), "head": cfg.head_type,
          "out_channels": str(cfg.out_channels), "patch_size": str(cfg.patch_size),
          "pos_embed": "RoPE100", "mean": MEAN, "std": STD,
          "hooks": ",".join(map(str, R.hooks(cfg)))}
    if cfg.head_type != "regression":
        del md["head_hidden"]  # regression heads only
    if task == "seg":
        md["classes"] = ",".join(SEG_CLASSES)
        md["palette"] = ";".join(",".join(map(str, c)) for c in SEG_PALETTE)
    md["provenance"] = f"random init by tests/reference/make_fixtures.py seed {seed}"
    return md


def smooth_image(rng, H, W):
    """uint8 (H, W, 3): bilinear interpolation of random control points every ~12 px, plus
    noise (sigma 6)."""
    gh, gw = max(2, H // 12 + 1), max(2, W // 12 + 1)
    ctrl = rng.uniform(0.0, 255.0, (gh, gw, 3))
    y = np.linspace(0.0, gh - 1.0, H)
    x = np.linspace(0.0, gw - 1.0, W)
    y0 = np.minimum(np.floor(y).astype(int), gh - 2)
    x0 = np.minimum(np.floor(x).astype(int), gw - 2)
    fy = (y - y0)[:, None, None]
    fx = (x - x0)[None, :, None]
    c00 = ctrl[y0][:, x0]
    c01 = ctrl[y0][:, x0 + 1]
    c10 = ctrl[y0 + 1][:, x0]
    c11 = ctrl[y0 + 1][:, x0 + 1]
    img = (1 - fy) * ((1 - fx) * c00 + fx * c01) + fy * ((1 - fx) * c10 + fx * c11)
    img = img + rng.normal(0.0, 6.0, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def f32(t):
    """float32 numpy, batch dimension dropped."""
    return t.detach()[0].to(torch.float32).numpy()


def make_task(task, spec, out_dir, summary):
    cfg, seed = spec["cfg"], spec["seed"]
    model = R.CroCoRef(cfg)
    R.init_random_(model, seed)
    model.eval()
    sd = model.state_dict()
    wname = f"tiny_{task}.safetensors"
    md = weights_metadata(task, cfg, seed)
    write_safetensors(os.path.join(out_dir, wname),
                      [st_entry(n, t.numpy()) for n, t in sd.items()], md)
    nparam = sum(t.numel() for t in sd.values())
    summary.append(f"{wname}: {len(sd)} tensors, {nparam} parameters, hooks {R.hooks(cfg)}")
    model.double()

    for ri, (H, W) in enumerate(RESOLUTIONS):
        rng = np.random.default_rng(1000 * seed + ri)
        if cfg.binocular:
            big = smooth_image(rng, H + 4, W + 6)        # frame 2 = frame 1 moved by (-5, -3)
            im1 = big[:H, :W]
            im2 = np.clip(big[3:3 + H, 5:5 + W].astype(np.int16)
                          + rng.integers(-2, 3, (H, W, 3)), 0, 255).astype(np.uint8)
            ims = [np.ascontiguousarray(im1), np.ascontiguousarray(im2)]
        else:
            ims = [smooth_image(rng, H, W)]
        x32 = [R.pad_input(R.normalize_rgb8(im)) for im in ims]   # what the model sees (f32)
        with torch.no_grad():
            out, inter = R.run_padded(model, *[R.normalize_rgb8(im).double() for im in ims],
                                      return_intermediates=True)
        Hp, Wp = x32[0].shape[-2:]
        t = [st_entry("output", f32(out)), st_entry("input1", x32[0][0].numpy())]
        names = ["enc1", "enc2", "dec"] + [f"hook{i}" for i in range(4)] \
            + [f"act{i}" for i in range(4)] + ["path4", "path3", "path2", "path1"]
        for n in names:
            if n in inter:
                t.append(st_entry(n, f32(inter[n])))
        for i, im in enumerate(ims):
            t.append(st_entry(f"image{i + 1}", im))
        iname = f"tiny_{task}_{H}x{W}.safetensors"
        imd = {"winwin.format": "1", "task": task, "weights": wname,
               "height": str(H), "width": str(W), "padded_height": str(Hp),
               "padded_width": str(Wp), "token_grid": f"{Hp // 16}x{Wp // 16}",
               "provenance": f"tests/reference/make_fixtures.py, croco_ref.py in float64, images "
                             f"seed {1000 * seed + ri}"}
        write_safetensors(os.path.join(out_dir, iname), t, imd)
        o = out.to(torch.float32)
        summary.append(f"{iname}: {len(t)} tensors, output {tuple(o.shape[1:])} "
                       f"range [{o.min().item():.3f}, {o.max().item():.3f}] "
                       f"std {o.std().item():.3f}; padded {Hp}x{Wp}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # nothing draws from it; set anyway
    os.makedirs(a.out, exist_ok=True)
    summary = []
    for task, spec in TASKS.items():
        make_task(task, spec, a.out, summary)
    print("\n".join(summary))
    total = 0
    for f in sorted(os.listdir(a.out)):
        if f.endswith(".safetensors"):
            p = os.path.join(a.out, f)
            total += os.path.getsize(p)
            with open(p, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()[:16]
            print(f"  {os.path.getsize(p):9d}  {h}  {f}")
    print(f"  {total:9d}  total bytes in {a.out}")


if __name__ == "__main__":
    main()
