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
