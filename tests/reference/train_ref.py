"""PyTorch reference of one winwin training step (training/train_graph.h), built on croco_ref.py.

What it pins down, for the C trainer's parity test (tests/test_train_parity.c, fixtures made by
make_train_fixtures.py; see README.md here):

- the Win-Win token selection: every image is patch-embedded whole, then only the tokens of its
  windows are kept, window after window, row-major inside a window, each with its true (y, x)
  grid position for RoPE (encoder, decoder self-attention, cross-attention: queries frame 1's
  positions, keys frame 2's); the DPT head runs on each window's own grid;
- the per-pixel losses of core/ww.h's ww_loss (Laplacian bounded for flow, L1 on inverse depth,
  cross-entropy for segmentation), weighted and summed;
- global-norm clipping (torch.nn.utils.clip_grad_norm_) and PyTorch's AdamW, weight decay on
  tensors of 2 or more dims only.

Layouts are those of ww_train_batch: images [B*F, 3, H, W] (flow: every first frame, then every
second frame), windows [B*F, G, 2] of (y, x) top-left tokens, target [B*G', Ct, h, w] and
weight [B*G', 1, h, w] (G' = G windows, or 1 without windows), output [B*G', C, h, w].

    model, md = load_model("tests/fixtures/tiny_flow.safetensors")   # float64
    out = forward(model, images, batch=2, windows=win, window_size=2)
    loss = weighted_loss("flow", out, target, weight)
"""

import json
import os
import struct
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import croco_ref as R  # noqa: E402

PATCH = 16
LAPLACE_A, LAPLACE_B = 0.25, 4.0   # CroCo-Flow's LaplacianLossBounded
SEG_IGNORE = 255


# --------------------------------------------------------------------------------------------
# model files
# --------------------------------------------------------------------------------------------

_ST_NP = {"F32": np.dtype("<f4"), "U32": np.dtype("<u4"), "U8": np.dtype("u1"),
          "F64": np.dtype("<f8"), "I64": np.dtype("<i8")}


def read_safetensors(path) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """{name: array} in header order, and the metadata. Only the dtypes above."""
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    hdr = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = hdr.pop("__metadata__", {})
    data = buf[8 + n:]
    out = {}
    for name, e in hdr.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], _ST_NP[e["dtype"]]).reshape(e["shape"])
    return out, meta


def config_from_metadata(md: Dict[str, str]) -> R.CroCoConfig:
    ints = lambda k: int(md[k])  # noqa: E731
    return R.CroCoConfig(
        enc_embed_dim=ints("enc_embed_dim"), enc_depth=ints("enc_depth"),
        enc_num_heads=ints("enc_num_heads"), dec_embed_dim=ints("dec_embed_dim"),
        dec_depth=ints("dec_depth"), dec_num_heads=ints("dec_num_heads"),
        layer_dims=[int(v) for v in md["layer_dims"].split(",")],
        feature_dim=ints("feature_dim"), head_hidden=int(md.get("head_hidden", "0")),
        out_channels=ints("out_channels"), head_type=md["head"],
        patch_size=ints("patch_size"))


def load_model(path, dtype=torch.float64) -> Tuple[R.CroCoRef, Dict[str, str]]:
    """A CroCoRef holding a model file's weights (the stored float32 values, widened exactly),
    in `dtype`, in eval mode (the semseg head's Dropout is a no-op, as in the C trainer)."""
    tensors, md = read_safetensors(path)
    model = R.CroCoRef(config_from_metadata(md)).to(dtype)
    names = list(model.state_dict().keys())
    if names != list(tensors.keys()):
        raise ValueError(f"{path}: tensor names or order differ from CroCoRef's state dict")
    model.load_state_dict({k: torch.from_numpy(np.array(v)).to(dtype)
                           for k, v in tensors.items()}, strict=True)
    model.eval()
    return model, md


def decayed(name: str, p: torch.Tensor) -> bool:
    """Weight decay applies to weight matrices and kernels (2 or more dims), not to norms and
    biases."""
    return p.dim() >= 2


# --------------------------------------------------------------------------------------------
# forward with kept tokens
# --------------------------------------------------------------------------------------------

