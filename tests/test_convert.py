#!/usr/bin/env python3
"""Test of tools/convert_croco.py: builds small CroCo-family checkpoints with
tests/reference/croco_ref.py (DPT aliases and training-only entries included, configuration as an
'args' Namespace string, as 'croco_kwargs', as a stereoflow 'args.croco_args'), runs the converter,
reads the result back with its own safetensors reader and checks names, shapes, values and
metadata; then checks that bad checkpoints fail with a clear message.

Needs PyTorch and numpy. Without them it exits with 77 (a skip for meson). If the running
interpreter lacks torch but /usr/bin/python3 (Debian's python3-torch) has it, it re-runs itself
with that.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONVERTER = os.path.join(ROOT, "tools", "convert_croco.py")
SYSTEM_PYTHON = "/usr/bin/python3"

try:
    import numpy as np
    import torch
except ImportError as e:
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("WW_TEST_CONVERT_REEXEC")):
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import torch, numpy"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            os.environ["WW_TEST_CONVERT_REEXEC"] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    print(f"SKIP: test_convert needs PyTorch and numpy ({e}); Debian: apt-get install "
          "python3-torch python3-numpy")
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import croco_ref as R  # noqa: E402
import convert_croco as C  # noqa: E402

torch.set_num_threads(1)

# ------------------------------------------------------------------------------------------
# an independent minimal safetensors reader
# ------------------------------------------------------------------------------------------

ST_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
             "U8": np.dtype("u1"), "F64": np.dtype("<f8"), "I32": np.dtype("<i4"),
             "I64": np.dtype("<i8")}


def read_safetensors(path):
    """-> (ordered list of (name, dtype string, numpy array), metadata). BF16 comes back as the
    raw uint16 bit patterns. Checks the layout as it goes."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("file shorter than 8 bytes")
    n = struct.unpack("<Q", buf[:8])[0]
    if n % 8 or 8 + n > len(buf):
        raise ValueError(f"header length {n}: not a multiple of 8 or past the end")
    hdr = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = hdr.pop("__metadata__", {})
    data = buf[8 + n:]
    items = sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0])
    pos = 0
    out = []
    for name, e in items:
        b, end = e["data_offsets"]
        if b != pos:
            raise ValueError(f"{name}: data starts at {b}, expected {pos} (holes or overlaps)")
        dt = ST_DTYPES[e["dtype"]]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        if end - b != count * dt.itemsize:
            raise ValueError(f"{name}: {end - b} bytes for shape {e['shape']} {e['dtype']}")
        out.append((name, e["dtype"], np.frombuffer(data[b:end], dt).reshape(e["shape"])))
        pos = end
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} bytes after the last tensor")
    return out, meta


# ------------------------------------------------------------------------------------------
# test scaffolding
# ------------------------------------------------------------------------------------------

RESULTS = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        RESULTS["passed"] += 1
        print(f"ok      {what}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL    {what}")
    return cond


