/**
 * Adam's update in few passes over memory on the backends that have such a
 * kernel (wasm, WebGPU); tfjs's own runs fourteen element-wise kernels per
 * weight, each into a fresh tensor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { wasmAdamUpdate } from "./wasm/adam.ts";
import { webgpuAdamUpdate } from "./webgpu/adam.ts";
import { webgpuKernelOptions } from "./webgpu/kernel_options.ts";

/** One parameter's tensors in an Adam step. */
export interface AdamParameter {
  value: tf.Variable;
  gradient: tf.Tensor;
  firstMoment: tf.Variable;
  secondMoment: tf.Variable;
}

/** Adam's settings, and the optimizer's scalars β₁ᵗ and β₂ᵗ of this step. */
export interface AdamStep {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  beta1Power: tf.Tensor;
  beta2Power: tf.Tensor;
}

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
