/**
 * Batch normalisation's training kernels (statistics, normalisation,
 * gradients: see `passes.ts`) on the cpu and wasm backends, which run them
 * as passes over each tensor's memory, and on WebGPU
 * (`../webgpu/batch_norm.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  channelMoments,
  type ChannelNorm,
  type NormActivation,
  normalizeGradients,
  normalizeInto,
} from "./passes.ts";
import { heapViews, type WasmHeap } from "../wasm/heap.ts";
import { once } from "../kernel_override.ts";
import { simdPasses } from "./simd.ts";
import { webgpuMoments, webgpuNormalize, webgpuNormalizeGradients } from "../webgpu/batch_norm.ts";

/** Kernel names: per-channel mean and variance; the normalisation; its gradients. */
export const BATCH_NORM_MOMENTS = "FashionBatchNormMoments";
export const BATCH_NORM_FORWARD = "FashionBatchNormForward";
export const BATCH_NORM_BACKWARD = "FashionBatchNormBackward";

/** The attributes of the forward and backward kernels. */
export interface BatchNormAttrs {
  activation: NormActivation;
}

/** New float32 outputs and views of inputs and outputs, on one backend. */
interface Memory {
  output(shape: number[]): tf.TensorInfo;
  views(tensors: tf.TensorInfo[]): Float32Array[];
}

/** The CPU backend's tensors are arrays; its outputs are made from arrays written first. */
function cpuMemory(backend: tf.KernelBackend) {
  const cpu = backend as unknown as {
    readSync(dataId: object): Float32Array;
    makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
  };
  return {
    output: (shape: number[]) =>
      cpu.makeTensorInfo(shape, "float32", new Float32Array(shape.reduce((a, b) => a * b, 1))),
    views: (tensors: tf.TensorInfo[]) => tensors.map((t) => cpu.readSync(t.dataId)),
  };
}

/** The wasm backend's tensors live in its heap; views are taken after the outputs exist. */
function wasmMemory(backend: tf.KernelBackend): Memory {
  const heap = backend as unknown as WasmHeap;
  return {
    output: (shape) => heap.makeOutput(shape, "float32"),
    views: (tensors) => heapViews(heap, tensors),
  };
}

type Inputs = Record<string, tf.TensorInfo>;

function channelsOf(x: tf.TensorInfo): number {
  return x.shape[x.shape.length - 1];
}

function moments(memory: Memory, { x }: Inputs): tf.TensorInfo[] {
  const channels = channelsOf(x);
  const mean = memory.output([channels]);
  const variance = memory.output([channels]);
  const [xv, mv, vv] = memory.views([x, mean, variance]);
  channelMoments(xv, channels, { mean: mv, variance: vv });
  return [mean, variance];
}

/** The per-channel numbers of the forward and backward kernels' inputs. */
function channelNorm(views: Float32Array[], channels: number, attrs: BatchNormAttrs): ChannelNorm {
  const [mean, inverseDeviation, gamma, beta] = views;
  return { channels, mean, inverseDeviation, gamma, beta, activation: attrs.activation };
}

function forward(memory: Memory, inputs: Inputs, attrs: BatchNormAttrs): tf.TensorInfo {
  const { x, mean, inverseDeviation, gamma, beta } = inputs;
  const y = memory.output(x.shape);
  const [xv, yv, ...perChannel] = memory.views([x, y, mean, inverseDeviation, gamma, beta]);
  normalizeInto(xv, yv, channelNorm(perChannel, channelsOf(x), attrs));
  return y;
}

function backward(memory: Memory, inputs: Inputs, attrs: BatchNormAttrs): tf.TensorInfo[] {
  const { dy, x, y, mean, inverseDeviation, gamma, beta } = inputs;
  const channels = channelsOf(x);
  const dx = memory.output(x.shape);
  const dGamma = memory.output([channels]);
  const dBeta = memory.output([channels]);
  const [dyv, xv, dxv, dgv, dbv, ...perChannel] = memory.views([
    dy,
    x,
    dx,
    dGamma,
    dBeta,
    mean,
    inverseDeviation,
    gamma,
    beta,
  ]);
  const maps = { dy: dyv, x: xv, y: y && memory.views([y])[0] };
  normalizeGradients(maps, channelNorm(perChannel, channels, attrs), {
    dx: dxv,
    dGamma: dgv,
    dBeta: dbv,
  });
  return [dx, dGamma, dBeta];
}

