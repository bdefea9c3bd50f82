#!/usr/bin/env bash
# Pipeline throughput of winwinflow, winwindepth and winwinseg in gst-launch-1.0:
#   tools/bench-gst.sh [--device cpu|auto|vulkan|vulkan:N] [--frames N] [--out FILE.md]
# For each element and each of 640x360, 1280x720 and 1920x1080 it runs
#   videotestsrc num-buffers=N pattern=smpte horizontal-speed=4 !
#     video/x-raw,format=RGBA,width=W,height=H ! winwinXXX device=D mode=meta name=e !
#     fakesink sync=false
# once with N frames and once with 2, and takes fps = (N - 2) / (t_N - t_2) from the wall times:
# the subtraction removes the start-up (plugin and model load, device and runner creation).
# The same runs carry GStreamer's latency tracer (flags=element), whose per-buffer time spent in
# the element gives a second figure, the median over frames 3..N.
# The plugin comes from $BUILD/gst-plugin (BUILD defaults to build/); the table goes to stdout
# and to --out (default out/bench-gst.md); SIZES="WxH ..." replaces the three sizes. Default N: on the CPU backend 20, 6 and 4 frames for
# the three sizes (about 10-30 s per run on 2 cores), elsewhere 100, 60 and 40.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEVICE=cpu
FRAMES=""
OUT="$ROOT/out/bench-gst.md"

usage() {
  sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --device) DEVICE=${2:?}; shift 2 ;;
    --device=*) DEVICE=${1#*=}; shift ;;
    --frames) FRAMES=${2:?}; shift 2 ;;
    --frames=*) FRAMES=${1#*=}; shift ;;
    --out) OUT=${2:?}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument '$1'" >&2; usage ;;
  esac
done
if [ -n "$FRAMES" ] && ! [[ "$FRAMES" =~ ^[0-9]+$ && "$FRAMES" -ge 3 ]]; then
  echo "--frames must be a number >= 3 (2 frames are the start-up run)" >&2
  exit 2
fi

BUILD=${BUILD:-$ROOT/build}
BUILD=$(cd "$BUILD" && pwd)
if [ ! -f "$BUILD/gst-plugin/libgstwinwin.so" ]; then
  echo "no plugin at $BUILD/gst-plugin/libgstwinwin.so: build it (ninja -C $BUILD) or set BUILD" >&2
  exit 1
fi
command -v gst-launch-1.0 >/dev/null || { echo "gst-launch-1.0 is not installed" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/winwin-bench-gst.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export GST_PLUGIN_PATH="$BUILD/gst-plugin"
export GST_REGISTRY="$TMP/registry.bin"
export WINWIN_MODEL_DIR="${WINWIN_MODEL_DIR:-$ROOT/models}"
export GST_DEBUG_NO_COLOR=1
gst-inspect-1.0 winwinflow >/dev/null # fills the registry outside the timed runs

frames_for() { # W: the default N
  if [ -n "$FRAMES" ]; then
    echo "$FRAMES"
  elif [ "$DEVICE" = cpu ]; then
    if [ "$1" -le 640 ]; then echo 20; elif [ "$1" -le 1280 ]; then echo 6; else echo 4; fi
  else
    if [ "$1" -le 640 ]; then echo 100; elif [ "$1" -le 1280 ]; then echo 60; else echo 40; fi
  fi
}

# run ELEMENT W H N TAG: one pipeline with the tracer; prints the wall time in seconds.
run() {
  local e=$1 w=$2 h=$3 n=$4 tag=$5 t0 t1
  t0=$EPOCHREALTIME
  if ! GST_TRACERS="latency(flags=element)" GST_DEBUG="GST_TRACER:7" \
      GST_DEBUG_FILE="$TMP/$tag.trace" \
      gst-launch-1.0 -v videotestsrc num-buffers="$n" pattern=smpte horizontal-speed=4 ! \
      "video/x-raw,format=RGBA,width=$w,height=$h" ! \
      "$e" device="$DEVICE" mode=meta name=e ! fakesink sync=false \
      >"$TMP/$tag.out" 2>"$TMP/$tag.err"; then
    echo "$e ${w}x$h, $n frames failed:" >&2
    grep -m3 -E 'ERROR|erroneous' "$TMP/$tag.err" "$TMP/$tag.out" >&2 || tail -n 3 "$TMP/$tag.err" >&2
    return 1
  fi
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# The element's own time per frame from the tracer: median over frames 3..N, in ms.
tracer_ms() {
  grep -E 'element-latency, .*element=\(string\)e, ' "$1" |
    sed -E 's/.*time=\(guint64\)([0-9]+).*/\1/' | tail -n +3 | sort -n |
    awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "n/a"; exit }
      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.1f\n", m / 1e6 }'
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
  dirty=" (uncommitted changes)"
fi
{
  echo "# winwin GStreamer pipeline throughput"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev$dirty, plugin $BUILD/gst-plugin;"
  echo "${cpu:-unknown CPU}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start;"
  echo "GStreamer $(gst-launch-1.0 --version | awk '/^GStreamer/ { print $2; exit }')."
  echo
  echo "\`videotestsrc num-buffers=N pattern=smpte horizontal-speed=4 ! video/x-raw,format=RGBA,width=W,height=H"
  echo "! winwinXXX device=$DEVICE mode=meta ! fakesink sync=false\`, inference at the frame's size."
  echo "fps = (N - 2) / (t_N - t_2) from the wall times of an N-frame and a 2-frame run (the"
  echo "difference removes start-up: model load, device and runner creation). The element is"
  echo "synchronous (one frame in flight), so ms/frame = 1000 / fps is also its per-frame latency."
  echo "tracer ms: the element's own time per buffer from GStreamer's latency tracer"
  echo "(flags=element), median over frames 3..N. t_2, t_N: the two wall times (t_2 is mostly start-up;"
  echo "winwinflow's first frame only primes the runner, so its 2-frame run holds one inference)."
  echo
  echo "| element | size | device | frames | fps | ms/frame | tracer ms | t_2 s | t_N s |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$TMP/table.md"
cat "$TMP/table.md"

status=0
for e in winwinflow winwindepth winwinseg; do
  for size in ${SIZES:-640x360 1280x720 1920x1080}; do
    w=${size%x*}
    h=${size#*x}
    n=$(frames_for "$w")
    tag="$e-$size"
    if ! t2=$(run "$e" "$w" "$h" 2 "$tag-2") || ! tn=$(run "$e" "$w" "$h" "$n" "$tag-$n"); then
      row="| $e | $size | $DEVICE | $n | error | error | error | error | error |"
      status=1
    else
      dev=$(sed -nE 's/.*:e: device-name = (.*)$/\1/p' "$TMP/$tag-2.out" | tail -n 1)
      read -r fps ms < <(awk -v n="$n" -v a="$t2" -v b="$tn" 'BEGIN {
        d = b - a
        if (d <= 0) { print "n/a n/a"; exit }
        fps = (n - 2) / d
        printf "%.3g %.0f\n", fps, 1000 / fps }')
      row="| $e | $size | $DEVICE${dev:+: $dev} | $n | $fps | $ms | $(tracer_ms "$TMP/$tag-$n.trace") | $t2 | $tn |"
    fi
    echo "$row" | tee -a "$TMP/table.md"
  done
done

mkdir -p "$(dirname "$OUT")"
cp "$TMP/table.md" "$OUT"
echo >&2
echo "written to $OUT" >&2
exit $status
