#!/usr/bin/env bash
# Train the default models shipped in models/ and write their cards.
#
# Each model is trained by winwin-train on procedural data (no download) at high resolution with
# 2 windows, exported as F16, evaluated at full resolution (1280x720) on held-out procedural
# images next to the trivial baseline, and run on the real samples in ../shared/data; the card
# (models/TASK/README.md) records the exact command, the time, the machine and every figure,
# and ends with models/TASK/assessment.md, the hand-written judgement of what the model does.
#
# Usage: tools/make-default-models.sh [flow] [depth] [seg]     (default: all three)
#        REUSE=1 tools/make-default-models.sh depth   rewrite the card from runs/default-depth's
#                                                      finished run instead of training again
# Needs a build (tools/demo.sh or tools/test.sh makes one); gst-launch-1.0 for the flow
# model's videotestsrc check; python3 (standard library) to read the results.
set -euo pipefail
cd "$(dirname "$0")/.."
train=build/training/winwin-train
infer=build/tools/winwin-infer
shared=$(cd .. && pwd)/shared/data
[ -x "$train" ] && [ -x "$infer" ] || { echo "build first (tools/test.sh)" >&2; exit 1; }

# The exact training commands the cards quote.
cmd_flow=(--task flow --model micro --size 1280x704 --window-size 10 --batch 4 --steps 1600
          --lr 5e-4 --val-data synthetic:8 --val-size 1280x720 --val-every 400 --seed 1)
cmd_depth=(--task depth --model micro --size 1280x704 --window-size 12 --batch 4 --steps 500
           --lr 1e-3 --val-data synthetic:8 --val-size 1280x720 --val-every 250 --seed 2)
cmd_seg=(--task seg --model micro --classes 12 --size 1280x704 --window-size 12 --batch 4
         --steps 300 --lr 1e-3 --val-data synthetic:8 --val-size 1280x720 --val-every 150
         --seed 3)

machine() {
  local cpu
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  echo "$cpu, $(nproc) cores, CPU backend (no GPU)"
}

# Mean (u, v) of a .flo file over its known pixels.
mean_flow() {
  python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
w, h = struct.unpack('<ii', d[4:12])
v = struct.unpack('<%df' % (2 * w * h), d[12:12 + 8 * w * h])
u = [v[i] for i in range(0, len(v), 2) if abs(v[i]) < 1e9]
y = [v[i] for i in range(1, len(v), 2) if abs(v[i]) < 1e9]
print('%.2f %.2f' % (sum(u) / len(u), sum(y) / len(y)))
EOF
}

# "metric value" lines of an eval JSON: the model's and the baseline's members.
eval_table() {
  python3 - "$1" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
keys = [k for k in e if k not in ('model', 'data', 'images', 'baseline')
        and not k.startswith('baseline_')]
print('| metric | this model | %s |' % e['baseline'])
print('|---|---|---|')
for k in keys:
    print('| %s | %s | %s |' % (k, e[k], e.get('baseline_' + k)))
EOF
}

make_one() {
  local task=$1 dir=models/$1 run=runs/default-$1
  local -n cmd=cmd_$1
  mkdir -p "$dir"
  if [ "${REUSE:-0}" != 1 ] || [ ! -s "$run/model.safetensors" ]; then
    rm -rf "$run"
    echo "== $task: winwin-train ${cmd[*]} --out $run"
    "$train" "${cmd[@]}" --out "$run"
  fi
  local params
  params=$("$train" export "$run/model.safetensors" -o "$dir/model.safetensors" --f16 |
    sed -n 's/.*: \([0-9]*\) parameters.*/\1/p')
  "$train" plot "$run/metrics.jsonl" -o "$dir/curves.svg" >/dev/null
  "$train" eval --model "$dir/model.safetensors" --data synthetic:16 --size 1280x720 \
    --json "$dir/eval-synthetic-1280x720.json"
  local real=""
  case $task in
    flow)
      local tmp; tmp=$(mktemp -d)
      printf '%s %s %s\n' "$shared/flow/sintel-alley_1/frame_0002.png" \
        "$shared/flow/sintel-alley_1/frame_0003.png" "$shared/flow/sintel-alley_1/frame_0002.flo" \
        > "$run/sintel.txt"
      printf '%s %s %s\n' "$shared/flow/kitti/frame1.png" "$shared/flow/kitti/frame2.png" \
        "$shared/flow/kitti/flow_gt.png" > "$run/kitti.txt"
      "$train" eval --model "$dir/model.safetensors" --data "list:$run/sintel.txt" \
        --json "$dir/eval-sintel.json"
      "$train" eval --model "$dir/model.safetensors" --data "list:$run/kitti.txt" \
        --json "$dir/eval-kitti.json"
      "$infer" -m "$dir/model.safetensors" "$shared/flow/sintel-alley_1/frame_0002.png" \
        "$shared/flow/sintel-alley_1/frame_0003.png" -o "$tmp/s.flo" --viz "$dir/sintel.png" \
        --max-flow 20
      "$infer" -m "$dir/model.safetensors" "$shared/flow/kitti/frame1.png" \
        "$shared/flow/kitti/frame2.png" -o "$tmp/k.flo" --viz "$dir/kitti.png" --max-flow 40
      local vts="| pattern | speed (px/frame) | true flow (u, v) | mean predicted (u, v) |\n|---|---|---|---|\n"
      for pat in smpte checkers-8 circular; do
        for speed in 4 -8; do
          gst-launch-1.0 -q videotestsrc pattern=$pat horizontal-speed=$speed num-buffers=2 ! \
            video/x-raw,width=640,height=360,format=RGB ! pngenc ! \
            multifilesink location="$tmp/$pat$speed-%d.png"
          "$infer" -m "$dir/model.safetensors" "$tmp/$pat$speed-0.png" "$tmp/$pat$speed-1.png" \
            -o "$tmp/v.flo"
          vts+="| $pat | $speed | ($((-speed)), 0) | ($(mean_flow "$tmp/v.flo" | sed 's/ /, /')) |\n"
        done
      done
      real="## On the real samples (\`../shared/data\`)

