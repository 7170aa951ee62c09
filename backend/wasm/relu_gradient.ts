import type * as tf from "@tensorflow/tfjs";
import { heapViews, type WasmHeap } from "./heap.ts";
import { addressOf, heapKernels, I32, kernelModule, op, vectorLoop } from "./simd_module.ts";

/** Locals of the SIMD kernel: its parameters (heap offsets, the byte count), then the loop's offset. */
const [DY, Y, OUT, BYTES, AT] = [0, 1, 2, 3, 4];

/** out = dy where y > 0, else +0, four floats at a time (the comparison's mask ANDed with dy). */
const RELU_GRADIENT_MODULE = kernelModule([{
  name: "reluGradient",
  params: [I32, I32, I32, I32],
  locals: [I32],
  code: vectorLoop({
    at: AT,
    bytes: BYTES,
    body: [
      ...addressOf(OUT, AT),
      ...addressOf(DY, AT),
      op.v128Load,
      ...addressOf(Y, AT),
      op.v128Load,
      op.f32Const(0),
      op.f32x4Splat,
      op.f32x4Gt,
      op.v128And,
      op.v128Store,
    ],
  }),
}]);

type ReluGradientKernel = (dy: number, y: number, out: number, bytes: number) => void;

/**
 * ReLU's gradient on the wasm backend in one pass over the heap: dy where
 * the ReLU's output is positive, else 0 (tfjs runs `Step` of the output,
 * then `Multiply`: two passes and a mask as large as the activation).
 */
export function wasmReluGradient(
  backend: tf.KernelBackend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
): tf.TensorInfo {
  const heap = backend as unknown as WasmHeap;
  const out = heap.makeOutput(dy.shape, "float32");
  const [dyView, yView, outView] = heapViews(heap, [dy, y, out]);
  const kernel = heapKernels(heap, RELU_GRADIENT_MODULE)?.reluGradient as
    | ReluGradientKernel
    | undefined;
  const vectorized = kernel === undefined ? 0 : dyView.length - dyView.length % 4;
  if (vectorized > 0) {
    kernel!(dyView.byteOffset, yView.byteOffset, outView.byteOffset, 4 * vectorized);
  }
  for (let i = vectorized; i < dyView.length; i++) outView[i] = yView[i] > 0 ? dyView[i] : 0;
  return out;
}
