#!/usr/bin/env python3
"""Cross-check of winwin's safetensors code against huggingface's own (the `safetensors` Python
package, with numpy). test_safetensors runs this when python3 has both; nothing else needs it.

    safetensors_interop.py read FILE SIMPLE   FILE, SIMPLE written by ww_st_write: check them
    safetensors_interop.py write FILE         write FILE with huggingface's writer

The fixture below is the same as in test_safetensors.c (interop_fixture); keep them equal.
Exit status 0 when every check passed; the first failure is printed.
"""
import struct
import sys

import numpy as np
from safetensors import deserialize, safe_open
from safetensors.numpy import save, save_file

META = {
    "format": "pt",
    "note": "quote \" backslash \\ newline \n tab \t ctrl \x01 \u00e9 \U0001F600",
}

F32 = [-1.5, -0.375, 0.0, 0.25, 3.5, 1e-30]
F16_BITS = [0x3C00, 0xC100, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x8000, 0x7E00]
BF16_BITS = [0x3F80, 0xC0A0, 0x0001, 0xFF80]
U8 = [0, 1, 127, 128, 255]
I64 = [-1, 0, 1 << 40, -(1 << 63)]
I32 = [-7, 0, 2147483647]

# name -> (dtype, shape, little-endian bytes, numpy dtype or None when numpy has none)
FIXTURE = {
    "w.f32": ("F32", [2, 3], struct.pack("<6f", *F32), np.float32),
    "w.f16": ("F16", [9], struct.pack("<9H", *F16_BITS), np.float16),
    "w.bf16": ("BF16", [4], struct.pack("<4H", *BF16_BITS), None),
    "idx.u8": ("U8", [5], bytes(U8), np.uint8),
    "idx.i64": ("I64", [2, 2], struct.pack("<4q", *I64), np.int64),
    "idx.i32": ("I32", [3], struct.pack("<3i", *I32), np.int32),
    "scalar": ("F32", [], struct.pack("<f", 2.5), np.float32),
    "empty": ("F32", [0, 4], b"", np.float32),
}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check_read(path, simple_path):
    with open(path, "rb") as fh:
        raw = fh.read()
    # huggingface's parser, with its own validation (contiguous tensors, header checks)
    got = {name: info for name, info in deserialize(raw)}
    if sorted(got) != sorted(FIXTURE):
        fail(f"tensor names {sorted(got)} != {sorted(FIXTURE)}")
    for name, (dtype, shape, data, npdtype) in FIXTURE.items():
        info = got[name]
        if info["dtype"] != dtype or list(info["shape"]) != shape:
            fail(f"{name}: {info['dtype']} {info['shape']} != {dtype} {shape}")
        if bytes(info["data"]) != data:
            fail(f"{name}: bytes differ")
    with safe_open(path, framework="numpy") as f:
        if f.metadata() != META:
            fail(f"metadata {f.metadata()!r} != {META!r}")
        for name, (dtype, shape, data, npdtype) in FIXTURE.items():
            if npdtype is None:
                continue
            a = f.get_tensor(name)
            le = a.astype(a.dtype.newbyteorder("<"))
            if a.dtype != npdtype or list(a.shape) != shape or le.tobytes() != data:
                fail(f"{name}: numpy gives {a.dtype} {a.shape} {a!r}")
    # byte for byte the same file as huggingface's writer makes (one key, one tensor: no order
    # question)
    with open(simple_path, "rb") as fh:
        ours = fh.read()
    theirs = save({"a": np.array([1.0, 2.0], np.float32)}, metadata={"k": META["note"]})
    if ours != theirs:
        fail(f"simple file differs:\n ours   {ours!r}\n theirs {theirs!r}")
    print(f"ok: {len(FIXTURE)} tensors and metadata read by safetensors, simple file identical")


def write(path):
    tensors = {}
    for name, (dtype, shape, data, npdtype) in FIXTURE.items():
        if npdtype is not None:
            le = np.dtype(npdtype).newbyteorder("<")
            tensors[name] = np.frombuffer(data, dtype=le).reshape(shape)
    save_file(tensors, path, metadata=META)
    print(f"ok: wrote {len(tensors)} tensors")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "read":
        check_read(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(__doc__)
