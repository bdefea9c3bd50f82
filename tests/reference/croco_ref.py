"""PyTorch reference of the CroCo v2 ViT family that winwin runs (torch + numpy only).

Written from ../shared/reference/croco-architecture.md; parameter names and shapes are those of
the published checkpoints, so `load_state_dict` accepts a converted checkpoint (aliases removed).
It is the ground truth the C engine is tested against (tests/fixtures/, see README.md here) and
the model the converter test builds its checkpoints with. Nothing here is tuned for speed.

    model = CroCoRef(CroCoConfig(...))       # binocular when dec_depth > 0, monocular otherwise
    out = model(img1, img2)                  # (B, C_out, H, W); H, W multiples of 32
    out, inter = model(img1, img2, return_intermediates=True)
    out = run_padded(model, img1, img2)      # any H, W: pad bottom/right, run, crop
"""

import dataclasses
import math
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-6
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ROPE_BASE = 100.0
PAD_MULTIPLE = 32  # patch 16 x the DPT head's factor 2


# --------------------------------------------------------------------------------------------
# configuration and the hook rule
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class CroCoConfig:
    enc_embed_dim: int = 768
    enc_depth: int = 12
    enc_num_heads: int = 12
    dec_embed_dim: int = 768
    dec_depth: int = 12          # 0: monocular (encoder only)
    dec_num_heads: int = 12
    layer_dims: List[int] = dataclasses.field(default_factory=lambda: [96, 192, 384, 768])
    feature_dim: int = 256
    head_hidden: int = 32        # regression head only
    out_channels: int = 3
    head_type: str = "regression"  # or "semseg"
    patch_size: int = 16

    @property
    def binocular(self) -> bool:
        return self.dec_depth > 0

    def validate(self):
        if self.patch_size != 16:
            raise ValueError("patch_size must be 16")
        dims = [(self.enc_embed_dim, self.enc_num_heads, "enc")]
        if self.binocular:
            dims.append((self.dec_embed_dim, self.dec_num_heads, "dec"))
        for d, h, what in dims:
            if h <= 0 or d % h:
                raise ValueError(f"{what}_embed_dim {d} is not a multiple of {what}_num_heads {h}")
            if (d // h) % 4:
                raise ValueError(f"{what} head dim {d // h} is not a multiple of 4 (RoPE-2D)")
        if len(self.layer_dims) != 4:
            raise ValueError("layer_dims needs 4 values")
        if self.head_type not in ("regression", "semseg"):
            raise ValueError("head_type must be 'regression' or 'semseg'")
        if self.head_type == "regression" and self.feature_dim % 2:
            raise ValueError("feature_dim must be even for the regression head")
        hooks(self)  # raises on negative hooks


def hook_step(cfg: CroCoConfig) -> int:
    if cfg.binocular:
        return {8: 3, 12: 4, 24: 8}.get(cfg.dec_depth, max(1, cfg.dec_depth // 3))
    return max(1, cfg.enc_depth // 4)


def hooks(cfg: CroCoConfig) -> List[int]:
    """Indices into the list of block outputs: encoder blocks 0..enc_depth-1 (frame 1), then
    decoder blocks enc_depth..enc_depth+dec_depth-1 (binocular only)."""
    last = cfg.enc_depth + cfg.dec_depth - 1 if cfg.binocular else cfg.enc_depth - 1
    step = hook_step(cfg)
    h = [last - i * step for i in (3, 2, 1, 0)]
    if h[0] < 0:
        raise ValueError(f"hook rule gives negative hooks {h} (enc_depth {cfg.enc_depth}, "
                         f"dec_depth {cfg.dec_depth})")
    return h


def hook_dims(cfg: CroCoConfig) -> List[int]:
    """Channel count of each hooked token map (the input of act_postprocess[i])."""
    return [cfg.enc_embed_dim if k < cfg.enc_depth else cfg.dec_embed_dim for k in hooks(cfg)]


# --------------------------------------------------------------------------------------------
# RoPE-2D
# --------------------------------------------------------------------------------------------

def grid_positions(h: int, w: int, device=None) -> torch.Tensor:
    """(h*w, 2) int64 (y, x) positions, tokens row-major (index = y * w + x)."""
    y = torch.arange(h, device=device).repeat_interleave(w)
    x = torch.arange(w, device=device).repeat(h)
    return torch.stack([y, x], dim=1)


def rope_cos_sin(pos1d: torch.Tensor, d: int, dtype):
    """cos, sin of angle[p][j] = p * inv_freq[j mod d/2], inv_freq[i] = 100^(-2i/d), computed in
    double precision. pos1d (..., N) -> (..., N, d)."""
    i = torch.arange(d // 2, dtype=torch.float64, device=pos1d.device)
    inv_freq = 1.0 / ROPE_BASE ** (2.0 * i / d)
    inv_freq = torch.cat([inv_freq, inv_freq])
    ang = pos1d.to(torch.float64)[..., None] * inv_freq
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(t: torch.Tensor) -> torch.Tensor:
    h = t.shape[-1] // 2
    return torch.cat([-t[..., h:], t[..., :h]], dim=-1)


def rope2d(t: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """t (B, heads, N, Dh); pos (B, N, 2) or (N, 2) of (y, x). First Dh/2 rotated by y, second
    Dh/2 by x."""
    if pos.dim() == 2:
        pos = pos[None]
    d = t.shape[-1] // 2
    out = []
    for half, p in ((t[..., :d], pos[..., 0]), (t[..., d:], pos[..., 1])):
        cos, sin = rope_cos_sin(p, d, t.dtype)  # (B, N, d)
        cos, sin = cos[:, None], sin[:, None]   # broadcast over heads
        out.append(half * cos + rotate_half(half) * sin)
    return torch.cat(out, dim=-1)


def attention(q, k, v):
    """q (B, H, Nq, Dh), k, v (B, H, Nk, Dh): softmax(q k^T * Dh^-0.5) v."""
    s = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    return s.softmax(dim=-1) @ v


def _heads(x, n):  # (B, N, D) -> (B, n, N, D/n)
    B, N, D = x.shape
    return x.reshape(B, N, n, D // n).permute(0, 2, 1, 3)


def _merge(x):  # (B, n, N, Dh) -> (B, N, n*Dh)
    B, n, N, Dh = x.shape
    return x.permute(0, 2, 1, 3).reshape(B, N, n * Dh)


# --------------------------------------------------------------------------------------------
# transformer blocks
# --------------------------------------------------------------------------------------------

def layer_norm(dim):
    return nn.LayerNorm(dim, eps=LN_EPS)


class Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, pos):
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads)
        q, k, v = (qkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))
        q, k = rope2d(q, pos), rope2d(k, pos)
        return self.proj(_merge(attention(q, k, v)))


class CrossAttention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.projq = nn.Linear(dim, dim)
        self.projk = nn.Linear(dim, dim)
        self.projv = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mem, pos_x, pos_mem):
        n = self.num_heads
        q = rope2d(_heads(self.projq(x), n), pos_x)
        k = rope2d(_heads(self.projk(mem), n), pos_mem)
        v = _heads(self.projv(mem), n)
        return self.proj(_merge(attention(q, k, v)))


class Block(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim)

    def forward(self, x, pos):
        x = x + self.attn(self.norm1(x), pos)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = Attention(dim, num_heads)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.norm3 = layer_norm(dim)
        self.mlp = Mlp(dim)
        self.norm_y = layer_norm(dim)

    def forward(self, x, y, pos_x, pos_y):
        x = x + self.attn(self.norm1(x), pos_x)
        y_ = self.norm_y(y)  # y itself is not updated
        x = x + self.cross_attn(self.norm2(x), y_, pos_x, pos_y)
        return x + self.mlp(self.norm3(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch_size=16):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch_size, stride=patch_size)

    def forward(self, img):
        x = self.proj(img)                    # (B, D, h, w)
        B, D, h, w = x.shape
        return x.flatten(2).transpose(1, 2), (h, w)


# --------------------------------------------------------------------------------------------
# DPT head
# --------------------------------------------------------------------------------------------

class Upsample2x(nn.Module):
    """Bilinear x2, align_corners=True (no parameters)."""

    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class ResidualConvUnit(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.conv1 = nn.Conv2d(f, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, f, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.out_conv = nn.Conv2d(f, f, 1)
        self.resConfUnit1 = ResidualConvUnit(f)
        self.resConfUnit2 = ResidualConvUnit(f)

    def forward(self, a, b=None):
        out = a if b is None else a + self.resConfUnit1(b)
        out = self.resConfUnit2(out)
        out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(out)


class Scratch(nn.Module):
    def __init__(self, layer_dims, f):
        super().__init__()
        self.layer_rn = nn.ModuleList(
            [nn.Conv2d(c, f, 3, padding=1, bias=False) for c in layer_dims])
        self.refinenet1 = FusionBlock(f)
        self.refinenet2 = FusionBlock(f)
        self.refinenet3 = FusionBlock(f)
        self.refinenet4 = FusionBlock(f)


def _act_postprocess(i, cin, c):
    seq = [nn.Conv2d(cin, c, 1)]
    if i == 0:
        seq.append(nn.ConvTranspose2d(c, c, 4, stride=4))
    elif i == 1:
        seq.append(nn.ConvTranspose2d(c, c, 2, stride=2))
    elif i == 3:
        seq.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
    return nn.Sequential(*seq)


class DPT(nn.Module):
    def __init__(self, cfg: CroCoConfig):
        super().__init__()
        f, ld = cfg.feature_dim, cfg.layer_dims
        self.scratch = Scratch(ld, f)
        if cfg.head_type == "regression":
            # names: head.0, head.2, head.4 (1 = upsample, 3 = ReLU)
            self.head = nn.Sequential(
                nn.Conv2d(f, f // 2, 3, padding=1), Upsample2x(),
                nn.Conv2d(f // 2, cfg.head_hidden, 3, padding=1), nn.ReLU(),
                nn.Conv2d(cfg.head_hidden, cfg.out_channels, 1))
        else:
            # names: head.0 (no bias), head.4; 1 = BatchNorm slot (Identity: use_bn False),
            # 2 = ReLU, 3 = Dropout(0.1) (a no-op in eval mode), 5 = upsample
            self.head = nn.Sequential(
                nn.Conv2d(f, f, 3, padding=1, bias=False), nn.Identity(), nn.ReLU(),
                nn.Dropout(0.1), nn.Conv2d(f, cfg.out_channels, 1), Upsample2x())
        self.act_postprocess = nn.ModuleList(
            [_act_postprocess(i, cin, ld[i]) for i, cin in enumerate(hook_dims(cfg))])

    def forward(self, maps, grid, inter=None):
        """maps: the 4 hooked token maps (B, N, C_i); grid (h, w) tokens."""
        h, w = grid
        acts, rns = [], []
        for i, m in enumerate(maps):
            x = m.transpose(1, 2).reshape(m.shape[0], m.shape[2], h, w)
            a = self.act_postprocess[i](x)
            acts.append(a)
            rns.append(self.scratch.layer_rn[i](a))
        s = self.scratch
        p4 = s.refinenet4(rns[3])
        p3 = s.refinenet3(p4, rns[2])
        p2 = s.refinenet2(p3, rns[1])
        p1 = s.refinenet1(p2, rns[0])
        out = self.head(p1)
        if inter is not None:
            for i in range(4):
                inter[f"act{i}"] = acts[i]
                inter[f"rn{i}"] = rns[i]
            inter.update(path4=p4, path3=p3, path2=p2, path1=p1, head=out)
        return out


class PixelwiseHead(nn.Module):
    """Only there to give the parameters their 'head.dpt.' prefix."""

    def __init__(self, cfg):
        super().__init__()
        self.dpt = DPT(cfg)


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------

class CroCoRef(nn.Module):
    def __init__(self, cfg: CroCoConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        D = cfg.enc_embed_dim
        self.patch_embed = PatchEmbed(D, cfg.patch_size)
        self.enc_blocks = nn.ModuleList([Block(D, cfg.enc_num_heads) for _ in range(cfg.enc_depth)])
        self.enc_norm = layer_norm(D)
        if cfg.binocular:
            Dd = cfg.dec_embed_dim
            self.decoder_embed = nn.Linear(D, Dd)
            self.dec_blocks = nn.ModuleList(
                [DecoderBlock(Dd, cfg.dec_num_heads) for _ in range(cfg.dec_depth)])
            self.dec_norm = layer_norm(Dd)
        self.head = PixelwiseHead(cfg)
        self.hooks = hooks(cfg)

    def encode(self, img, pos=None):
        """All encoder block outputs (the last one after enc_norm), positions, token grid.
        pos: optional (N, 2) or (B, N, 2) true (y, x) of the tokens (e.g. of a window cut out of
        a larger image); default: the image's own grid."""
        x, grid = self.patch_embed(img)
        if pos is None:
            pos = grid_positions(*grid, device=img.device)
        outs = []
        for blk in self.enc_blocks:
            x = blk(x, pos)
            outs.append(x)
        outs[-1] = self.enc_norm(outs[-1])
        return outs, pos, grid

    def decode(self, f1, pos1, f2, pos2):
        """All decoder block outputs (the last one after dec_norm). f1, f2: normed encoder
        outputs of frame 1 (query) and frame 2 (memory)."""
        x, y = self.decoder_embed(f1), self.decoder_embed(f2)
        outs = []
        for blk in self.dec_blocks:
            x = blk(x, y, pos1, pos2)
            outs.append(x)
        outs[-1] = self.dec_norm(outs[-1])
        return outs

    def forward(self, img1, img2=None, pos1=None, pos2=None, return_intermediates=False):
        """img1 [, img2]: normalised (B, 3, H, W), H and W multiples of 32.
        Returns (B, C_out, H, W) [, dict of intermediates]."""
        for im in (img1, img2):
            if im is not None and (im.shape[-1] % PAD_MULTIPLE or im.shape[-2] % PAD_MULTIPLE):
                raise ValueError(f"input {tuple(im.shape)}: H, W must be multiples of 32 "
                                 "(use run_padded)")
        if self.cfg.binocular != (img2 is not None):
            raise ValueError("binocular models take two images, monocular ones one")
        enc1, pos1, grid = self.encode(img1, pos1)
        blocks = list(enc1)
        inter = {"enc1": enc1[-1]}
        if self.cfg.binocular:
            if img2.shape != img1.shape:
                raise ValueError("both images must have the same size")
            enc2, pos2, _ = self.encode(img2, pos2)
            dec = self.decode(enc1[-1], pos1, enc2[-1], pos2)
            blocks += dec
            inter.update(enc2=enc2[-1], dec=dec[-1])
        maps = [blocks[k] for k in self.hooks]
        for i, m in enumerate(maps):
            inter[f"hook{i}"] = m
        out = self.head.dpt(maps, grid, inter)
        return (out, inter) if return_intermediates else out


# --------------------------------------------------------------------------------------------
# input side: normalisation, padding (what the C runtime does)
# --------------------------------------------------------------------------------------------

def normalize_rgb8(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float32 (1, 3, H, W): (x / 255 - mean) / std, in float32."""
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("expected uint8 (H, W, 3)")
    x = img.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def padded_size(h: int, w: int, m: int = PAD_MULTIPLE):
    return -(-h // m) * m, -(-w // m) * m


def pad_input(x: torch.Tensor, m: int = PAD_MULTIPLE) -> torch.Tensor:
    """Pad a normalised (B, 3, H, W) image bottom/right to multiples of m with 0 (0 in normalised
    space, i.e. the mean colour)."""
    H, W = x.shape[-2:]
    Hp, Wp = padded_size(H, W, m)
    return F.pad(x, (0, Wp - W, 0, Hp - H), value=0.0)


def run_padded(model: CroCoRef, img1, img2=None, return_intermediates=False):
    """Any H, W: pad each normalised image bottom/right to multiples of 32, run, crop the output
    back to (H, W). Intermediates (if asked) are those of the padded run, uncropped."""
    H, W = img1.shape[-2:]
    p2 = None if img2 is None else pad_input(img2)
    res = model(pad_input(img1), p2, return_intermediates=return_intermediates)
    if return_intermediates:
        out, inter = res
        return out[..., :H, :W], inter
    return res[..., :H, :W]


# --------------------------------------------------------------------------------------------
# checkpoint helpers
# --------------------------------------------------------------------------------------------

def checkpoint_state_dict(model: CroCoRef, aliases=True):
    """The state dict as a CroCo checkpoint holds it: with the DPT head's aliased names
    (head.dpt.scratch.layerK_rn.*, head.dpt.act_K_postprocess.*), sharing the same tensors."""
    sd = model.state_dict()
    if not aliases:
        return sd
    out = dict(sd)
    for name, t in sd.items():
        pre = "head.dpt.scratch.layer_rn."
        if name.startswith(pre):
            i, rest = name[len(pre):].split(".", 1)
            out[f"head.dpt.scratch.layer{int(i) + 1}_rn.{rest}"] = t
        pre = "head.dpt.act_postprocess."
        if name.startswith(pre):
            i, rest = name[len(pre):].split(".", 1)
            out[f"head.dpt.act_{int(i) + 1}_postprocess.{rest}"] = t
    return out


def init_random_(model: CroCoRef, seed: int, gain: float = 1.0):
    """Deterministic random weights (numpy PCG64, independent of torch's generator) scaled so that
    activations stay O(1): weights ~ N(0, gain^2 / fan_in), biases ~ N(0, 0.05^2), LayerNorm
    weight ~ 1 + N(0, 0.1^2), bias ~ N(0, 0.1^2). Parameters are drawn in state-dict order."""
    rng = np.random.default_rng(seed)
    kinds = {}
    for mname, m in model.named_modules():
        for pname, _ in m.named_parameters(recurse=False):
            kinds[f"{mname}.{pname}" if mname else pname] = (type(m), pname)
    with torch.no_grad():
        for name, p in model.named_parameters():
            mtype, pname = kinds[name]
            shape = tuple(p.shape)
            if mtype is nn.LayerNorm:
                base = 1.0 if pname == "weight" else 0.0
                v = base + 0.1 * rng.standard_normal(shape)
            elif pname == "bias":
                v = 0.05 * rng.standard_normal(shape)
            else:
                if mtype is nn.ConvTranspose2d:  # (in, out, k, k), kernel = stride: no overlap
                    fan_in = shape[0]
                else:
                    fan_in = int(np.prod(shape[1:]))
                v = gain / math.sqrt(fan_in) * rng.standard_normal(shape)
            p.copy_(torch.from_numpy(np.asarray(v, dtype=np.float32)))
    return model


# --------------------------------------------------------------------------------------------
# training loss (flow / stereo)
# --------------------------------------------------------------------------------------------

def laplacian_loss_bounded(pred, gt, conf_raw, a=0.25, b=4.0, max_gtnorm=10000.0):
    """CroCo-Flow's Laplacian loss with bounded confidence.
    pred, gt: (B, C, H, W) (C = 2 for flow, 1 for stereo); conf_raw: (B, H, W) or (B, 1, H, W).
    c = (b - a) * sigmoid(conf_raw) + a; loss = mean over valid pixels of
    sum_c |pred - gt| / c + log c. Valid: every channel of gt finite and ||gt|| < max_gtnorm.
    No valid pixel: 0 (still connected to the graph)."""
    if conf_raw.dim() == 4:
        conf_raw = conf_raw[:, 0]
    valid = torch.isfinite(gt).all(dim=1)
    gt0 = torch.where(torch.isfinite(gt), gt, torch.zeros_like(gt))
    if max_gtnorm is not None:
        valid = valid & (gt0.square().sum(dim=1).sqrt() < max_gtnorm)
    c = (b - a) * torch.sigmoid(conf_raw) + a
    per_px = (pred - gt0).abs().sum(dim=1) / c + torch.log(c)
    n = valid.sum()
    if n == 0:
        return (pred.sum() + conf_raw.sum()) * 0.0
    return per_px[valid].sum() / n


def flow_loss(output, gt):
    """output: the flow model's (B, 3, H, W) (dx, dy, raw confidence); gt (B, 2, H, W)."""
    return laplacian_loss_bounded(output[:, :2], gt, output[:, 2])