/** The kernels' work by the SIMD passes on the wasm backend, where they apply. */
const SIMD: Record<
  string,
  (backend: tf.KernelBackend, inputs: Inputs, attrs: BatchNormAttrs) => tf.TensorInfo[] | undefined
> = {
  [BATCH_NORM_MOMENTS]: (backend, { x }) => {
    const channels = channelsOf(x);
    const passes = simdPasses(backend, x, "linear");
    if (!passes) return undefined;
    const heap = backend as unknown as WasmHeap;
    const [mean, variance] = [0, 1].map(() => heap.makeOutput([channels], "float32"));
    passes.moments(x, mean, variance);
    return [mean, variance];
  },
  [BATCH_NORM_FORWARD]: (backend, inputs, attrs) => {
    const passes = simdPasses(backend, inputs.x, attrs.activation);
    if (!passes) return undefined;
    const y = (backend as unknown as WasmHeap).makeOutput(inputs.x.shape, "float32");
    const { x, mean, inverseDeviation, gamma, beta } = inputs;
    passes.normalize({ x, y, mean, inverseDeviation, gamma, beta });
    return [y];
  },
  [BATCH_NORM_BACKWARD]: (backend, inputs, attrs) => {
    const channels = channelsOf(inputs.x);
    const passes = simdPasses(backend, inputs.x, attrs.activation);
    if (!passes) return undefined;
    const heap = backend as unknown as WasmHeap;
    const dx = heap.makeOutput(inputs.x.shape, "float32");
    const [dGamma, dBeta] = [0, 1].map(() => heap.makeOutput([channels], "float32"));
    const { dy, x, y, mean, inverseDeviation, gamma, beta } = inputs;
    passes.gradients({ dy, x, y, mean, inverseDeviation, gamma, beta, dx, dGamma, dBeta });
    return [dx, dGamma, dBeta];
  },
};

/** The three kernels on WebGPU. */
const WEBGPU: Record<
  string,
  (backend: tf.KernelBackend, inputs: Inputs, attrs: BatchNormAttrs) => tf.TensorInfo[]
> = {
  [BATCH_NORM_MOMENTS]: (backend, { x }) => webgpuMoments(backend, x),
  [BATCH_NORM_FORWARD]: (backend, inputs, attrs) => {
    const { x, mean, inverseDeviation, gamma, beta } = inputs;
    return [webgpuNormalize(backend, { x, mean, inverseDeviation, gamma, beta }, attrs.activation)];
  },
  [BATCH_NORM_BACKWARD]: (backend, inputs, attrs) =>
    webgpuNormalizeGradients(backend, inputs, attrs.activation),
};

/** Registers the three kernels on the cpu, wasm and WebGPU backends (once). */
export const registerBatchNormKernels: () => void = once(() => {
  for (const [kernelName, run] of Object.entries(WEBGPU)) {
    tf.registerKernel({
      kernelName,
      backendName: "webgpu",
      kernelFunc: ({ inputs, backend, attrs }) => {
        const outputs = run(
          backend as tf.KernelBackend,
          inputs as Inputs,
          attrs as unknown as BatchNormAttrs,
        );
        return kernelName === BATCH_NORM_FORWARD ? outputs[0] : outputs;
      },
    });
  }
  for (const [backendName, memoryOf] of [["cpu", cpuMemory], ["wasm", wasmMemory]] as const) {
    const kernel = (
      kernelName: string,
      run: (
        memory: Memory,
        inputs: Inputs,
        attrs: BatchNormAttrs,
      ) => tf.TensorInfo | tf.TensorInfo[],
    ) =>
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, backend, attrs }) => {
          const args = [inputs as Inputs, attrs as unknown as BatchNormAttrs] as const;
          const simd = backendName === "wasm"
            ? SIMD[kernelName](backend as tf.KernelBackend, ...args)
            : undefined;
          if (simd) return kernelName === BATCH_NORM_FORWARD ? simd[0] : simd;
          return run(memoryOf(backend as tf.KernelBackend), ...args);
        },
      });
    kernel(BATCH_NORM_MOMENTS, moments);
    kernel(BATCH_NORM_FORWARD, forward);
    kernel(BATCH_NORM_BACKWARD, backward);
  }
});