def run_converter(*args):
    p = subprocess.run([sys.executable, CONVERTER] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout + p.stderr


FLOW = R.CroCoConfig(enc_embed_dim=32, enc_depth=4, enc_num_heads=2, dec_embed_dim=24,
                     dec_depth=3, dec_num_heads=2, layer_dims=[8, 16, 24, 32], feature_dim=8,
                     head_hidden=8, out_channels=3, head_type="regression")
STEREO = R.CroCoConfig(enc_embed_dim=32, enc_depth=4, enc_num_heads=2, dec_embed_dim=32,
                       dec_depth=2, dec_num_heads=2, layer_dims=[4, 8, 12, 16], feature_dim=8,
                       head_hidden=4, out_channels=2, head_type="regression")
SEG = R.CroCoConfig(enc_embed_dim=24, enc_depth=8, enc_num_heads=2, dec_embed_dim=0, dec_depth=0,
                    dec_num_heads=0, layer_dims=[8, 16, 24, 32], feature_dim=8, head_hidden=0,
                    out_channels=4, head_type="semseg")


def make_model(cfg, seed):
    m = R.CroCoRef(cfg)
    R.init_random_(m, seed)
    return m.eval()


def model_string(cfg):
    return (f"CroCoNet(enc_embed_dim={cfg.enc_embed_dim}, enc_num_heads={cfg.enc_num_heads}, "
            f"enc_depth={cfg.enc_depth}, dec_embed_dim={cfg.dec_embed_dim}, "
            f"dec_num_heads={cfg.dec_num_heads}, dec_depth={cfg.dec_depth}, "
            f"pos_embed='RoPE100', img_size=(224, 224))")


def kwargs_of(cfg):
    return dict(enc_embed_dim=cfg.enc_embed_dim, enc_depth=cfg.enc_depth,
                enc_num_heads=cfg.enc_num_heads, dec_embed_dim=cfg.dec_embed_dim,
                dec_depth=cfg.dec_depth, dec_num_heads=cfg.dec_num_heads, pos_embed="RoPE100",
                img_size=[224, 224])


def training_state_dict(model, extra=True):
    sd = R.checkpoint_state_dict(model, aliases=True)
    if extra:
        Dd = model.cfg.dec_embed_dim or model.cfg.enc_embed_dim
        sd["mask_token"] = torch.zeros(1, 1, Dd)
        sd["prediction_head.weight"] = torch.zeros(768, Dd)
        sd["prediction_head.bias"] = torch.zeros(768)
    return sd


def verify(path, model, task, head, dtype="F32", expect_meta=None, label=""):
    """The converted file holds exactly the model's parameters, in state-dict order, and the
    configuration."""
    try:
        tensors, meta = read_safetensors(path)
    except Exception as e:  # noqa: BLE001
        check(False, f"{label}: readable safetensors ({e})")
        return
    check(True, f"{label}: readable safetensors, contiguous data, header padded to 8")
    sd = model.state_dict()
    names = [n for n, _, _ in tensors]
    check(names == list(sd.keys()), f"{label}: names = the model's parameters, in order")
    alias = [n for n in names if "_postprocess." in n and "act_postprocess" not in n
             or ("_rn." in n and "layer_rn." not in n)]
    check(not alias, f"{label}: no DPT aliases ({alias[:3]})")
    check(not any(n.startswith(("mask_token", "prediction_head")) for n in names),
          f"{label}: training-only entries dropped")
    bad_shape, bad_val, bad_dt = [], [], []
    for n, dt, arr in tensors:
        if n not in sd:
            continue
        ref = sd[n]
        if tuple(arr.shape) != tuple(ref.shape):
            bad_shape.append(n)
            continue
        if dt != dtype:
            bad_dt.append(n)
        if dtype == "F32":
            same = np.array_equal(arr, ref.numpy())
        elif dtype == "F16":
            same = np.array_equal(arr, ref.to(torch.float16).numpy())
        else:  # BF16 bit patterns
            same = np.array_equal(arr.view(np.int16),
                                  ref.to(torch.bfloat16).view(torch.int16).numpy())
        if not same:
            bad_val.append(n)
    check(not bad_shape, f"{label}: shapes ({bad_shape[:3]})")
    check(not bad_dt, f"{label}: dtype {dtype} ({bad_dt[:3]})")
    check(not bad_val, f"{label}: values equal the state dict ({bad_val[:3]})")
    cfg = model.cfg
    want = {"winwin.format": "1", "task": task, "head": head,
            "enc_embed_dim": str(cfg.enc_embed_dim), "enc_depth": str(cfg.enc_depth),
            "enc_num_heads": str(cfg.enc_num_heads),
            "dec_embed_dim": str(cfg.dec_embed_dim if cfg.binocular else 0),
            "dec_depth": str(cfg.dec_depth), "dec_num_heads":
                str(cfg.dec_num_heads if cfg.binocular else 0),
            "layer_dims": ",".join(map(str, cfg.layer_dims)), "feature_dim": str(cfg.feature_dim),
            "out_channels": str(cfg.out_channels), "patch_size": "16", "pos_embed": "RoPE100",
            "mean": "0.485,0.456,0.406", "std": "0.229,0.224,0.225",
            "hooks": ",".join(map(str, R.hooks(cfg)))}
    if head == "regression":
        want["head_hidden"] = str(cfg.head_hidden)
    else:
        check("head_hidden" not in meta, f"{label}: no head_hidden for a {head} head")
    want.update(expect_meta or {})
    diff = {k: (meta.get(k), v) for k, v in want.items() if meta.get(k) != v}
    check(not diff, f"{label}: metadata ({diff})")
    check("convert_croco.py" in meta.get("provenance", ""), f"{label}: provenance")
    check(all(isinstance(v, str) for v in meta.values()), f"{label}: metadata values are strings")
    if dtype == "F32":
        # the converted weights run: same output as the original model
        m2 = R.CroCoRef(cfg)
        m2.load_state_dict({n: torch.from_numpy(a.copy()) for n, _, a in tensors}, strict=True)
        m2.eval()
        g = torch.Generator().manual_seed(5)
        x = [torch.randn(1, 3, 64, 96, generator=g) for _ in range(2 if cfg.binocular else 1)]
        with torch.no_grad():
            same = torch.equal(model(*x), m2(*x))
        check(same, f"{label}: converted weights give the same output")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="keep the files in this directory")
    a = ap.parse_args()
    tmp_obj = None
    if a.keep:
        tmp = a.keep
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp_obj = tempfile.TemporaryDirectory(prefix="ww_convert_")
        tmp = tmp_obj.name

    # the converter's canonical parameter list is croco_ref's state-dict order
    for cfg, label in ((FLOW, "flow"), (STEREO, "stereo"), (SEG, "seg")):
        m = R.CroCoRef(cfg)
        ccfg = dict(enc_embed_dim=cfg.enc_embed_dim, enc_depth=cfg.enc_depth,
                    dec_embed_dim=cfg.dec_embed_dim, dec_depth=cfg.dec_depth,
                    layer_dims=cfg.layer_dims, feature_dim=cfg.feature_dim,
                    head=cfg.head_type, head_hidden=cfg.head_hidden,
                    out_channels=cfg.out_channels)
        exp = [(n, tuple(s)) for n, s in C.expected_shapes(ccfg)]
        got = [(n, tuple(t.shape)) for n, t in m.state_dict().items()]
        check(exp == got, f"expected_shapes({label}) == croco_ref state dict (names, order, "
                          "shapes)")
        check(C.hooks_for(cfg.enc_depth, cfg.dec_depth) == R.hooks(cfg), f"hooks({label}) agree")
    check(C.hooks_for(12, 12) == [11, 15, 19, 23] and C.hooks_for(24, 12) == [23, 27, 31, 35]
          and C.hooks_for(12, 0) == [2, 5, 8, 11] and C.hooks_for(12, 8) == [10, 13, 16, 19],
          "hook rule: published values")

    flow = make_model(FLOW, 11)

    # 1. 'args' with a CroCoNet(...) string (an argparse.Namespace: needs the restricted loader)
    p = os.path.join(tmp, "flow_args.pth")
    torch.save({"model": training_state_dict(flow), "epoch": 3,
                "args": argparse.Namespace(model=model_string(FLOW), lr=1e-4)}, p)
    out = os.path.join(tmp, "flow_args.safetensors")
    rc, log = run_converter(p, out)
    check(rc == 0, "convert: args.model string" + ("" if rc == 0 else "\n" + log))
    check("mask_token" in log and "prediction_head.weight" in log,
          "convert: lists the dropped training-only entries")
    if rc == 0:
        verify(out, flow, "flow", "regression", label="args.model")

    # 2. 'croco_kwargs' dict, f16
    p = os.path.join(tmp, "flow_kwargs.pth")
    torch.save({"model": training_state_dict(flow), "croco_kwargs": kwargs_of(FLOW)}, p)
    out = os.path.join(tmp, "flow_kwargs_f16.safetensors")
    rc, log = run_converter(p, out, "--dtype", "f16", "--task", "flow")
    check(rc == 0, "convert: croco_kwargs, --dtype f16" + ("" if rc == 0 else "\n" + log))
    if rc == 0:
        verify(out, flow, "flow", "regression", dtype="F16", label="croco_kwargs f16")
    out = os.path.join(tmp, "flow_kwargs.safetensors")
    rc, log = run_converter(p, out)
    check(rc == 0, "convert: croco_kwargs" + ("" if rc == 0 else "\n" + log))
    if rc == 0:
        verify(out, flow, "flow", "regression", label="croco_kwargs")

    # 3. stereoflow layout: args.croco_args + args.task, bf16
    stereo = make_model(STEREO, 12)
    p = os.path.join(tmp, "stereo.pth")
    torch.save({"model": R.checkpoint_state_dict(stereo),
                "args": argparse.Namespace(task="stereo", croco_args=kwargs_of(STEREO),
                                           criterion="LaplacianLossBounded2()", crop=(352, 704))},
               p)
    out = os.path.join(tmp, "stereo.safetensors")
    rc, log = run_converter(p, out, "--dtype", "bf16")
    check(rc == 0, "convert: args.croco_args + args.task, --dtype bf16"
          + ("" if rc == 0 else "\n" + log))
    if rc == 0:
        verify(out, stereo, "stereo", "regression", dtype="BF16", label="stereoflow bf16")

    # 4. monocular semseg with classes and palette
    seg = make_model(SEG, 13)
    p = os.path.join(tmp, "seg.pth")
    torch.save({"model": R.checkpoint_state_dict(seg), "croco_kwargs": kwargs_of(SEG)}, p)
    out = os.path.join(tmp, "seg.safetensors")
    rc, log = run_converter(p, out, "--classes", "road,sky,car,person",
                            "--palette", "128,64,128;70,130,180;0,0,142;220,20,60")
    check(rc == 0, "convert: monocular semseg" + ("" if rc == 0 else "\n" + log))
    if rc == 0:
        verify(out, seg, "seg", "semseg", label="seg",
               expect_meta={"classes": "road,sky,car,person",
                            "palette": "128,64,128;70,130,180;0,0,142;220,20,60"})

    # 5. failures, each with its message
    def expect_fail(ckpt, needle, what, *extra):
        path = os.path.join(tmp, "bad.pth")
        torch.save(ckpt, path)
        rc, log = run_converter(path, os.path.join(tmp, "bad.safetensors"), *extra)
        check(rc != 0 and needle in log and "Traceback" not in log,
              f"fails cleanly: {what}" + ("" if rc != 0 and needle in log else "\n" + log))

    expect_fail({"state_dict": {}, "epoch": 1}, "no 'model'", "no 'model' entry")
    sd = training_state_dict(flow)
    sd["head.dpt.act_2_postprocess.0.bias"] = sd["head.dpt.act_2_postprocess.0.bias"] + 1
    expect_fail({"model": sd, "croco_kwargs": kwargs_of(FLOW)}, "differ", "aliases that differ")
    sd = training_state_dict(flow)
    sd["enc_pos_embed"] = torch.zeros(24, 32)
    expect_fail({"model": sd}, "cosine", "cosine position embedding")
    sd = training_state_dict(flow)
    sd["enc_blocks.0.attn.extra.weight"] = torch.zeros(3)
    expect_fail({"model": sd, "croco_kwargs": kwargs_of(FLOW)}, "unexpected parameters",
                "unknown parameter")
    sd = training_state_dict(flow)
    sd["dec_blocks.1.mlp.fc1.weight"] = torch.zeros(95, 24)
    expect_fail({"model": sd, "croco_kwargs": kwargs_of(FLOW)}, "unexpected shapes", "bad shape")
    sd = training_state_dict(flow)
    del sd["dec_blocks.2.norm_y.weight"]
    expect_fail({"model": sd, "croco_kwargs": kwargs_of(FLOW)}, "missing parameters",
                "missing parameter")
    kw = kwargs_of(FLOW)
    kw["enc_num_heads"] = 3
    expect_fail({"model": training_state_dict(flow), "croco_kwargs": kw}, "heads",
                "heads that do not divide the width")
    kw = kwargs_of(FLOW)
    kw["enc_depth"] = 6
    expect_fail({"model": training_state_dict(flow), "croco_kwargs": kw}, "enc_depth",
                "kwargs that contradict the tensors")
    expect_fail({"model": training_state_dict(flow), "croco_kwargs": kwargs_of(FLOW)},
                "monocular", "--task depth on a binocular model", "--task", "depth")
    expect_fail({"model": training_state_dict(flow),
                 "args": argparse.Namespace(model="CroCoNet(enc_depth=__import__('os'))")},
                "literal", "args.model that is not literal", "--task", "flow")

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))
    expect_fail({"model": training_state_dict(flow), "croco_kwargs": kwargs_of(FLOW),
                 "extra": Evil()}, "refusing", "pickled code is refused")

    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    if tmp_obj:
        tmp_obj.cleanup()
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
