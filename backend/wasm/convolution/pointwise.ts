/**
 * 1×1 stride-1 convolutions (NiN's and GoogLeNet's many, DenseNet's
 * transitions) on the wasm backend as what they are: products of the
 * pixels [pixels, in] by the filter [in, out], by the machine's BLAS, where
 * XNNPACK runs them in 128-bit WebAssembly SIMD at about a third of its
 * rate. The forward convolution (bias and activation in one pass after the
 * product), the input gradient (which `gradients.ts` runs as the
 * forward `Conv2D` of dy by the turned filter) and the filter gradient
 * (xᵀ·dy, see {@link pointwiseFilterGradient}) take this route.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { addBiasAndActivate, isFusedActivation } from "../activation/bias_activation.ts";
import { blas } from "../blas.ts";
import { heapViews, type WasmHeap } from "../heap.ts";

interface ConvArgs {
  inputs: { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** Whether a convolution is a 1×1 one of stride 1 without padding (NHWC, no dilation). */
export function isPointwise(filter: tf.TensorInfo, attrs: tf.NamedAttrMap): boolean {
  const ones = (value: unknown) => [value ?? 1].flat().every((v) => v === 1);
  const pad = attrs.pad;
  const unpadded = pad === "valid" || pad === "same" || pad === 0 ||
    (Array.isArray(pad) && pad.flat().every((p) => p === 0));
  return filter.shape[0] === 1 && filter.shape[1] === 1 && attrs.dataFormat !== "NCHW" &&
    ones(attrs.strides) && ones(attrs.dilations) && unpadded;
}

/** x [.., in] · filter [in, out] (+ bias, activation) by the BLAS, or undefined to leave it to `next`. */
function pointwiseConv({ inputs, backend, attrs }: ConvArgs): tf.TensorInfo | undefined {
  const { x, filter, bias } = inputs;
  const activation = (attrs.activation as string | undefined) ?? "linear";
  const library = blas();
  if (!library || !isFusedActivation(activation) || !isPointwise(filter, attrs)) return undefined;
  const heap = backend as unknown as WasmHeap;
  const [inChannels, outChannels] = filter.shape.slice(2);
  const y = heap.makeOutput([...x.shape.slice(0, 3), outChannels], "float32");
  const [xv, fv, yv, bv] = heapViews(heap, [x, filter, y, ...(bias ? [bias] : [])]);
  library.gemm({
    rows: xv.length / inChannels,
    columns: outChannels,
    inner: inChannels,
    a: xv,
    b: fv,
    c: yv,
  });
  addBiasAndActivate(heap, yv, { bias: bv, activation });
  return y;
}

/**
 * dW [1, 1, in, out] = xᵀ · dy for a 1×1 stride-1 convolution, by the BLAS
 * reading x transposed in place, or undefined without one (or for another
 * convolution).
 */
export function pointwiseFilterGradient(
  backend: tf.KernelBackend,
  options: { x: tf.TensorInfo; dy: tf.TensorInfo; filterShape: number[]; attrs: tf.NamedAttrMap },
): tf.TensorInfo | undefined {
  const { x, dy, filterShape, attrs } = options;
  const library = blas();
  const shape = { shape: filterShape } as tf.TensorInfo;
  if (!library || !isPointwise(shape, attrs)) return undefined;
  const heap = backend as unknown as WasmHeap;
  const [inChannels, outChannels] = filterShape.slice(2);
  const gradient = heap.makeOutput(filterShape, "float32");
  const [xv, dyv, gv] = heapViews(heap, [x, dy, gradient]);
  library.gemm({
    rows: inChannels,
    columns: outChannels,
    inner: xv.length / inChannels,
    a: xv,
    b: dyv,
    c: gv,
    transposeA: true,
  });
  return gradient;
}

/** Routes the wasm backend's 1×1 stride-1 convolutions, fused or not, to the BLAS (once). */
export const registerWasmPointwise: () => void = once(() => {
  for (const kernelName of ["FusedConv2D", "Conv2D"]) {
    overrideKernel(
      kernelName,
      "wasm",
      (next) => (args) => pointwiseConv(args as unknown as ConvArgs) ?? next(args),
    );
  }
});