def kept_tokens(windows: Optional[np.ndarray], n_images: int, grid: Tuple[int, int],
                window_size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Token indices (n_images, n) into the row-major grid and their (y, x) positions
    (n_images, n, 2). windows None: every token, row-major. Else windows (n_images, G, 2) of
    top-left (y, x): window after window, row-major inside each."""
    h, w = grid
    if windows is None:
        pos = R.grid_positions(h, w)
        return (torch.arange(h * w)[None].repeat(n_images, 1),
                pos[None].repeat(n_images, 1, 1))
    windows = np.asarray(windows, np.int64)
    if windows.shape[0] != n_images or windows.shape[2] != 2:
        raise ValueError(f"windows {windows.shape}: expected ({n_images}, G, 2)")
    ws = window_size
    local = R.grid_positions(ws, ws)                           # (ws*ws, 2) row-major
    pos = torch.from_numpy(windows)[:, :, None, :] + local[None, None]   # (n, G, ws*ws, 2)
    pos = pos.reshape(n_images, -1, 2)
    if (pos[..., 0] >= h).any() or (pos[..., 1] >= w).any() or (pos < 0).any():
        raise ValueError("a window leaves the token grid")
    for i in range(n_images):
        if len(set(map(tuple, pos[i].tolist()))) != pos.shape[1]:
            raise ValueError(f"image {i}: windows overlap")
    return pos[..., 0] * w + pos[..., 1], pos


def _gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (n, N, C), idx (n, k) -> (n, k, C)."""
    return torch.gather(x, 1, idx[..., None].expand(-1, -1, x.shape[-1]))


def forward(model: R.CroCoRef, images: torch.Tensor, batch: int,
            windows: Optional[np.ndarray] = None, window_size: int = 0,
            intermediates: Optional[dict] = None) -> torch.Tensor:
    """images [B*F, 3, H, W] (flow: frames 1 of the batch, then frames 2). windows None: every
    token, output [B, C, H, W]. Else windows [B*F, G, 2] (flow: frame f*B + b) and output
    [B*G, C, 16*ws, 16*ws], index b*G + g: the DPT run on each frame-1 window's own grid."""
    cfg = model.cfg
    frames = 2 if cfg.binocular else 1
    if images.shape[0] != batch * frames:
        raise ValueError(f"images {tuple(images.shape)}: expected {batch * frames} images")
    x, grid = model.patch_embed(images)                          # (B*F, N, D), token grid
    idx, pos = kept_tokens(windows, images.shape[0], grid, window_size)
    x = _gather(x, idx)
    enc = []
    for blk in model.enc_blocks:
        x = blk(x, pos)
        enc.append(x)
    enc[-1] = model.enc_norm(enc[-1])
    blocks = [e[:batch] for e in enc]                            # frame 1's block outputs
    if cfg.binocular:
        f1, f2 = enc[-1][:batch], enc[-1][batch:]
        blocks += model.decode(f1, pos[:batch], f2, pos[batch:])
    maps = [blocks[k] for k in model.hooks]                      # (B, n, C_i)
    if windows is None:
        dpt_grid = grid
    else:
        ws = window_size
        G = np.asarray(windows).shape[1]
        maps = [m.reshape(batch * G, ws * ws, m.shape[-1]) for m in maps]
        dpt_grid = (ws, ws)
    if intermediates is not None:
        intermediates.update(idx=idx, pos=pos, maps=maps)
    return model.head.dpt(maps, dpt_grid)


def crop_windows(full: np.ndarray, windows: np.ndarray, window_size: int) -> np.ndarray:
    """full [B, C, H, W] pixels, windows [B, G, 2] (frame 1's) -> [B*G, C, 16ws, 16ws]: each
    window's pixels (rows 16y .. 16y + 16ws - 1, columns likewise)."""
    s = PATCH * window_size
    out = [full[b, :, PATCH * y:PATCH * y + s, PATCH * x:PATCH * x + s]
           for b in range(full.shape[0]) for (y, x) in np.asarray(windows[b])]
    return np.ascontiguousarray(np.stack(out))


# --------------------------------------------------------------------------------------------
# losses (core/ww.h, ww_loss)
# --------------------------------------------------------------------------------------------

LOSS_OF_TASK = {"flow": "laplacian", "depth": "l1", "seg": "cross_entropy"}


def pixel_loss(task: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """l per pixel, (N, H, W), before weighting. pred (N, C, H, W), target (N, Ct, H, W) (finite
    everywhere: invalid pixels hold 0 and get weight 0)."""
    kind = LOSS_OF_TASK[task]
    if kind == "laplacian":          # C = Ct + 1, last channel the raw confidence
        ct = target.shape[1]
        c = (LAPLACE_B - LAPLACE_A) * torch.sigmoid(pred[:, ct]) + LAPLACE_A
        return (pred[:, :ct] - target).abs().sum(dim=1) / c + torch.log(c)
    if kind == "l1":                 # C = Ct
        return (pred - target).abs().sum(dim=1)
    # cross-entropy: Ct = 1, class ids as floats; an id outside [0, C) gives 0
    ids = target[:, 0].round().long()
    ok = (ids >= 0) & (ids < pred.shape[1])
    lse = torch.logsumexp(pred, dim=1)
    picked = torch.gather(pred, 1, torch.where(ok, ids, 0)[:, None])[:, 0]
    return torch.where(ok, lse - picked, torch.zeros_like(lse))


def weighted_loss(task: str, pred, target, weight) -> torch.Tensor:
    """The micro-batch loss: sum over pixels of weight * l (weight 0 pixels contribute 0)."""
    w = weight[:, 0]
    l = pixel_loss(task, pred, target)
    return torch.where(w != 0, w * l, torch.zeros_like(l)).sum()


# --------------------------------------------------------------------------------------------
# optimiser
# --------------------------------------------------------------------------------------------

class AdamW:
    """PyTorch's AdamW (decoupled decay), written out in the parameters' dtype:
        p <- p - lr * wd * p
        m <- b1 m + (1 - b1) g           v <- b2 v + (1 - b2) g^2
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    weight decay only on the parameters `decayed` says yes to."""

    def __init__(self, named_params, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05):
        self.params = [(n, p) for n, p in named_params]
        self.betas, self.eps, self.wd = betas, eps, weight_decay
        self.m = [torch.zeros_like(p) for _, p in self.params]
        self.v = [torch.zeros_like(p) for _, p in self.params]

    @torch.no_grad()
    def step(self, t: int, lr: float):
        b1, b2 = self.betas
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        for (n, p), m, v in zip(self.params, self.m, self.v):
            g = p.grad
            if decayed(n, p):
                p.mul_(1 - lr * self.wd)
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v / bc2).sqrt() + self.eps
            p.sub_(lr * (m / bc1) / denom)


def torch_adamw(named_params, betas, eps, weight_decay):
    """torch.optim.AdamW with the same two groups (for the cross-check)."""
    dec = [p for n, p in named_params if decayed(n, p)]
    rest = [p for n, p in named_params if not decayed(n, p)]
    return torch.optim.AdamW([{"params": dec, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}],
                             lr=0.0, betas=betas, eps=eps, foreach=False)


# --------------------------------------------------------------------------------------------
# a training run on one micro-batch
# --------------------------------------------------------------------------------------------

def train(model: R.CroCoRef, task: str, images, batch, windows, window_size, target, weight,
          lrs: List[float], betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05, max_norm=1.0,
          check_torch_adamw=True) -> dict:
    """Step 0: loss and gradients. Then len(lrs) optimiser steps on the same micro-batch: loss
    and gradients at the current parameters, clip_grad_norm_(max_norm) (pre-clip norm kept),
    AdamW with lr = lrs[t-1] at step t. Tensors are in the model's dtype.
    Returns loss0, grads {name}, losses, grad_norms, final {name}."""
    named = list(model.named_parameters())
    params = [p for _, p in named]

    def loss_and_grads():
        for p in params:
            p.grad = None
        out = forward(model, images, batch, windows, window_size)
        loss = weighted_loss(task, out, target, weight)
        loss.backward()
        for p in params:   # unused parameters (refinenet4.resConfUnit1): gradient 0, not None,
            if p.grad is None:   # so that AdamW still decays them, as over a flat array
                p.grad = torch.zeros_like(p)
        return loss.detach().clone()

    res = {"loss0": loss_and_grads(),
           "grads": {n: p.grad.detach().clone() for n, p in named},
           "losses": [], "grad_norms": []}
    opt = AdamW(named, betas, eps, weight_decay)
    shadow = shadow_opt = None
    if check_torch_adamw:
        shadow = [p.detach().clone().requires_grad_(True) for p in params]
        shadow_opt = torch_adamw(list(zip([n for n, _ in named], shadow)), betas, eps,
                                 weight_decay)
    for t, lr in enumerate(lrs, start=1):
        res["losses"].append(loss_and_grads())
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        res["grad_norms"].append(norm.detach().clone())
        opt.step(t, lr)
        if shadow is not None:
            for s, p in zip(shadow, params):
                s.grad = p.grad.detach().clone()
            for grp in shadow_opt.param_groups:
                grp["lr"] = lr
            shadow_opt.step()
            for (n, p), s in zip(named, shadow):
                if not torch.allclose(p, s, rtol=1e-12, atol=1e-14):
                    raise AssertionError(f"step {t}: {n}: explicit AdamW differs from "
                                         f"torch.optim.AdamW by "
                                         f"{(p - s).abs().max().item():.3g}")
                with torch.no_grad():
                    s.copy_(p)  # keep both on the same trajectory (last-bit differences)
    for p in params:
        p.grad = None
    res["final"] = {n: p.detach().clone() for n, p in named}
    return res
