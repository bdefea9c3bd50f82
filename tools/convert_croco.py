#!/usr/bin/env python3
"""Convert a CroCo-family PyTorch checkpoint (CroCo v2, CroCo-Flow, CroCo-Stereo, a Win-Win
model of that family) into the safetensors file winwin loads.

    tools/convert_croco.py CHECKPOINT.pth OUT.safetensors [--task flow|stereo|depth|seg]
                           [--dtype f32|f16|bf16] [--classes a,b,...] [--palette r,g,b;...]

Needs PyTorch (Debian: python3-torch) and numpy, nothing else. The checkpoint is read with
the converter's own restricted unpickler (not torch's): the pickle may name tensors, containers,
argparse.Namespace ('args') and numpy scalars, nothing that runs code; --unsafe-load (plain
torch.load) lifts that for files you trust.

The output holds only the model parameters, under the checkpoint's own names, with the DPT
head's aliases removed (head.dpt.act_postprocess.{i}.* and head.dpt.scratch.layer_rn.{i}.* are
kept; head.dpt.act_{i+1}_postprocess.* and head.dpt.scratch.layer{i+1}_rn.* are checked equal and
dropped) and training-only entries dropped (mask_token, prediction_head.*). The configuration
is in the safetensors __metadata__ (all values strings); see tests/reference/README.md.
"""

import argparse
import ast
import hashlib
import inspect
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

FORMAT_VERSION = "1"
MEAN = "0.485,0.456,0.406"
STD = "0.229,0.224,0.225"
PATCH = 16
# CroCoNet's constructor defaults, for checkpoints whose kwargs leave something out
CROCONET_DEFAULTS = dict(enc_embed_dim=768, enc_depth=12, enc_num_heads=12, dec_embed_dim=512,
                         dec_depth=8, dec_num_heads=16, pos_embed="cosine")
TRAINING_ONLY = ("mask_token", "prediction_head.", "enc_pos_embed", "dec_pos_embed")


class ConvertError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------

NP_TO_ST = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64",
            np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8", np.dtype(np.int16): "I16",
            np.dtype(np.int32): "I32", np.dtype(np.int64): "I64", np.dtype(np.bool_): "BOOL"}


def st_entry(name, arr):
    """(name, dtype, shape, bytes) of a numpy array, little-endian C order."""
    arr = np.asarray(arr)
    st = next((v for k, v in NP_TO_ST.items()
               if k.kind == arr.dtype.kind and k.itemsize == arr.dtype.itemsize), None)
    if st is None:
        raise ConvertError(f"{name}: dtype {arr.dtype} has no safetensors equivalent")
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return name, st, list(arr.shape), arr.tobytes()


