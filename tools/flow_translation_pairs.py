#!/usr/bin/env python3
"""Write the easiest optical-flow training set there is, as a winwin-train list dataset.

Every pair is a random texture and the same texture moved by one integer shift (dx, dy), drawn
uniformly from the multiples of T in -S..S px, so the flow is that shift at every pixel and
nothing is occluded. With T = 16 (the models' patch) every frame-2 token is a frame-1 token
moved whole, the easiest matching there is. The
textures are multi-scale block noise (blocks of 4 to 32 px, independent per colour channel) at
a random offset, so that where the block edges lie says nothing about the shift: only matching
the two frames does. models/flow/assessment.md uses it to ask whether a model trained from
scratch learns matching at all.

    tools/flow_translation_pairs.py OUT_DIR [--count N] [--size P] [--max-shift S]
                                    [--shift-step T] [--seed K]
    winwin-train --task flow --data list:OUT_DIR/list.txt --size PxP --full --augment none ...

Writes OUT_DIR/K_1.png, K_2.png (8-bit RGB), K.flo (Middlebury) and list.txt. Needs numpy.
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_flo(path, u, v, w, h):
    flow = np.empty((h, w, 2), np.float32)
    flow[..., 0] = u
    flow[..., 1] = v
    with open(path, "wb") as f:
        f.write(struct.pack("<fii", 202021.25, w, h) + flow.tobytes())


def block_noise(rng, side):
    """side x side x 3 bytes: the sum of block noise at 4, 8, 16 and 32 px, weighted by the block
    size (most contrast in the coarse blocks, as in natural images), starting at a random phase."""
    t = np.zeros((side, side, 3))
    for s in (4, 8, 16, 32):
        cells = side // s + 2
        g = np.kron(rng.random((cells, cells, 3)), np.ones((s, s, 1)))
        oy, ox = rng.integers(0, s, 2)
        t += g[oy:oy + side, ox:ox + side] * s
    return (t / t.max() * 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=4000)
    ap.add_argument("--size", type=int, default=64, help="frame side, px (default 64)")
    ap.add_argument("--max-shift", type=int, default=8, help="S: shifts in -S..S px (default 8)")
    ap.add_argument("--shift-step", type=int, default=1, help="T: shifts are multiples of T px")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.count < 1 or a.size < 1 or a.max_shift < 0 or a.shift_step < 1:
        sys.exit(f"{sys.argv[0]}: --count, --size and --shift-step must be positive, "
                 "--max-shift not negative")
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    n, m = a.size, a.max_shift
    lines = []
    for i in range(a.count):
        tex = block_noise(rng, n + 2 * m)
        k = m // a.shift_step
        dx, dy = (int(x) * a.shift_step for x in rng.integers(-k, k + 1, 2))
        # frame 1 shows tex at (x + m, y + m); frame 2 shows it at (x + m - dx, y + m - dy), so
        # the point at frame-1 pixel p is at p + (dx, dy) in frame 2.
        write_png(f"{a.out}/{i}_1.png", np.ascontiguousarray(tex[m:m + n, m:m + n]))
        write_png(f"{a.out}/{i}_2.png",
                  np.ascontiguousarray(tex[m - dy:m - dy + n, m - dx:m - dx + n]))
        write_flo(f"{a.out}/{i}.flo", dx, dy, n, n)
        lines.append(f"{i}_1.png {i}_2.png {i}.flo")
    with open(f"{a.out}/list.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