Sintel alley_1 frames 2 -> 3 (1024x436) and the KITTI pair (1242x375), at full resolution:

$(eval_table "$dir/eval-sintel.json")

$(eval_table "$dir/eval-kitti.json")

![Sintel flow](sintel.png) ![KITTI flow](kitti.png)

Colour wheel saturating at 20 px (Sintel) and 40 px (KITTI).

## Direction on \`videotestsrc\` scrolling patterns

\`horizontal-speed=N\` scrolls the picture N px per frame to the left, a flow of (-N, 0);
640x360 frames:

$(printf "$vts")"
      rm -rf "$tmp" ;;
    depth)
      local tmp; tmp=$(mktemp -d)
      printf '%s %s %s\n' "$shared/depth/kitti2012/left_000070_10.png" \
        "$shared/depth/kitti2012/disp_noc_000070_10.png" \
        "$shared/depth/kitti2012/calib_000070.txt" > "$run/kitti.txt"
      "$train" eval --model "$dir/model.safetensors" --data "list:$run/kitti.txt" \
        --json "$dir/eval-kitti.json"
      "$infer" -m "$dir/model.safetensors" "$shared/depth/kitti2012/left_000070_10.png" \
        -o "$tmp/d.pfm" --viz "$dir/kitti.png"
      real="## On the real sample (\`../shared/data\`)

KITTI 2012 #70 (1242x375), depth from the ground-truth disparity and the calibration:

$(eval_table "$dir/eval-kitti.json")

![KITTI depth (inverse depth, turbo)](kitti.png)"
      rm -rf "$tmp" ;;
    seg)
      local tmp; tmp=$(mktemp -d)
      "$infer" -m "$dir/model.safetensors" "$shared/seg/camvid/image_0001TP_006690.png" \
        -o "$tmp/ids.png" --viz "$dir/camvid.png"
      rm -rf "$tmp"
      local legend
      legend=$(python3 - "$dir/model.safetensors" <<'EOF'
import json, struct, sys
d = open(sys.argv[1], 'rb').read(1 << 20)
m = json.loads(d[8:8 + struct.unpack('<Q', d[:8])[0]])['__metadata__']
print('| id | class | colour (R, G, B) |')
print('|---|---|---|')
for i, (n, c) in enumerate(zip(m['classes'].split(','), m['palette'].split(';'))):
    print('| %d | %s | %s |' % (i, n, c.replace(',', ', ')))
EOF
)
      real="## Classes

The procedural street and landscape classes (\`training/synth.h\`), with the colours of the
pictures (the model's \`classes\` and \`palette\` metadata):

$legend

## On the real sample (\`../shared/data\`)

The CamVid frame \`seg/camvid/image_0001TP_006690.png\` (480x360). Its 11 classes are not the
model's, so there is no score; the picture shows which procedural classes the model sees in a
real street:

![CamVid frame through the model](camvid.png)" ;;
  esac
  local mins
  mins=$(python3 -c "
import json, sys
t = [json.loads(l).get('elapsed_s') for l in open('$run/metrics.jsonl')]
print(round(max(x for x in t if x is not None) / 60, 1))")
  cat > "$dir/README.md" <<EOF
# Default $task model

\`model.safetensors\`: the model \`winwin${task}\`, \`winwin-infer --task $task\` and the demo
use when none is given. Trained from scratch on procedural data only; it is a working default
and a reproducible baseline, not a benchmark model.

- Architecture: the \`micro\` preset (CroCo-style ViT, patch 16, RoPE-2D, width 128, 6 encoder
  blocks$( [ "$task" = flow ] && echo ", 4 cross-attention decoder blocks" ), DPT head), **$params
  parameters**, stored as F16 ($(du -k "$dir/model.safetensors" | cut -f1) KiB).
- Training: Win-Win masking, 2 random windows per image at 1280x704, on
  \`synthetic\` procedural $task data with the default augmentation.
- Time: $mins min of training (the trainer's wall clock, validation included) on $(machine),
  with other work sharing the machine at times.

Reproduce (from the repository root, after a build):

    build/training/winwin-train ${cmd[*]} --out $run
    build/training/winwin-train export $run/model.safetensors -o $dir/model.safetensors --f16

(\`tools/make-default-models.sh $task\` runs both and rewrites this card.)

## Held-out procedural data, full resolution

16 procedural images at 1280x720 (seed 7357, never used in training), one pass each, against
the trivial baseline:

$(eval_table "$dir/eval-synthetic-1280x720.json")

Training curves: [curves.svg](curves.svg).

$real
$( [ -f "$dir/assessment.md" ] && printf '\n%s\n' "$(cat "$dir/assessment.md")" )
EOF
  echo "== $task: $dir/README.md"
}

tasks=("$@")
[ ${#tasks[@]} -gt 0 ] || tasks=(flow depth seg)
for t in "${tasks[@]}"; do
  case $t in flow|depth|seg) make_one "$t" ;; *) echo "unknown task $t" >&2; exit 2 ;; esac
done
