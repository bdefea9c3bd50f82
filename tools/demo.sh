#!/usr/bin/env bash
# The README's main command: install what is missing, build, then run winwinflow, winwindepth and
# winwinseg with their default models on a short clip made here (a camera panning across a
# held-out procedural street scene), writing one mp4 per element and a PNG contact sheet to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
if [ -f build/build.ninja ]; then meson configure build >/dev/null; else meson setup build >/dev/null; fi
ninja -C build

W=640 H=360 FRAMES=24 STEP=8 FPS=12
export GST_PLUGIN_PATH="$PWD/build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
mkdir -p out/inputs

# The clip: seed 7357 is never used in training.
SW=$((W + (FRAMES - 1) * STEP))
build/training/winwin-train synth --task seg --size ${SW}x$H --count 1 --seed 7357 --classes 12 \
  --out out/inputs >/dev/null
gst-launch-1.0 -q filesrc location=out/inputs/seg_000_image.png ! pngdec ! videoconvert ! \
  video/x-raw,format=RGB ! filesink location=out/inputs/scene.rgb
python3 tools/demo_clip.py pan out/inputs/scene.rgb $SW $H out/inputs/clip.rgb $W $H $FRAMES $STEP

raw_in="filesrc location=out/inputs/clip.rgb ! rawvideoparse width=$W height=$H format=rgb framerate=$FPS/1"
to_mp4() { # raw RGB file -> mp4
  gst-launch-1.0 -q filesrc location="$1" ! rawvideoparse width=$W height=$H format=rgb \
    framerate=$FPS/1 ! videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! \
    filesink location="$2"
}
to_mp4 out/inputs/clip.rgb out/input.mp4

# Each element once over the clip; its pictures are kept raw for the mp4 and the contact sheet.
run() { # name, element and properties
  local name=$1
  shift
  echo "running $* on $FRAMES frames of ${W}x$H ..."
  local t0=$SECONDS
  gst-launch-1.0 -q $raw_in ! videoconvert ! "$@" ! videoconvert ! video/x-raw,format=RGB ! \
    filesink location=out/inputs/$name.rgb
  echo "  $((SECONDS - t0)) s"
  to_mp4 out/inputs/$name.rgb out/$name.mp4
}
run flow winwinflow mode=visualize
run depth winwindepth mode=visualize
run seg winwinseg mode=overlay alpha=0.6

size=$(python3 tools/demo_clip.py sheet out/inputs/sheet.rgb $W $H $FRAMES 1,12,23 \
  out/inputs/clip.rgb out/inputs/flow.rgb out/inputs/depth.rgb out/inputs/seg.rgb)
gst-launch-1.0 -q filesrc location=out/inputs/sheet.rgb ! rawvideoparse width=${size%x*} \
  height=${size#*x} format=rgb framerate=1/1 ! videoconvert ! pngenc ! \
  filesink location=out/contact-sheet.png
echo "results: out/input.mp4, out/flow.mp4, out/depth.mp4, out/seg.mp4;" \
  "out/contact-sheet.png (rows: frames 1, 12, 23; columns: input, flow, depth, seg)"
