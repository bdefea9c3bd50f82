#!/usr/bin/env python3
"""Generate tests/fixtures/train_<task>_<mode>.safetensors: one micro-batch for each tiny model
(tests/fixtures/tiny_<task>.safetensors), with the loss and every gradient at the stored
weights, then 10 AdamW steps on that batch (losses, pre-clip gradient norms, learning rates,
final weights), computed by train_ref.py (croco_ref.py underneath) in float64.

    /usr/bin/python3 tests/reference/make_train_fixtures.py [--out DIR] [--f32-check]

Modes: `full` (every token, output the whole image), `windows` (2 windows of 2 x 2 tokens per
image; flow: frame 2 has frame 1's windows) and, for flow, `windows_indep` (frame 2's windows
differ). Deterministic: numpy PCG64 seeds, torch.set_num_threads(1), float64 on the stored
float32 values (weights, images, targets, pixel weights, learning rates), results rounded to
float32 once; rerunning gives the same bytes. --f32-check also runs everything in float32 and
prints how far that is from the float64 results (what a float32 engine can be expected to
match), and how far perturbing the weights moves the gradients.
See README.md in this directory.
"""

import argparse
import hashlib
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import croco_ref as R  # noqa: E402
import train_ref as T  # noqa: E402
import make_fixtures as MF  # noqa: E402
from convert_croco import st_entry, write_safetensors  # noqa: E402

B, H, W = 2, 64, 96               # micro-batch: token grid 4 x 6
WINDOW_SIZE = 2                   # windows mode: 2 windows of 2 x 2 tokens per image
STEPS = 10
BETAS, EPS, WEIGHT_DECAY, MAX_NORM = (0.9, 0.95), 1e-8, 0.05, 1.0
INVALID_FRACTION = 0.04           # flow, depth: NaN / unknown pixels; seg: ignore (255)
SEG_CLASSES = 5

# (y, x) top-left tokens, [image][window]. Non-overlapping; image 0's second window touches the
# grid's bottom-right corner, image 1's are out of raster order (the later one first) and touch
# the bottom and the right edge.
WINDOWS_F1 = [[(0, 0), (2, 4)], [(2, 2), (0, 4)]]
WINDOWS_F2_INDEP = [[(1, 3), (2, 0)], [(0, 1), (1, 4)]]

# Images and targets, per task. Chosen among 30 to 130 candidates each (--f32-check prints the
# measure): the gradients are piecewise smooth (ReLU gates, |x| in the losses), and with most
# seeds some ReLU input lies so close to 0 that float32 rounding flips its gate and moves whole
# gradient tensors by 1e-3. With these, relative perturbations of 3e-6 of every weight move no
# gradient tensor by more than about 1e-4 (normalised), 1e-5 by more than 1e-4 (depth, seg) or
# 7e-3 (flow).
SEEDS = {"flow": 134, "depth": 111, "seg": 175}


def lr_schedule():
    """Linear warmup over 3 steps to 3e-4, then cosine down to 3e-5 at step 10; float32 values.
    (With a peak of 1e-3 the float32 and float64 trajectories part: Adam's near-sign updates of
    small gradients and the shrinking gradients of seg's random labels amplify rounding, and the
    pre-clip norms differ by up to 3e-2 at step 9; with 3e-4 they agree to 1e-6.)"""
    peak, floor, warm = 3e-4, 3e-5, 3
    lrs = []
    for t in range(1, STEPS + 1):
        if t <= warm:
            lr = peak * t / warm
        else:
            c = math.cos(math.pi * (t - warm) / (STEPS - warm))
            lr = floor + 0.5 * (peak - floor) * (1 + c)
        lrs.append(lr)
    return np.asarray(lrs, np.float32)


