#!/usr/bin/env bash
# The README's main command: install what is missing, build, run the op benchmark on every
# backend this machine has, then the three default models (models/) on procedural scenes made
# by winwin-train synth, writing everything to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
if [ -f build/build.ninja ]; then meson configure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build
mkdir -p out
build/tools/winwin-bench ops --csv out/bench-ops.csv "$@" | tee out/bench-ops.txt

# Held-out procedural inputs (seed 7357 is never used in training), then one full-resolution
# pass of each default model with its colour picture.
train=build/training/winwin-train
infer=build/tools/winwin-infer
mkdir -p out/inputs
for task in flow depth seg; do
  "$train" synth --task $task --size 960x540 --count 1 --seed 7357 --classes 12 --out out/inputs \
    >/dev/null
done
"$infer" --task flow out/inputs/flow_000_frame1.png out/inputs/flow_000_frame2.png \
  -o out/flow.flo --viz out/flow.png
"$infer" --task depth out/inputs/depth_000_image.png -o out/depth.pfm --viz out/depth.png
"$infer" --task seg out/inputs/seg_000_image.png -o out/seg-ids.png --viz out/seg.png
echo "results: out/bench-ops.txt, out/bench-ops.csv; out/flow.png, out/depth.png, out/seg.png" \
  "(inputs and their ground truth in out/inputs/)"
