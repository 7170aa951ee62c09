#!/usr/bin/env bash
# Runs on the GPU machine (see tools/gpu_prepare.sh): AlexNet at 224, batch 128 on WebGPU with
# PyTorch (CUDA) in the same run, then real training until BUDGET seconds (default 330) are used.
# Logs go to $OUT (bench.log, train.log) and the run's small files after them.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
data=.device/data
start=$(date +%s)
timeout -s INT 210 bash .device/gpu_run.sh bench --backend webgpu --batch 128 --steps 20 \
  --data-batches 5 --data-dir "$data" --torch-script .device/torch_alexnet.py \
  --torch-device cuda --python python3 2>&1 | grep -v XDG_RUNTIME | tee "$OUT/bench.log"
grep -q "no WebGPU adapter" "$OUT/bench.log" && exit 1
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
left=$((${BUDGET:-330} - ($(date +%s) - start)))
if [ "$left" -gt 40 ]; then
  timeout -s INT "$left" /tmp/deno run -A .device/app.js train --backend webgpu --epochs 5 \
    --data-dir "$data" --out /tmp/run 2>&1 | grep -v XDG_RUNTIME | tr '\r' '\n' |
    tee "$OUT/train.log" | tail -40
  find /tmp/run -maxdepth 1 -type f -size -2M -exec cp {} "$OUT/" \;
fi
echo "done after $(($(date +%s) - start)) s"
