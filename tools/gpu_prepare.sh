#!/usr/bin/env bash
# Packs a GPU run of tools/gpu_check.sh, from the repository root, with Deno installed:
#   bash tools/gpu_prepare.sh
# Then, through the device tool: command `bash tools/gpu_check.sh`, carry [".device", ".gl"].
# ../shared/device/prepare.sh packs Deno, the bundle, the data and the Vulkan loader. NVIDIA's
# Vulkan driver (libGLX_nvidia.so.0) also needs libglvnd's libraries: without them the adapter
# is "none". They are added to .gl/ here.
set -euo pipefail
bash ../shared/device/prepare.sh fashion_webgpu.ts --with-data
cp ../shared/reference/torch_alexnet.py .device/
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
(cd .gl && apt-get $o download libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 >/dev/null)
du -sh .device .gl
