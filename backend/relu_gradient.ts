/**
 * ReLU's gradient as one kernel on every backend: dy where the ReLU's
 * output y is positive, else 0. tfjs computes it as `Step(y)` times dy:
 * two passes over memory and a mask as large as the activation.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { wasmReluGradient } from "./wasm/relu_gradient.ts";
import { webgpuReluGradient } from "./webgpu/relu_gradient.ts";
import { once } from "./kernel_override.ts";

/** The kernel's name (tfjs has none of its own). */
export const RELU_GRADIENT = "FashionReluGradient";

/** Registers the ReLU-gradient kernel on the cpu, wasm and WebGPU backends (once). */
export const registerReluGradient: () => void = once(() => {
  tf.registerKernel({
    kernelName: RELU_GRADIENT,
    backendName: "cpu",
    kernelFunc: ({ inputs, backend }) => {
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      const cpu = backend as unknown as {
        readSync(dataId: object): Float32Array;
        makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
      };
      const dyValues = cpu.readSync(dy.dataId);
      const yValues = cpu.readSync(y.dataId);
      const out = new Float32Array(dyValues.length);
      for (let i = 0; i < out.length; i++) out[i] = yValues[i] > 0 ? dyValues[i] : 0;
      return cpu.makeTensorInfo(dy.shape, "float32", out);
    },
  });
  for (
    const [backendName, kernel] of [["wasm", wasmReluGradient], [
      "webgpu",
      webgpuReluGradient,
    ]] as const
  ) {
    tf.registerKernel({
      kernelName: RELU_GRADIENT,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
        return kernel(backend as tf.KernelBackend, dy, y);
      },
    });
  }
});
