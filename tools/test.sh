#!/usr/bin/env bash
# The README's test command (and CI's): install what is missing, build with warnings as errors,
# run every test; then the core tests again under AddressSanitizer + UBSan, built without
# OpenBLAS so that the CPU backend's own blocked GEMM is tested too.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

setup() { # dir, options...
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

setup build -Dwerror=true
ninja -C build
status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1

# Mesa and the Vulkan loader keep allocations until exit that LeakSanitizer would report as
# leaks of theirs; the suppressions name only those libraries.
setup build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false -Dbenchmarks=disabled -Dblas=disabled
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1 \
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2 --suite core || status=1

# The elements under ASan + LSan: 2000 frames through winwinflow must leak nothing and keep the
# memory flat (test_memory_flat). The plugin loads in-process (the plugin scanner is not
# instrumented) and alone (system plugins would bring their own leaks); no fork, so that a leak
# fails the exit status.
gst_log=build-asan/meson-logs/gst-asan.txt
if [ -x build-asan/tests/test_gst_elements ]; then
  GST_REGISTRY_FORK=no GST_PLUGIN_SYSTEM_PATH_1_0= GST_PLUGIN_PATH_1_0="$PWD/build-asan/gst-plugin" \
    GST_REGISTRY_1_0="$PWD/build-asan/gst-asan-registry.bin" GST_CHECKS=test_memory_flat \
    CK_FORK=no CK_DEFAULT_TIMEOUT=900 ASAN_OPTIONS=detect_leaks=1 \
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
    build-asan/tests/test_gst_elements >"$gst_log" 2>&1 || status=1
  tail -n 3 "$gst_log"
fi

# One closing line over both runs, from the test programs' own counts; a program that died
# before printing its count still shows up through meson's own failure count.
logs=(build/meson-logs/testlog.txt build-asan/meson-logs/testlog.txt)
[ -f "$gst_log" ] && logs+=("$gst_log")
read -r passed failed skipped < <(cat "${logs[@]}" |
  awk '/^[0-9]+ passed, [0-9]+ failed/ { p += $1; f += $3; s += ($5 == "" ? 0 : $5) }
       END { print p + 0, f + 0, s + 0 }')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=$(cat "${logs[@]}" | awk '/^(Fail|Timeout): +[0-9]+/ { n += $2 } END { print (n ? n : 1) }')
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