def write_safetensors(path, entries, metadata=None):
    """entries: [(name, dtype string, shape, raw little-endian bytes)] written in that order,
    contiguous. Header: JSON {"__metadata__": {str: str}, name: {dtype, shape, data_offsets}},
    padded with spaces to a multiple of 8 bytes, preceded by its length (u64 little-endian)."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ConvertError(f"metadata {k!r}: keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    off = 0
    names = set()
    for name, dtype, shape, data in entries:
        if name in names or name == "__metadata__":
            raise ConvertError(f"duplicate tensor name {name}")
        names.add(name)
        header[name] = {"dtype": dtype, "shape": [int(s) for s in shape],
                        "data_offsets": [off, off + len(data)]}
        off += len(data)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, _, data in entries:
            f.write(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# the network's parameter list (must match tests/reference/croco_ref.py)
# --------------------------------------------------------------------------------------------

def hooks_for(enc_depth, dec_depth):
    """DPT hooks: indices into [encoder blocks 0..enc_depth-1, decoder blocks after]."""
    if dec_depth > 0:
        step = {8: 3, 12: 4, 24: 8}.get(dec_depth, max(1, dec_depth // 3))
        last = enc_depth + dec_depth - 1
    else:
        step = max(1, enc_depth // 4)
        last = enc_depth - 1
    h = [last - i * step for i in (3, 2, 1, 0)]
    if h[0] < 0:
        raise ConvertError(f"too few blocks for the DPT hook rule (enc_depth {enc_depth}, "
                           f"dec_depth {dec_depth}): hooks {h}")
    return h


def expected_shapes(cfg):
    """[(name, shape)] of every parameter, in canonical order. cfg: dict with enc_embed_dim,
    enc_depth, dec_embed_dim, dec_depth, layer_dims, feature_dim, head ('regression', 'semseg'
    or 'none'), head_hidden, out_channels."""
    D, De, Dd, Ld = cfg["enc_embed_dim"], cfg["enc_depth"], cfg["dec_embed_dim"], cfg["dec_depth"]
    out = [("patch_embed.proj.weight", (D, 3, PATCH, PATCH)), ("patch_embed.proj.bias", (D,))]

    def lin(name, o, i):
        out.extend([(name + ".weight", (o, i)), (name + ".bias", (o,))])

    def norm(name, d):
        out.extend([(name + ".weight", (d,)), (name + ".bias", (d,))])

    for n in range(De):
        p = f"enc_blocks.{n}."
        norm(p + "norm1", D)
        lin(p + "attn.qkv", 3 * D, D)
        lin(p + "attn.proj", D, D)
        norm(p + "norm2", D)
        lin(p + "mlp.fc1", 4 * D, D)
        lin(p + "mlp.fc2", D, 4 * D)
    norm("enc_norm", D)
    if Ld > 0:
        lin("decoder_embed", Dd, D)
        for n in range(Ld):
            p = f"dec_blocks.{n}."
            norm(p + "norm1", Dd)
            lin(p + "attn.qkv", 3 * Dd, Dd)
            lin(p + "attn.proj", Dd, Dd)
            for q in ("projq", "projk", "projv", "proj"):
                lin(p + "cross_attn." + q, Dd, Dd)
            norm(p + "norm2", Dd)
            norm(p + "norm3", Dd)
            lin(p + "mlp.fc1", 4 * Dd, Dd)
            lin(p + "mlp.fc2", Dd, 4 * Dd)
            norm(p + "norm_y", Dd)
        norm("dec_norm", Dd)
    if cfg["head"] == "none":
        return out
    F, L, C = cfg["feature_dim"], cfg["layer_dims"], cfg["out_channels"]

    def conv(name, o, i, k, bias=True):
        out.append((name + ".weight", (o, i, k, k)))
        if bias:
            out.append((name + ".bias", (o,)))

    for i in range(4):
        conv(f"head.dpt.scratch.layer_rn.{i}", F, L[i], 3, bias=False)
    for r in range(1, 5):
        p = f"head.dpt.scratch.refinenet{r}."
        conv(p + "out_conv", F, F, 1)
        for u in (1, 2):
            conv(p + f"resConfUnit{u}.conv1", F, F, 3)
            conv(p + f"resConfUnit{u}.conv2", F, F, 3)
    if cfg["head"] == "regression":
        conv("head.dpt.head.0", F // 2, F, 3)
        conv("head.dpt.head.2", cfg["head_hidden"], F // 2, 3)
        conv("head.dpt.head.4", C, cfg["head_hidden"], 1)
    else:
        conv("head.dpt.head.0", F, F, 3, bias=False)
        conv("head.dpt.head.4", C, F, 1)
    hk = hooks_for(De, Ld)
    for i in range(4):
        cin = D if hk[i] < De else Dd
        p = f"head.dpt.act_postprocess.{i}."
        conv(p + "0", L[i], cin, 1)
        if i == 0:
            out.extend([(p + "1.weight", (L[0], L[0], 4, 4)), (p + "1.bias", (L[0],))])
        elif i == 1:
            out.extend([(p + "1.weight", (L[1], L[1], 2, 2)), (p + "1.bias", (L[1],))])
        elif i == 3:
            conv(p + "1", L[3], L[3], 3)
    return out


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------

_STORAGE_DTYPES = {  # torch.<Name>Storage -> torch dtype name
    "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "DoubleStorage": "float64", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "UntypedStorage": "uint8",
}
_PLAIN_GLOBALS = {
    ("collections", "OrderedDict"), ("argparse", "Namespace"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
    ("builtins", "complex"), ("builtins", "bytearray"), ("builtins", "range"),
    ("numpy.core.multiarray", "scalar"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("_codecs", "encode"),
    ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("pathlib", "PurePosixPath"),
    ("pathlib", "PureWindowsPath"),
}


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


def _load_zip_restricted(path):
    """Read a torch.save zip archive without torch's unpickler: the pickle may only name tensor
    rebuild functions, storages, containers, argparse.Namespace and numpy scalars; anything else
    (code) is refused. Same result on every torch version."""
    with zipfile.ZipFile(path) as zf:
        return _unpickle_zip(zf, path)


def _unpickle_zip(zf, path):
    import importlib
    import torch
    pkl = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
    if not pkl:
        raise ConvertError(f"{path}: a zip file without data.pkl: not a torch.save checkpoint")
    prefix = min(pkl, key=len)[:-len("data.pkl")]
    if prefix + "byteorder" in zf.namelist() and zf.read(prefix + "byteorder") != b"little":
        raise ConvertError(f"{path}: big-endian checkpoints are not supported")
    storages = {}

    def rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None,
                          metadata=None):
        if storage.numel() == 0:
            return torch.empty(tuple(size), dtype=storage.dtype)
        return storage.as_strided(tuple(size), tuple(stride), offset)

    def rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
        return data

    def rebuild_from_type_v2(func, new_type, args, state):
        if new_type not in (torch.Tensor, torch.nn.Parameter):
            raise pickle.UnpicklingError(f"refusing tensor subclass {new_type}")
        return func(*args)

    torch_funcs = {("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
                   ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
                   ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
                   ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type_v2,
                   ("torch", "Tensor"): torch.Tensor, ("torch", "Size"): torch.Size,
                   ("torch.nn.parameter", "Parameter"): torch.nn.Parameter}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "__builtin__":  # protocol 2 writes Python 2 names
                module = "builtins"
            if module == "torch" and name in _STORAGE_DTYPES:
                return _StorageType(getattr(torch, _STORAGE_DTYPES[name]))
            if (module, name) in torch_funcs:
                return torch_funcs[(module, name)]
            if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
                return getattr(torch, name)
            if (module, name) in _PLAIN_GLOBALS:
                return getattr(importlib.import_module(module), name)
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name} (not a tensor, container or argparse "
                "Namespace); if you trust this file, rerun with --unsafe-load")

        def persistent_load(self, pid):
            if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" \
                    or not isinstance(pid[1], _StorageType):
                raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.100}")
            _, stype, key, _location, numel = pid[:5]
            if key not in storages:
                raw = bytearray(zf.read(f"{prefix}data/{key}"))
                dt = stype.dtype
                storages[key] = (torch.frombuffer(raw, dtype=dt) if raw
                                 else torch.empty(0, dtype=dt))
            return storages[key]

    with zf.open(prefix + "data.pkl") as f:
        return Unpickler(f, encoding="utf-8").load()


def load_checkpoint(path, unsafe=False, log=print):
    import torch
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    has_wo = "weights_only" in inspect.signature(torch.load).parameters
    if unsafe:
        kw = {"weights_only": False} if has_wo else {}
        return torch.load(path, map_location="cpu", **kw)
    if zipfile.is_zipfile(path):
        try:
            return _load_zip_restricted(path)
        except ConvertError:
            raise
        except (pickle.UnpicklingError, KeyError, ValueError, RuntimeError, EOFError) as e:
            raise ConvertError(f"{path}: {e}") from None
    # the legacy (pre-1.6, non-zip) format: only torch's own weights-only loader
    if not has_wo:
        raise ConvertError(f"{path}: legacy torch.save format and this torch has no "
                           "weights_only loading; rerun with --unsafe-load if you trust it")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        msg = " ".join(str(e).split())
        raise ConvertError(f"{path}: legacy (pre-1.6) torch.save file that torch's weights-only "
                           f"loader refuses (...{msg[-120:]}); rerun with --unsafe-load if you "
                           "trust it") from None


def parse_model_string(s):
    """'CroCoNet(enc_embed_dim=1024, enc_num_heads=16, enc_depth=24)' -> dict, without eval:
    only keyword arguments with literal values are taken."""
    try:
        node = ast.parse(s.strip(), mode="eval").body
    except SyntaxError as e:
        raise ConvertError(f"args.model {s!r} does not parse: {e}") from None
    if not isinstance(node, ast.Call) or node.args:
        raise ConvertError(f"args.model {s!r}: expected NAME(key=value, ...)")
    out, skipped = {}, []
    for kw in node.keywords:
        if kw.arg is None:
            raise ConvertError(f"args.model {s!r}: **kwargs are not supported")
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            skipped.append(kw.arg)
    return out, skipped


def _get(obj, key, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def model_kwargs(ckpt, log=print):
    """(kwargs dict, where they came from, task hint or None)."""
    task_hint = None
    args = ckpt.get("args")
    if args is not None:
        t = _get(args, "task")
        task_hint = t if isinstance(t, str) else None
    if isinstance(ckpt.get("croco_kwargs"), dict):
        return dict(ckpt["croco_kwargs"]), "croco_kwargs", task_hint
    if args is not None:
        ca = _get(args, "croco_args")
        if isinstance(ca, dict):
            return dict(ca), "args.croco_args", task_hint
        ms = _get(args, "model")
        if isinstance(ms, str) and "(" in ms:
            kw, skipped = parse_model_string(ms)
            needed = [k for k in skipped if k in CROCONET_DEFAULTS]
            if needed:
                raise ConvertError(f"args.model {ms!r}: {', '.join(needed)} is not a literal")
            if skipped:
                log(f"note: args.model: ignored non-literal arguments {skipped}")
            return kw, "args.model", task_hint
    return {}, None, task_hint


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------

def _count(sd, prefix):
    n = 0
    while any(k.startswith(f"{prefix}{n}.") for k in sd):
        n += 1
    return n


def _fmt(names, n=8):
    names = list(names)
    s = ", ".join(names[:n])
    return s + (f", ... ({len(names)} in all)" if len(names) > n else "")


def default_palette(n):
    """Distinct deterministic colours (golden-ratio hues)."""
    import colorsys
    cols = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65, 0.95 - 0.3 * (i % 2))
        cols.append(f"{int(r * 255 + .5)},{int(g * 255 + .5)},{int(b * 255 + .5)}")
    return ";".join(cols)


def convert(ckpt, task=None, dtype="f32", classes=None, palette=None, enc_heads=None,
            dec_heads=None, drop_unknown=False, provenance="", log=print):
    """-> (entries for write_safetensors, metadata dict)."""
    import torch
    if not isinstance(ckpt, dict):
        raise ConvertError(f"the checkpoint is a {type(ckpt).__name__}, expected a dict with "
                           "'model'")
    if "model" in ckpt:
        sd = ckpt["model"]
    elif "patch_embed.proj.weight" in ckpt:
        log("note: no 'model' entry, the file is a bare state dict")
        sd, ckpt = ckpt, {}
    else:
        raise ConvertError("the checkpoint has no 'model' entry (top-level keys: "
                           f"{_fmt(map(str, ckpt.keys()))})")
    if not isinstance(sd, dict) or not sd:
        raise ConvertError("ckpt['model'] is not a non-empty state dict")
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConvertError(f"ckpt['model'] entries that are not tensors: {_fmt(bad)}")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
        log("note: stripped the 'module.' prefix (DistributedDataParallel)")
    sd = dict(sd)

    kwargs, ksrc, task_hint = model_kwargs(ckpt, log)
    log(f"configuration from {ksrc or 'the tensor shapes only'}"
        + (f": {kwargs}" if kwargs else ""))

    # position embedding
    pe = kwargs.get("pos_embed")
    if pe is None:
        if "enc_pos_embed" in sd:
            raise ConvertError("the checkpoint has an 'enc_pos_embed' buffer: absolute cosine "
                               "position embeddings (CroCo v1); only RoPE100 models are supported")
        log("note: pos_embed not given, assuming RoPE100 (no position-embedding buffer present)")
        pe = "RoPE100"
    if pe != "RoPE100":
        raise ConvertError(f"pos_embed {pe!r}: only 'RoPE100' is supported")

    # sizes from the tensors
    if "patch_embed.proj.weight" not in sd:
        raise ConvertError("no patch_embed.proj.weight: not a CroCo-family model")
    pw = sd["patch_embed.proj.weight"]
    if pw.dim() != 4 or tuple(pw.shape[1:]) != (3, PATCH, PATCH):
        raise ConvertError(f"patch_embed.proj.weight has shape {tuple(pw.shape)}, expected "
                           f"(D, 3, {PATCH}, {PATCH})")
    D = pw.shape[0]
    enc_depth = _count(sd, "enc_blocks.")
    dec_depth = _count(sd, "dec_blocks.")
    if enc_depth == 0:
        raise ConvertError("no enc_blocks.0.*")
    Dd = 0
    if dec_depth:
        if "decoder_embed.weight" not in sd:
            raise ConvertError("dec_blocks present but no decoder_embed.weight")
        Dd = sd["decoder_embed.weight"].shape[0]
    for key, val in (("enc_embed_dim", D), ("enc_depth", enc_depth)) + (
            (("dec_embed_dim", Dd), ("dec_depth", dec_depth)) if dec_depth else ()):
        if key in kwargs and int(kwargs[key]) != val:
            raise ConvertError(f"{ksrc} says {key}={kwargs[key]} but the tensors say {val}")
    eh = enc_heads or kwargs.get("enc_num_heads")
    if eh is None:
        eh = CROCONET_DEFAULTS["enc_num_heads"]
        log(f"warning: enc_num_heads not given, using CroCoNet's default {eh} "
            "(override with --enc-heads)")
    dh = 0
    if dec_depth:
        dh = dec_heads or kwargs.get("dec_num_heads")
        if dh is None:
            dh = CROCONET_DEFAULTS["dec_num_heads"]
            log(f"warning: dec_num_heads not given, using CroCoNet's default {dh} "
                "(override with --dec-heads)")
    for what, d, h in (("enc", D, eh),) + ((("dec", Dd, dh),) if dec_depth else ()):
        if int(h) <= 0 or d % int(h) or (d // int(h)) % 4:
            raise ConvertError(f"{what}: embed dim {d} with {h} heads: head dim must be an "
                               "integer multiple of 4 (RoPE-2D)")

    # DPT aliases: keep act_postprocess.{i} / layer_rn.{i}
    aliases = {}
    for k in list(sd):
        for i in range(4):
            for a, c in ((f"head.dpt.act_{i + 1}_postprocess.", f"head.dpt.act_postprocess.{i}."),
                         (f"head.dpt.scratch.layer{i + 1}_rn.", f"head.dpt.scratch.layer_rn.{i}.")):
                if k.startswith(a):
                    aliases[k] = c + k[len(a):]
    n_dedup = 0
    for a, c in aliases.items():
        if c in sd:
            if sd[a].shape != sd[c].shape or not torch.equal(sd[a], sd[c]):
                raise ConvertError(f"aliased DPT parameters differ: {a} != {c}")
            n_dedup += 1
        else:
            sd[c] = sd[a]
            log(f"note: {a} present without {c}: renamed")
        del sd[a]

    # head
    hk = [k for k in sd if k.startswith("head.")]
    if not hk:
        head = "none"
        log("note: no head.* parameters: backbone only (e.g. a pretraining checkpoint)")
    else:
        bn = [k for k in hk if "running_" in k or ".bn1." in k or ".bn2." in k
              or k.startswith("head.dpt.head.1.")]
        if bn:
            raise ConvertError(f"DPT heads with BatchNorm (use_bn) are not supported: {_fmt(bn)}")
        if "head.dpt.head.2.weight" in sd:
            head = "regression"
        elif "head.dpt.head.4.weight" in sd and "head.dpt.head.0.bias" not in sd:
            head = "semseg"
        else:
            raise ConvertError("unknown DPT output head: expected head.dpt.head.{0,2,4} "
                               "(regression) or head.dpt.head.{0,4} (semseg)")
    cfg = dict(enc_embed_dim=D, enc_depth=enc_depth, enc_num_heads=int(eh), dec_embed_dim=Dd,
               dec_depth=dec_depth, dec_num_heads=int(dh), head=head, layer_dims=[0] * 4,
               feature_dim=0, head_hidden=0, out_channels=0)
    if head != "none":
        try:
            cfg["layer_dims"] = [sd[f"head.dpt.act_postprocess.{i}.0.weight"].shape[0]
                                 for i in range(4)]
            cfg["feature_dim"] = sd["head.dpt.scratch.layer_rn.0.weight"].shape[0]
            cfg["out_channels"] = sd["head.dpt.head.4.weight"].shape[0]
            if head == "regression":
                cfg["head_hidden"] = sd["head.dpt.head.2.weight"].shape[0]
        except KeyError as e:
            raise ConvertError(f"DPT head incomplete: no {e.args[0]}") from None

    # task
    if task is None:
        if task_hint in ("flow", "stereo", "depth", "seg"):
            task = task_hint
            log(f"task: {task} (from args.task; --task to override)")
        else:
            task = ("flow" if dec_depth else ("seg" if head == "semseg" else "depth"))
            log(f"task: {task} (inferred; --task to set it)")
    if task in ("flow", "stereo") and not dec_depth:
        raise ConvertError(f"task {task} needs a binocular model (dec_blocks), this one has none")
    if task in ("depth", "seg") and dec_depth:
        raise ConvertError(f"task {task} is monocular but the model has a decoder "
                           f"({dec_depth} dec_blocks)")
    if head != "none" and (task == "seg") != (head == "semseg"):
        raise ConvertError(f"task {task} does not go with a {head} DPT head")
    expect_c = {"flow": (3, 2), "stereo": (2, 1), "depth": (1, 2)}.get(task)
    if head != "none" and expect_c and cfg["out_channels"] not in expect_c:
        log(f"warning: {task} with {cfg['out_channels']} output channels (usual: "
            f"{' or '.join(map(str, expect_c))})")

    # names and shapes
    exp = expected_shapes(cfg)
    expn = {n for n, _ in exp}
    missing = [n for n, _ in exp if n not in sd]
    if missing:
        raise ConvertError(f"missing parameters: {_fmt(missing)}")
    wrong = [f"{n} {tuple(sd[n].shape)} (expected {s})" for n, s in exp
             if tuple(sd[n].shape) != tuple(s)]
    if wrong:
        raise ConvertError(f"unexpected shapes: {_fmt(wrong, 6)}")
    dropped, unknown = [], []
    for k in sd:
        if k in expn:
            continue
        (dropped if k.startswith(TRAINING_ONLY) else unknown).append(k)
    if unknown:
        if not drop_unknown:
            raise ConvertError(f"unexpected parameters: {_fmt(unknown)} (--drop-unknown to drop "
                               "them)")
        dropped += unknown

    # tensors
    tdt = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]
    entries = []
    nparam = 0
    for n, _ in exp:
        t = sd[n].detach().to("cpu")
        if not t.is_floating_point():
            raise ConvertError(f"{n}: dtype {t.dtype}, expected floating point")
        t = t.to(tdt).contiguous()
        nparam += t.numel()
        if dtype == "bf16":
            entries.append((n, "BF16", list(t.shape), t.view(torch.int16).numpy().tobytes()))
        else:
            entries.append(st_entry(n, t.numpy()))

    hooks = hooks_for(enc_depth, dec_depth) if head != "none" else []
    md = {"winwin.format": FORMAT_VERSION, "task": task,
          "enc_embed_dim": str(D), "enc_depth": str(enc_depth), "enc_num_heads": str(int(eh)),
          "dec_embed_dim": str(Dd), "dec_depth": str(dec_depth), "dec_num_heads": str(int(dh)),
          "layer_dims": ",".join(map(str, cfg["layer_dims"])),
          "feature_dim": str(cfg["feature_dim"]), "head_hidden": str(cfg["head_hidden"]),
          "head": head, "out_channels": str(cfg["out_channels"]), "patch_size": str(PATCH),
          "pos_embed": "RoPE100", "mean": MEAN, "std": STD,
          "hooks": ",".join(map(str, hooks))}
    if head != "regression":
        del md["head_hidden"]  # regression heads only
    if task == "seg":
        nc = cfg["out_channels"]
        if classes is None:
            classes = ",".join(f"class{i}" for i in range(nc))
            log(f"warning: no --classes, naming the {nc} classes class0..class{nc - 1}")
        cl = classes.split(",")
        if len(cl) != nc or any(not c.strip() or ";" in c for c in cl):
            raise ConvertError(f"--classes: {len(cl)} names for {nc} output channels")
        if palette is None:
            palette = default_palette(nc)
        pl = palette.split(";")
        if len(pl) != nc or any(len(p.split(",")) != 3 or
                                not all(v.strip().isdigit() and int(v) < 256 for v in p.split(","))
                                for p in pl):
            raise ConvertError(f"--palette: expected {nc} 'r,g,b' triples separated by ';'")
        md["classes"] = ",".join(c.strip() for c in cl)
        md["palette"] = ";".join(",".join(str(int(v)) for v in p.split(",")) for p in pl)
    md["provenance"] = provenance

    log(f"model: enc {D} x {enc_depth} blocks x {eh} heads"
        + (f", dec {Dd} x {dec_depth} x {dh}" if dec_depth else ", no decoder (monocular)")
        + (f", DPT {head} head, layer_dims {cfg['layer_dims']}, feature_dim "
           f"{cfg['feature_dim']}, {cfg['out_channels']} output channels, hooks {hooks}"
           if head != "none" else ", no head"))
    log(f"kept {len(entries)} tensors ({nparam / 1e6:.2f} M parameters, {dtype}); "
        f"{n_dedup} DPT aliases removed")
    if dropped:
        log(f"dropped {len(dropped)}: {_fmt(dropped, 50)}")
    return entries, md


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--task", choices=["flow", "stereo", "depth", "seg"],
                    help="default: args.task if the checkpoint has one, else flow for "
                         "binocular models, seg / depth for monocular semseg / regression heads")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--classes", help="seg: comma-separated class names, one per output channel")
    ap.add_argument("--palette", help="seg: 'r,g,b;r,g,b;...' one colour per class")
    ap.add_argument("--enc-heads", type=int, help="encoder heads when the checkpoint omits them")
    ap.add_argument("--dec-heads", type=int, help="decoder heads when the checkpoint omits them")
    ap.add_argument("--drop-unknown", action="store_true",
                    help="drop parameters that are not part of the network instead of failing")
    ap.add_argument("--unsafe-load", action="store_true",
                    help="full pickle (runs code from the file): only for files you trust")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    log = (lambda *x: None) if a.quiet else (lambda *x: print(*x, file=sys.stderr))
    try:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ConvertError("PyTorch is not importable (Debian: apt-get install python3-torch; "
                               "run with /usr/bin/python3)") from None
        ckpt = load_checkpoint(a.checkpoint, a.unsafe_load, log)
        prov = (f"converted by tools/convert_croco.py from {os.path.basename(a.checkpoint)} "
                f"(sha256 {sha256_file(a.checkpoint)})")
        entries, md = convert(ckpt, a.task, a.dtype, a.classes, a.palette, a.enc_heads,
                              a.dec_heads, a.drop_unknown, prov, log)
        write_safetensors(a.output, entries, md)
        log(f"wrote {a.output} ({os.path.getsize(a.output) / 1e6:.1f} MB)")
    except ConvertError as e:
        print(f"convert_croco: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
