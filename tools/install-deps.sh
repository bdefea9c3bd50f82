#!/usr/bin/env bash
# Installs the Debian 12 packages winwin builds and tests with, only those that are missing.
set -euo pipefail

packages=(
  meson ninja-build pkg-config gcc python3   # build
  glslang-tools                               # GLSL -> SPIR-V at build time
  libvulkan-dev                               # Vulkan loader and headers
  mesa-vulkan-drivers                         # lavapipe: Vulkan on the CPU (CI has no GPU)
  vulkan-validationlayers                     # VK_LAYER_KHRONOS_validation for the tests
  libopenblas-dev                             # CBLAS GEMM for the CPU backend
  libpng-dev libjpeg62-turbo-dev              # image files of winwin-infer and the datasets
  libhdf5-dev                                 # Spring .flo5 flow files (meson option hdf5)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev   # the GStreamer plugin
  libgstreamer-plugins-bad1.0-dev             # gstreamer-vulkan-1.0: GstContext device sharing
  libxkbcommon-dev libxkbcommon-x11-dev       # required by gstreamer-vulkan-1.0.pc
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good  # gst-launch, videotestsrc, pngenc, mp4mux
  gstreamer1.0-plugins-bad                    # vulkanupload (tests), fpsdisplaysink
  gstreamer1.0-plugins-ugly                   # x264enc: the demo's mp4 files
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
