#!/usr/bin/env bash
# winwin-infer end to end: every task and output type on the tiny fixture models (CPU backend)
# with tests/data's two 70x50 frames, checking exit codes and the files' headers and sizes; and
# the errors (wrong task, missing or bad files, bad options) exit 1 with a message naming what is
# wrong. Output in test_util.h's format ("ok NAME", "FAIL NAME: why", "N passed, N failed").
#
# Usage: test_infer.sh PATH/TO/winwin-infer TESTS_SOURCE_DIR
set -u
infer=$1
src=$2
fixtures=$src/fixtures
f1=$src/data/frame1.png
f2=$src/data/frame2.png
tmp=$(mktemp -d /tmp/ww_infer_test_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; sed 's/^/    | /' "$tmp/stderr"; failed=$((failed + 1)); }

# run NAME WANT_RC ARGS...: runs winwin-infer, stderr kept in $tmp/stderr; 0 when rc matched.
run() {
  local name=$1 want=$2
  shift 2
  "$infer" "$@" 2>"$tmp/stderr" >"$tmp/stdout"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "$name" "exit code $rc, want $want (winwin-infer $*)"
    return 1
  fi
}

# png_header FILE: "WIDTH HEIGHT BITDEPTH COLORTYPE" from the IHDR chunk.
png_header() {
  od -An -tu1 -j16 -N10 "$1" |
    awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4, \
                 $5 * 16777216 + $6 * 65536 + $7 * 256 + $8, $9, $10 }'
}

# expect_png NAME FILE "70 50 DEPTH TYPE"
expect_png() {
  local got
  got=$(png_header "$2")
  if [ "$got" = "$3" ]; then ok "$1"; else bad "$1" "$2: IHDR '$got', want '$3'"; fi
}

# expect_error NAME TEXT: stderr must contain TEXT.
expect_error() {
  if grep -qF -- "$2" "$tmp/stderr"; then ok "$1"; else bad "$1" "stderr does not say '$2'"; fi
}

# ---- Every task and output type ----------------------------------------------------------------
if run flow_flo 0 --model "$fixtures/tiny_flow.safetensors" --device cpu "$f1" "$f2" \
  -o "$tmp/flow.flo" --viz "$tmp/flow_viz.png"; then
  size=$(stat -c %s "$tmp/flow.flo")
  magic=$(head -c 4 "$tmp/flow.flo")
  dims=$(od -An -td4 -j4 -N8 "$tmp/flow.flo" | tr -s ' ')
  if [ "$size" = $((12 + 70 * 50 * 8)) ] && [ "$magic" = PIEH ] && [ "$dims" = " 70 50" ]; then
    ok flow_flo
  else
    bad flow_flo "flow.flo: $size bytes, magic '$magic', size '$dims' (want 28012, PIEH, 70 50)"
  fi
  expect_png flow_viz "$tmp/flow_viz.png" "70 50 8 2"
fi

run flow_kitti_png 0 -m "$fixtures/tiny_flow.safetensors" -d cpu "$f1" "$f2" \
  -o "$tmp/flow.png" --max-flow 2 &&
  expect_png flow_kitti_png "$tmp/flow.png" "70 50 16 2"

run depth_png 0 -m "$fixtures/tiny_depth.safetensors" -d cpu "$f1" -o "$tmp/depth.png" \
  --depth-scale 100 --viz "$tmp/depth_viz.png" --colormap viridis &&
  expect_png depth_png "$tmp/depth.png" "70 50 16 0" &&
  expect_png depth_viz "$tmp/depth_viz.png" "70 50 8 2"

if run depth_pfm 0 -m "$fixtures/tiny_depth.safetensors" -d cpu "$f1" -o "$tmp/depth.pfm"; then
  header=$(head -c 12 "$tmp/depth.pfm" | tr '\n' ' ')
  size=$(stat -c %s "$tmp/depth.pfm")
  if [ "$header" = "Pf 70 50 -1 " ] && [ "$size" = $((12 + 70 * 50 * 4)) ]; then
    ok depth_pfm
  else
    bad depth_pfm "depth.pfm: header '$header', $size bytes"
  fi
fi

run seg_png 0 -m "$fixtures/tiny_seg.safetensors" -d cpu "$f1" -o "$tmp/seg.png" \
  --viz "$tmp/seg_viz.png" --confidence "$tmp/seg_conf.png" &&
  expect_png seg_png "$tmp/seg.png" "70 50 8 0" &&
  expect_png seg_viz "$tmp/seg_viz.png" "70 50 8 2" &&
  expect_png seg_confidence "$tmp/seg_conf.png" "70 50 8 0"

run help 0 --help && grep -q -- "--depth-scale" "$tmp/stdout" && ok help

# ---- Errors: exit 1 and a message naming the problem --------------------------------------------
run depth_two_images 1 -m "$fixtures/tiny_depth.safetensors" -d cpu "$f1" "$f2" -o "$tmp/x.png" &&
  expect_error depth_two_images "depth model: it takes one image"
run flow_one_image 1 -m "$fixtures/tiny_flow.safetensors" -d cpu "$f1" -o "$tmp/x.flo" &&
  expect_error flow_one_image "flow model: it takes two images"
run missing_model 1 -m "$tmp/no-such-model.safetensors" -d cpu "$f1" -o "$tmp/x.png" &&
  expect_error missing_model "$tmp/no-such-model.safetensors"
run missing_image 1 -m "$fixtures/tiny_depth.safetensors" -d cpu "$tmp/nothing.png" \
  -o "$tmp/x.png" && expect_error missing_image "$tmp/nothing.png: cannot open"
run not_an_image 1 -m "$fixtures/tiny_depth.safetensors" -d cpu "$src/test_infer.sh" \
  -o "$tmp/x.png" && expect_error not_an_image "test_infer.sh: not a PNG, JPEG or PPM image"
head -c 500 "$f1" >"$tmp/cut.png"
run truncated_image 1 -m "$fixtures/tiny_depth.safetensors" -d cpu "$tmp/cut.png" \
  -o "$tmp/x.png" && expect_error truncated_image "$tmp/cut.png: file is truncated"
run wrong_output_type 1 -m "$fixtures/tiny_flow.safetensors" -d cpu "$f1" "$f2" \
  -o "$tmp/x.pfm" && expect_error wrong_output_type "a flow result is written as .flo or .png"
run unwritable_output 1 -m "$fixtures/tiny_flow.safetensors" -d cpu "$f1" "$f2" \
  -o "$tmp/no-dir/x.flo" && expect_error unwritable_output "$tmp/no-dir/x.flo: cannot create"
run no_output 1 -m "$fixtures/tiny_flow.safetensors" "$f1" "$f2" &&
  expect_error no_output "no output"
run bad_option 1 --frobnicate && expect_error bad_option "unknown option '--frobnicate'"
run bad_colormap 1 --colormap jet && expect_error bad_colormap "unknown colormap 'jet'"
run confidence_not_seg 1 -m "$fixtures/tiny_depth.safetensors" -d cpu "$f1" -o "$tmp/x.png" \
  --confidence "$tmp/c.png" && expect_error confidence_not_seg "a depth model has no class"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
