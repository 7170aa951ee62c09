import * as tf from "@tensorflow/tfjs";
import { heapViews, type WasmHeap } from "./wasm_heap.ts";

/** The wasm kernel below, by name. */
const RELU_BACKPROP = "ReluBackpropWasm";

interface ReluBackpropArgs {
  inputs: { dy: tf.TensorInfo; x: tf.TensorInfo };
  backend: tf.KernelBackend;
}

/**
 * dy where x > 0, else 0 (NaN where x is NaN), in one JavaScript pass over
 * the wasm heap: the value tfjs's ReLU gradient computes as
 * dy · cast(step(x)), three kernels and two tensors as large as the layer's
 * output (on AlexNet's conv1 at 64 examples, 68 MB each).
 */
function reluBackpropWasm({ inputs: { dy, x }, backend }: ReluBackpropArgs): tf.TensorInfo {
  const heap = backend as unknown as WasmHeap;
  const out = heap.makeOutput(x.shape, "float32");
  const [gradient, input, result] = heapViews(heap, [dy, x, out]);
  for (let i = 0; i < result.length; i++) {
    const value = input[i];
    result[i] = value > 0 ? gradient[i] : value <= 0 ? gradient[i] * 0 : NaN;
  }
  return out;
}

let registered = false;

/**
 * ReLU's gradient for `dy` at inputs `x` (or at its outputs: both are
 * positive at the same places): one pass over the heap on wasm once
 * {@link registerWasmReluGradient} has run, tfjs's expression elsewhere.
 */
export function reluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return registered && tf.getBackend() === "wasm" && x.dtype === "float32"
    ? tf.engine().runKernel(RELU_BACKPROP, { dy, x }) as tf.Tensor
    : tf.mul(dy, tf.cast(tf.step(x), "float32"));
}

/**
 * Registers the kernel above for the wasm backend and makes ReLU's gradient
 * use it there (once); on other backends the gradient stays tfjs's.
 */
export function registerWasmReluGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: RELU_BACKPROP,
    backendName: "wasm",
    kernelFunc: reluBackpropWasm as unknown as tf.KernelFunc,
  });
  tf.registerGradient({
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => ({ x: () => reluGradient(dy as tf.Tensor, saved[0]) }),
  });
}
