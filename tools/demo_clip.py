#!/usr/bin/env python3
"""Raw RGB helpers of the demo (tools/demo.sh), standard library only.

  pan SRC.rgb SRC_W SRC_H OUT.rgb W H FRAMES STEP
      A clip of FRAMES W x H frames panning right across the SRC_W x SRC_H image by STEP pixels a
      frame: the scene moves left by STEP px per frame (a known flow of u = -STEP).
  sheet OUT.rgb W H FRAMES I,J,K CLIP.rgb [CLIP.rgb ...]
      A contact sheet: one row per chosen frame index, one column per clip (all W x H, FRAMES
      frames), each tile halved; prints the sheet's size as WxH.
"""
import sys


def pan(src, sw, sh, out, w, h, frames, step):
    img = open(src, "rb").read()
    if len(img) != sw * sh * 3:
        sys.exit(f"{src}: {len(img)} bytes, not a {sw}x{sh} RGB image")
    if w + (frames - 1) * step > sw or h > sh:
        sys.exit(f"{src}: {sw}x{sh} is too small for {frames} frames of {w}x{h} moving {step} px")
    with open(out, "wb") as f:
        for t in range(frames):
            x0 = t * step
            for y in range(h):
                row = (y * sw + x0) * 3
                f.write(img[row:row + w * 3])


def half(tile, w, h):
    """Average 2x2 blocks of an RGB tile."""
    hw, hh = w // 2, h // 2
    out = bytearray(hw * hh * 3)
    for y in range(hh):
        r0, r1 = 2 * y * w * 3, (2 * y + 1) * w * 3
        for x in range(hw):
            for c in range(3):
                i = 2 * x * 3 + c
                s = tile[r0 + i] + tile[r0 + i + 3] + tile[r1 + i] + tile[r1 + i + 3]
                out[(y * hw + x) * 3 + c] = (s + 2) // 4
    return out


def sheet(out, w, h, frames, picks, clips):
    data = []
    for c in clips:
        d = open(c, "rb").read()
        if len(d) != frames * w * h * 3:
            sys.exit(f"{c}: {len(d)} bytes, not {frames} frames of {w}x{h} RGB")
        data.append(d)
    hw, hh = w // 2, h // 2
    sw, sh = hw * len(clips), hh * len(picks)
    canvas = bytearray(sw * sh * 3)
    for r, t in enumerate(picks):
        for col, d in enumerate(data):
            tile = half(d[t * w * h * 3:(t + 1) * w * h * 3], w, h)
            for y in range(hh):
                dst = ((r * hh + y) * sw + col * hw) * 3
                canvas[dst:dst + hw * 3] = tile[y * hw * 3:(y + 1) * hw * 3]
    open(out, "wb").write(canvas)
    print(f"{sw}x{sh}")


def main(a):
    if len(a) == 9 and a[0] == "pan":
        pan(a[1], int(a[2]), int(a[3]), a[4], int(a[5]), int(a[6]), int(a[7]), int(a[8]))
    elif len(a) >= 7 and a[0] == "sheet":
        sheet(a[1], int(a[2]), int(a[3]), int(a[4]), [int(i) for i in a[5].split(",")], a[6:])
    else:
        sys.exit(__doc__)


main(sys.argv[1:])