def make_batch(task, frames, seed=None):
    """Images [B*F, 3, H, W] normalised float32, full-size targets [B, Ct, H, W] (finite, 0 at
    invalid pixels) and the validity mask [B, H, W]."""
    rng = np.random.default_rng(SEEDS[task] if seed is None else seed)
    mean = np.asarray(R.IMAGENET_MEAN)[None, :, None, None]
    std = np.asarray(R.IMAGENET_STD)[None, :, None, None]
    images = ((rng.random((B * frames, 3, H, W)) - mean) / std).astype(np.float32)
    invalid = rng.random((B, H, W)) < INVALID_FRACTION
    invalid[1, 8:16, 70:82] = True   # a block of them too, inside image 1's window (0, 4)
    if task == "flow":
        target = rng.uniform(-8.0, 8.0, (B, 2, H, W))
    elif task == "depth":
        target = 1.0 / rng.uniform(1.0, 50.0, (B, 1, H, W))
    else:
        target = rng.integers(0, SEG_CLASSES, (B, 1, H, W)).astype(np.float64)
    target = np.where(invalid[:, None], 0.0, target).astype(np.float32)
    return images, target, ~invalid


def weights_of(valid):
    """[N, 1, h, w] float32: 1 / (valid pixels in the whole micro-batch) at valid pixels."""
    n = int(valid.sum())
    w = np.where(valid, np.float32(1.0 / n), np.float32(0.0)).astype(np.float32)
    return w[:, None], n


def f64(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))


