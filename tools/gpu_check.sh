#!/usr/bin/env bash
# Runs on the GPU machine (see tools/gpu_prepare.sh), within about 6 minutes: the WebGPU report
# (adapter, every kernel variant of AlexNet at 224, batch 128, the whole step) with PyTorch (CUDA)
# in the same run, TF32 off and on; then the whole step with tfjs's own kernels; then real
# training until BUDGET seconds (default 330) are used. Everything lands in $OUT.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
data=.device/data
start=$(date +%s)
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
timeout -s INT 200 bash .device/gpu_run.sh bench --gpu-report --backend webgpu --batch 128 \
  --steps 10 --data-batches 5 --repeats 5 --splits 16,64,256 --data-dir "$data" \
  --report-dir "$OUT" --torch-script .device/torch_alexnet.py --torch-device cuda \
  --torch-tf32 both --python python3 2>&1 | grep -v XDG_RUNTIME | tee "$OUT/report.log"
grep -q "no WebGPU adapter" "$OUT/report.log" && exit 1
timeout -s INT 60 /tmp/deno run -A .device/app.js bench --backend webgpu --batch 128 --steps 5 \
  --data-batches 1 --convolution tfjs --filter-gradient tiled --input-gradient tfjs \
  --matmul tfjs --adam tfjs --data-dir "$data" 2>&1 | grep -v XDG_RUNTIME |
  tee "$OUT/bench_tfjs_kernels.log" | grep -E "step|median"
left=$((${BUDGET:-330} - ($(date +%s) - start)))
if [ "$left" -gt 40 ]; then
  timeout -s INT "$left" /tmp/deno run -A .device/app.js train --backend webgpu --epochs 5 \
    --data-dir "$data" --out /tmp/run 2>&1 | grep -v XDG_RUNTIME | tr '\r' '\n' |
    tee "$OUT/train.log" | tail -40
  find /tmp/run -maxdepth 1 -type f -size -2M -exec cp {} "$OUT/" \;
fi
echo "done after $(($(date +%s) - start)) s"
