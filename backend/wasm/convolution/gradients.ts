import * as tf from "@tensorflow/tfjs";
import { convGradientInfo } from "../../conv_info.ts";
import { inputGradientByConvolution, inputGradientPads } from "../../conv_input_gradient.ts";
import { once, overrideKernel } from "../../kernel_override.ts";
import { imagesPerPatchChunk, patchLayout, patchRows } from "../layout/im2col.ts";
import { transposeInto, turnedFilterInto } from "../layout/transpose.ts";
import { padInto } from "../layout/pad.ts";
import { blas } from "../blas.ts";
import { inputGradientByProducts } from "./product_input_gradient.ts";
import { pointwiseFilterGradient } from "./pointwise.ts";
import { fitsOneChannelKernel, oneChannelFilterGradient } from "./one_channel_filter_gradient.ts";
import { winogradFilterGradient, winogradScheme } from "../winograd/convolution.ts";
import { WasmWorkspace } from "../workspace.ts";

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** Examples per partial filter gradient (XNNPACK at AlexNet's conv2: 24 GFLOP/s at 16, 11 at 128). */
const FILTER_GRAD_CHUNK = 16;

/**
 * The filter gradient of a 2-D convolution (NHWC) with few output channels,
 * computed as another convolution run by XNNPACK:
 * dW[kh, kw, ci, co] = Σ over (b, oh, ow) of x[b, oh·s + kh − p, ow·s + kw − p, ci] · dy[b, oh, ow, co]
 * is the convolution of x viewed as [ci, h, w, b] (the batch becomes the
 * channels) with dy viewed as [oh, ow, b, co] as its filter, dilated by the
 * stride. The result [ci, kh', kw', co] is cropped to the filter's size and
 * transposed back to [kh, kw, ci, co]. XNNPACK slows down when the batch
 * (its channels here) is long, so the batch is taken in chunks of 16 and the
 * partial gradients are added.
 */
function batchAsChannelsFilterGradient(
  backend: tf.KernelBackend,
  { x, dy, attrs }: { x: tf.TensorInfo; dy: tf.TensorInfo; attrs: tf.NamedAttrMap },
): tf.TensorInfo {
  const info = convGradientInfo(x.shape, attrs.filterShape as number[], attrs);
  const { padInfo, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const [, height, width] = x.shape;
  const spanHeight = (info.outHeight - 1) * strideHeight;
  const spanWidth = (info.outWidth - 1) * strideWidth;
  const padBottom = Math.max(0, filterHeight + spanHeight - height - padInfo.top);
  const padRight = Math.max(0, filterWidth + spanWidth - width - padInfo.left);
  const convolution = {
    strides: [1, 1],
    pad: [[0, 0], [padInfo.top, padBottom], [padInfo.left, padRight], [0, 0]],
    dataFormat: "NHWC",
    dilations: [strideHeight, strideWidth],
  } as unknown as tf.NamedAttrMap;
  const batch = x.shape[0];
  let sum: tf.TensorInfo | undefined;
  for (let start = 0; start < batch; start += FILTER_GRAD_CHUNK) {
    const size = Math.min(FILTER_GRAD_CHUNK, batch - start);
    const work = new WasmWorkspace(backend);
    const rows = (t: tf.TensorInfo) =>
      size === batch ? t : work.run("Slice", { x: t }, {
        begin: [start, 0, 0, 0],
        size: [size, ...t.shape.slice(1)],
      });
    const channelsFirst = work.run("Transpose", { x: rows(x) }, { perm: [3, 1, 2, 0] });
    const dyAsFilter = work.run("Transpose", { x: rows(dy) }, { perm: [1, 2, 0, 3] });
    const part = work.run("Conv2D", { x: channelsFirst, filter: dyAsFilter }, convolution);
    if (sum !== undefined) work.adopt(sum);
    sum = sum === undefined ? part : work.run("Add", { a: sum, b: part }, {});
    work.release(sum);
  }
  const work = new WasmWorkspace(backend);
  work.adopt(sum!);
  const cropped = sum!.shape[1] === filterHeight && sum!.shape[2] === filterWidth
    ? sum!
    : work.run("Slice", { x: sum! }, {
      begin: [0, 0, 0, 0],
      size: [sum!.shape[0], filterHeight, filterWidth, sum!.shape[3]],
    });
  const gradient = work.run("Transpose", { x: cropped }, { perm: [1, 2, 0, 3] });
  work.release(gradient);
  return gradient;
}

/**
 * Fewest output channels for which the im2col product on XNNPACK beats the
 * batch-as-channels convolution: its product is slow with few rows (with
 * LeNet's 6 and 16 output channels, im2col made the quick recipe's epoch
 * twice as long). The BLAS has no such floor: with one, every filter
 * gradient but Winograd's is an im2col product (VGG's first layer, 1 → 8
 * channels at 224 × 224, 64 examples: 157 ms against 982; LeNet's first
 * 5.0 ms against 15.5).
 */
const IM2COL_MIN_OUT_CHANNELS = 64;

/**
 * The filter gradient of a 2-D convolution (NHWC, no dilation) with many
 * output channels, as one matrix product per chunk of the batch:
 * dWᵀ [out, taps] = dyᵀ [out, pixels] · P [pixels, taps], where P is the
 * im2col matrix (each output pixel's input patch) built in JavaScript and
 * the product, which reads dy transposed and adds into the sum, on the BLAS
 * (or XNNPACK, see `addTransposedProduct`). At 64 examples, 3.5× faster
 * than the batch-as-channels convolution on AlexNet's first layer (and 1.2×
 * on its second, which Winograd's algorithm now takes).
 */
function im2colFilterGradient(
  backend: tf.KernelBackend,
  { x, dy, attrs }: { x: tf.TensorInfo; dy: tf.TensorInfo; attrs: tf.NamedAttrMap },
): tf.TensorInfo {
  const filterShape = attrs.filterShape as number[];
  const info = convGradientInfo(x.shape, filterShape, attrs);
  const { padInfo, outHeight, outWidth, filterHeight, filterWidth, inChannels, outChannels } = info;
  const [batch, height, width] = x.shape;
  const layout = patchLayout(info, {
    rows: (outHeight - 1) * info.strideHeight + filterHeight,
    columns: (outWidth - 1) * info.strideWidth + filterWidth,
  });
  const taps = filterHeight * filterWidth * inChannels;
  const pixels = outHeight * outWidth;
  const chunk = imagesPerPatchChunk({ batch, pixels, rowFloats: taps });
  const whole = new WasmWorkspace(backend);
  const padded = whole.temporary([batch, layout.rows, layout.columns, inChannels]);
  const [xValues, paddedValues] = whole.views([x, padded]);
  padInto(xValues, paddedValues, {
    batch,
    height,
    width,
    ...layout,
    top: padInfo.top,
    left: padInfo.left,
  });
  const sum = whole.temporary([outChannels, taps]);
  whole.views([sum])[0].fill(0);
  for (let first = 0; first < batch; first += chunk) {
    const count = Math.min(chunk, batch - first);
    const chunkPixels = count * pixels;
    const work = new WasmWorkspace(backend);
    const patches = work.temporary([chunkPixels, taps]);
    const [paddedNow, patchValues] = work.views([padded, patches]);
    patchRows(paddedNow, patchValues, { layout, first, count, heap: work.heap });
    work.addTransposedProduct({
      a: dy,
      aOffset: first * pixels * outChannels,
      b: patches,
      sum,
      inner: chunkPixels,
      rows: outChannels,
      columns: taps,
    });
    work.release();
  }
  const gradient = whole.heap.makeOutput(filterShape, "float32");
  const [total, gradientValues] = whole.views([sum, gradient]);
  transposeInto(total, gradientValues, { rows: outChannels, columns: taps });
  whole.release();
  return gradient;
}

/**
 * The filter gradient of a 2-D convolution on the wasm backend, which ships
 * without one: a product for 1×1 ones (`pointwise.ts`), Winograd's
 * algorithm for 3×3 and 5×5 "same" ones (`winograd/convolution.ts`), a
 * direct SIMD kernel for one input channel and few output channels
 * (`one_channel_filter_gradient.ts`), otherwise an im2col product or,
 * without a BLAS and with few output channels, the batch-as-channels
 * convolution.
 */
function conv2DBackpropFilterWasm({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const filterShape = attrs.filterShape as number[];
  const pointwise = pointwiseFilterGradient(backend, { x, dy, filterShape, attrs });
  if (pointwise) return pointwise;
  const scheme = winogradScheme(x.shape, filterShape, attrs);
  if (scheme !== undefined) return winogradFilterGradient(backend, { scheme, x, dy });
  const info = convGradientInfo(x.shape, filterShape, attrs);
  const direct = fitsOneChannelKernel(info) && oneChannelFilterGradient(backend, { x, dy, info });
  if (direct) return direct;
  return blas() !== undefined || filterShape[3] >= IM2COL_MIN_OUT_CHANNELS
    ? im2colFilterGradient(backend, { x, dy, attrs })
    : batchAsChannelsFilterGradient(backend, { x, dy, attrs });
}

/**
 * Fewest input channels for which a stride-1 input gradient runs as the
 * turned convolution: into fewer, products (`inputGradientByProducts`) are
 * several times as fast (LeNet's second layer, 16 → 6 channels: 11.5 ms
 * against 1.4 for 128 examples), and Winograd's algorithm takes 8 and more.
 */
const CONVOLUTION_MIN_IN_CHANNELS = 8;

/**
 * The input gradient of a 2-D convolution (NHWC) on the wasm backend: for
 * stride 1 into 8 channels or more, the forward convolution (see
 * `inputGradientByConvolution`), otherwise products of dy by the filter
 * (see `inputGradientByProducts`). tfjs's own kernel is a plain loop, about
 * ten times slower.
 */
function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const info = convGradientInfo(attrs.inputShape as number[], filter.shape, attrs);
  const pads = inputGradientPads(info);
  if (pads === undefined || info.inChannels < CONVOLUTION_MIN_IN_CHANNELS) {
    return inputGradientByProducts(backend, { dy, filter, info });
  }
  const work = new WasmWorkspace(backend);
  const [height, width, inChannels, outChannels] = filter.shape;
  const turned = work.temporary([height, width, outChannels, inChannels]);
  const [filterValues, turnedValues] = work.views([filter, turned]);
  turnedFilterInto(filterValues, turnedValues, { height, width, inChannels, outChannels });
  const gradient = inputGradientByConvolution(work, { dy, turned, pads });
  work.release(gradient);
  return gradient;
}

/**
 * Completes the wasm backend for training convolutions: registers the filter
 * gradient it lacks and replaces its input gradient (once). 1×1 ones go to
 * the BLAS (`pointwise.ts`).
 */
export const registerWasmConvGradients: () => void = once(() => {
  overrideKernel(
    "Conv2DBackpropInput",
    "wasm",
    () => conv2DBackpropInputWasm as unknown as tf.KernelFunc,
  );
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
  });
});