def check_window_semantics(model, images, windows):
    """The gathered token path against croco_ref's own forward on images built from the
    windows' pixels stacked vertically (token grid (2G, 2): row-major order = window after
    window, row-major inside) with the true positions: same hooked token maps."""
    frames = images.shape[0] // B
    s = T.PATCH * WINDOW_SIZE
    stacked = torch.stack([torch.cat([images[i, :, T.PATCH * y:T.PATCH * y + s,
                                             T.PATCH * x:T.PATCH * x + s]
                                      for (y, x) in windows[i]], dim=1)
                           for i in range(B * frames)])
    _, pos = T.kept_tokens(windows, B * frames, (H // T.PATCH, W // T.PATCH), WINDOW_SIZE)
    inter = {}
    with torch.no_grad():
        T.forward(model, images, B, windows, WINDOW_SIZE, intermediates=inter)
        args = (stacked[:B], stacked[B:]) if frames == 2 else (stacked,)
        _, ref = model(*args, pos1=pos[:B], pos2=pos[B:] if frames == 2 else None,
                       return_intermediates=True)
    G = windows.shape[1]
    for i in range(4):
        got = inter["maps"][i].reshape(B, G * WINDOW_SIZE ** 2, -1)
        assert torch.allclose(got, ref[f"hook{i}"], rtol=0, atol=1e-12), f"hook{i} differs"


def cross_check_loss(task, out, target, weight, valid, n_valid, loss):
    """The weighted sum against torch's / croco_ref's mean over the valid pixels (the weights
    are float32(1/n), hence a relative tolerance of a few float32 ulps)."""
    with torch.no_grad():
        v = torch.from_numpy(valid)
        if task == "flow":
            gt = torch.where(v[:, None], target, torch.full_like(target, float("nan")))
            ref = R.flow_loss(out, gt)
        elif task == "depth":
            ref = F.l1_loss(out[:, 0][v], target[:, 0][v], reduction="sum") / n_valid
        else:
            ignore = torch.full_like(v, T.SEG_IGNORE, dtype=torch.long)
            ids = torch.where(v, target[:, 0].long(), ignore)
            ref = F.cross_entropy(out, ids, ignore_index=T.SEG_IGNORE)
    err = abs(loss - ref.item())
    assert err <= 1e-6 * abs(ref.item()), f"{task}: loss {loss} vs reference {ref.item()}"
    return ref.item()


def norm_err(got, ref):
    got, ref = got.double(), ref.double()
    d = (got - ref).square().sum().sqrt().item()
    r = ref.square().sum().sqrt().item()
    return d / r if r > 0 else d


def make_fixture(task, mode, out_dir, summary, f32_check):
    wpath = os.path.join(out_dir, f"tiny_{task}.safetensors")
    model, md = T.load_model(wpath)
    assert T.config_from_metadata(md) == MF.TASKS[task]["cfg"], f"{wpath}: config differs"
    frames = 2 if model.cfg.binocular else 1
    images, target_full, valid_full = make_batch(task, frames)
    windows = None
    if mode == "full":
        target, valid = target_full, valid_full
    else:
        f1 = np.asarray(WINDOWS_F1, np.uint32)
        f2 = np.asarray(WINDOWS_F2_INDEP if mode == "windows_indep" else WINDOWS_F1, np.uint32)
        windows = np.concatenate([f1, f2]) if frames == 2 else f1      # [B*F, G, 2]
        target = T.crop_windows(target_full, f1, WINDOW_SIZE)
        valid = T.crop_windows(valid_full[:, None], f1, WINDOW_SIZE)[:, 0]
    weight, n_valid = weights_of(valid)
    lrs = lr_schedule()

    x, tgt, wgt = f64(images), f64(target), f64(weight)
    with torch.no_grad():
        out = T.forward(model, x, B, windows, WINDOW_SIZE)
        loss = T.weighted_loss(task, out, tgt, wgt).item()
        if windows is None:   # the token path with every token = croco_ref's own forward
            args = (x[:B], x[B:]) if frames == 2 else (x,)
            assert torch.allclose(out, model(*args), rtol=0, atol=1e-12)
        else:
            check_window_semantics(model, x, windows)
    ref = cross_check_loss(task, out, tgt, wgt, valid, n_valid, loss)

    res = T.train(model, task, x, B, windows, WINDOW_SIZE, tgt, wgt, [float(v) for v in lrs],
                  BETAS, EPS, WEIGHT_DECAY, MAX_NORM)
    assert res["loss0"].item() == loss
    names = list(res["grads"])

    f32 = lambda t: t.detach().to(torch.float32).numpy()  # noqa: E731
    t = [st_entry("images", images)]
    if windows is not None:
        w = np.ascontiguousarray(windows, dtype="<u4")
        t.append(("windows", "U32", list(w.shape), w.tobytes()))
    t += [st_entry("target", target), st_entry("weight", weight),
          st_entry("loss0", np.asarray([loss], np.float32))]
    t += [st_entry(f"grad.{n}", f32(res["grads"][n])) for n in names]
    t += [st_entry("losses", f32(torch.stack(res["losses"]))),
          st_entry("grad_norms", f32(torch.stack(res["grad_norms"]))),
          st_entry("lrs", lrs)]
    t += [st_entry(f"final.{n}", f32(res["final"][n])) for n in names]
    G = 0 if windows is None else windows.shape[1]
    meta = {"winwin.format": "1", "task": task, "mode": mode,
            "weights": f"tiny_{task}.safetensors",
            "batch": str(B), "height": str(H), "width": str(W), "frames": str(frames),
            "windows": str(G), "window_size": str(WINDOW_SIZE if G else 0),
            "loss": T.LOSS_OF_TASK[task], "valid_pixels": str(n_valid),
            "steps": str(STEPS), "beta1": str(BETAS[0]), "beta2": str(BETAS[1]),
            "eps": repr(EPS), "weight_decay": str(WEIGHT_DECAY), "max_norm": str(MAX_NORM),
            "grad_scale": "1",
            "lr_schedule": "linear warmup over 3 steps to 3e-4, cosine to 3e-5 at step 10",
            "provenance": f"tests/reference/make_train_fixtures.py (train_ref.py, croco_ref.py "
                          f"in float64), batch seed {SEEDS[task]}"}
    name = f"train_{task}_{mode}.safetensors"
    write_safetensors(os.path.join(out_dir, name), t, meta)
    losses = [v.item() for v in res["losses"]]
    norms = [v.item() for v in res["grad_norms"]]
    summary.append(f"{name}: loss0 {loss:.6f} (check {ref:.6f}), valid {n_valid}, "
                   f"losses {losses[0]:.6f} -> {losses[-1]:.6f}, "
                   f"grad norms {norms[0]:.4f} -> {norms[-1]:.4f}")

    if f32_check:
        m32, _ = T.load_model(wpath, torch.float32)
        r32 = T.train(m32, task, x.float(), B, windows, WINDOW_SIZE, tgt.float(), wgt.float(),
                      [float(v) for v in lrs], BETAS, EPS, WEIGHT_DECAY, MAX_NORM,
                      check_torch_adamw=False)
        m0, _ = T.load_model(wpath)
        init = dict(m0.named_parameters())
        g = max((norm_err(r32["grads"][n], res["grads"][n]), n) for n in names)
        fe = max((norm_err(r32["final"][n], res["final"][n]), n) for n in names)
        de = max((norm_err(r32["final"][n].double() - init[n].detach(),
                           res["final"][n] - init[n].detach()), n) for n in names)
        le = max(abs(a.item() - b.item()) / abs(b.item())
                 for a, b in zip(r32["losses"], res["losses"]))
        ne = max(abs(a.item() - b.item()) / abs(b.item())
                 for a, b in zip(r32["grad_norms"], res["grad_norms"]))
        pert = perturbation_check(wpath, task, x, windows, tgt, wgt)
        summary.append(f"  float64, weights x (1 + 3e-6 N(0, 1)): worst gradient tensor "
                       f"{pert[0]:.2e} ({pert[1]})")
        summary.append(f"  float32 run: loss0 rel {abs(r32['loss0'].item() - loss) / loss:.2e}, "
                       f"grads worst {g[0]:.2e} ({g[1]}), losses rel {le:.2e}, norms rel "
                       f"{ne:.2e}, final worst {fe[0]:.2e} ({fe[1]}), update (final - initial) "
                       f"worst {de[0]:.2e} ({de[1]})")


def perturbation_check(wpath, task, x, windows, target, weight, rel=3e-6, trials=4):
    """Worst normalised change of a gradient tensor when every weight is multiplied by
    1 + rel * N(0, 1) (float64): about 8e-6 per 1e-6 where the gradient is smooth, 1e-3 and more
    when a ReLU gate or an |x| flips."""
    model, _ = T.load_model(wpath)
    params = dict(model.named_parameters())
    base = {n: p.detach().clone() for n, p in params.items()}

    def grads():
        for p in params.values():
            p.grad = None
        T.weighted_loss(task, T.forward(model, x, B, windows, WINDOW_SIZE), target,
                        weight).backward()
        return {n: p.grad.clone() for n, p in params.items() if p.grad is not None}

    g0 = grads()
    worst = (0.0, "")
    for trial in range(trials):
        gen = torch.Generator().manual_seed(trial)
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(base[n] * (1 + rel * torch.randn(p.shape, generator=gen,
                                                         dtype=torch.float64)))
        g = grads()
        worst = max([worst] + [(norm_err(g[n], g0[n]), n) for n in g0 if g0[n].norm() > 0])
    return worst


MODES = {"flow": ["full", "windows", "windows_indep"], "depth": ["full", "windows"],
         "seg": ["full", "windows"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--f32-check", action="store_true",
                    help="also train in float32 and print how far that is from float64")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # nothing draws from it; set anyway
    summary = []
    files = []
    for task, modes in MODES.items():
        for mode in modes:
            make_fixture(task, mode, a.out, summary, a.f32_check)
            files.append(f"train_{task}_{mode}.safetensors")
    print("\n".join(summary))
    total = 0
    for f in files:
        p = os.path.join(a.out, f)
        total += os.path.getsize(p)
        with open(p, "rb") as fh:
            h = hashlib.sha256(fh.read()).hexdigest()[:16]
        print(f"  {os.path.getsize(p):9d}  {h}  {f}")
    print(f"  {total:9d}  total bytes of train_*.safetensors")


if __name__ == "__main__":
    main()
