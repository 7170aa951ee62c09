/**
 * An activation's gradient as one kernel on every backend, from dy and the
 * activation's output y (what the fused layers keep): dy where y > 0 for
 * ReLU, dy·y·(1 − y) for the sigmoid. tfjs computes ReLU's as `Step(y)`
 * times dy, and the sigmoid's in three operations: passes over memory and
 * temporaries as large as the activation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { wasmActivationGradient } from "./wasm/activation/activation_gradient.ts";
import { webgpuActivationGradient } from "./webgpu/activation_gradient.ts";
import { once } from "./kernel_override.ts";

/** The kernel's name (tfjs has none of its own). */
export const ACTIVATION_GRADIENT = "FashionActivationGradient";

/** The activations whose gradient the kernel computes (its `activation` attribute). */
export type GradientActivation = "relu" | "sigmoid";

/** The gradient of one element, as the CPU backend computes it. */
const ELEMENT: Record<GradientActivation, (dy: number, y: number) => number> = {
  relu: (dy, y) => y > 0 ? dy : 0,
  sigmoid: (dy, y) => dy * (y * (1 - y)),
};

/** A backend's kernel of the gradient. */
type Kernel = (
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
  activation: GradientActivation,
) => tf.TensorInfo;

function cpuActivationGradient(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
  activation: GradientActivation,
): tf.TensorInfo {
  const cpu = backend as unknown as {
    readSync(dataId: object): Float32Array;
    makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
  };
  const dyValues = cpu.readSync(dy.dataId);
  const yValues = cpu.readSync(y.dataId);
  const element = ELEMENT[activation];
  const out = Float32Array.from(dyValues, (value, i) => element(value, yValues[i]));
  return cpu.makeTensorInfo(dy.shape, "float32", out);
}

/** Registers the activation-gradient kernel on the cpu, wasm and WebGPU backends (once). */
export const registerActivationGradient: () => void = once(() => {
  const kernels: [string, Kernel][] = [
    ["cpu", cpuActivationGradient],
    ["wasm", wasmActivationGradient],
    ["webgpu", webgpuActivationGradient],
  ];
  for (const [backendName, kernel] of kernels) {
    tf.registerKernel({
      kernelName: ACTIVATION_GRADIENT,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
        const { activation } = attrs as unknown as { activation: GradientActivation };
        return kernel(backend as tf.KernelBackend, dy, y, activation);
      },
    });
  }
});
