/**
 * Adam's update in few passes over memory on the backends that have such a
 * kernel (wasm, WebGPU); tfjs's own runs fourteen element-wise kernels per
 * weight, each into a fresh tensor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { AdamParameter, AdamStep } from "./adam_step.ts";
import { wasmAdamUpdate } from "./wasm/adam.ts";
import { webgpuAdamUpdate } from "./webgpu/adam.ts";
import { webgpuKernelOptions } from "./webgpu/tuning/kernel_options.ts";

/**
 * One Adam step for `parameters` by the active backend's own kernel.
 * Returns false, having changed nothing, where there is none (the CPU
 * backend, tfjs's kernels chosen on WebGPU, tensors it cannot take).
 */
export function fusedAdamUpdate(parameters: AdamParameter[], step: AdamStep): boolean {
  const backend = tf.getBackend();
  if (backend === "wasm") return wasmAdamUpdate(parameters, step);
  if (backend === "webgpu" && webgpuKernelOptions().adam === "fused") {
    return webgpuAdamUpdate(parameters, step);
  }
  return false;
}
