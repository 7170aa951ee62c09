import type * as tf from "@tensorflow/tfjs";
import { convGradientInfo } from "../../conv_info.ts";
import { once, overrideKernel } from "../../kernel_override.ts";
import { type Blas, blas } from "../blas.ts";
import { type FusedActivation, isFusedActivation } from "../activation/bias_activation.ts";
import { WasmWorkspace } from "../workspace.ts";
import { im2colConvolution, patchLayout } from "./im2col.ts";
import { padInto } from "./pad.ts";

type ConvInfo = ReturnType<typeof convGradientInfo>;

interface FusedConvArgs {
  inputs: { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** Most input channels after the rearrangement: beyond, XNNPACK is fast as it is. */
const MAX_DEPTH = 16;

/**
 * Fewest filter taps per input channel for which a stride-1 convolution
 * over fewer than 8 channels (which Winograd's algorithm leaves to XNNPACK)
 * runs as im2col products: LeNet's 5×5 layers 1.6–2.2 times as fast so;
 * VGG's 3×3 first layer, one channel at 224, twice as slow.
 */
const STRIDE_ONE_MIN_TAPS = 25;

/**
 * The geometry of a convolution (NHWC, no dilation, the same stride both
 * ways; unpadded, padded by a number, or "same") that XNNPACK runs poorly:
 * a strided one, or a stride-1 one over few channels with a large filter
 * (see {@link STRIDE_ONE_MIN_TAPS}); undefined for any other.
 */
function routedGeometry(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: tf.NamedAttrMap) {
  const pad = attrs.pad;
  if (
    attrs.dataFormat === "NCHW" || !(pad === "valid" || pad === "same" || typeof pad === "number")
  ) {
    return undefined;
  }
  const dilations = attrs.dilations as number | number[] | undefined;
  if ([dilations ?? 1].flat().some((d) => d !== 1)) return undefined;
  const info = convGradientInfo(x.shape, filter.shape, attrs);
  const stride = info.strideHeight;
  const largeFilter = info.inChannels < 8 &&
    info.filterHeight * info.filterWidth >= STRIDE_ONE_MIN_TAPS;
  return (stride > 1 || largeFilter) && info.strideWidth === stride ? info : undefined;
}

/** Whether a strided convolution has at most {@link MAX_DEPTH} channels once space-to-depth rearranged. */
function fewChannels(info: ConvInfo): boolean {
  return info.inChannels * info.strideHeight * info.strideHeight <= MAX_DEPTH;
}

/**
 * Whether the convolution of `info` can run as a stride-1 one on its input
 * rearranged space-to-depth: a square filter, sides divisible by the
 * stride, and the same output size.
 */
function spaceToDepthFits(info: ConvInfo): boolean {
  const stride = info.strideHeight;
  const taps = Math.ceil(info.filterHeight / stride);
  return info.filterWidth === info.filterHeight && info.inHeight % stride === 0 &&
    info.inWidth % stride === 0 && info.inHeight / stride - taps + 1 === info.outHeight &&
    info.inWidth / stride - taps + 1 === info.outWidth;
}

/** `x` zero-padded by `top` and `left` into a temporary of `rows` × `columns` per image. */
function paddedInput(
  work: WasmWorkspace,
  x: tf.TensorInfo,
  place: { rows: number; columns: number; top: number; left: number },
): tf.TensorInfo {
  const [batch, height, width, channels] = x.shape;
  const padded = work.temporary([batch, place.rows, place.columns, channels]);
  const [source, target] = work.views([x, padded]);
  padInto(source, target, { batch, height, width, channels, ...place });
  return padded;
}

/**
 * activation(conv2d(x, filter) + bias) for a convolution XNNPACK handles poorly
 * (see {@link routedGeometry}): strided ones over few channels (AlexNet's
 * first layer: 11×11, stride 4, one channel; the 7×7 stride-2 stems of
 * GoogLeNet, ResNet and DenseNet, padded by 3) one channel per tap,
 * ResNet's 3×3 stride-2 layers at 11–15 GMAC/s, and LeNet's 5×5 layers
 * over one and six channels. With a BLAS, as im2col rows times the filter
 * (`im2colConvolution`), over the input padded first. Without, strided
 * ones over few channels where the geometry allows, as a stride-1
 * convolution over x rearranged space-to-depth: each s×s block of pixels
 * becomes one pixel of s²·C channels, and the filter,
 * zero-padded to a multiple of s, is rearranged alike (⌈r/s⌉² taps of s²·C
 * channels); AlexNet's first layer runs about 40% faster so, though it
 * computes 144 products per output instead of 121. Other convolutions go
 * to `inner`, the fused convolution this one wraps (Winograd's, which hands
 * the rest to XNNPACK).
 */
function routedConv(args: FusedConvArgs, inner: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { x, filter }, attrs } = args;
  const info = routedGeometry(x, filter, attrs);
  const activation = (attrs.activation as string | undefined) ?? "linear";
  const library = blas();
  if (info && library && isFusedActivation(activation)) {
    return im2colRoute(args, { info, library, activation });
  }
  const strided = info !== undefined && info.strideHeight > 1;
  if (!strided || !fewChannels(info) || attrs.pad !== "valid" || !spaceToDepthFits(info)) {
    return inner(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return spaceToDepthRoute(args, info, inner);
}

/** The convolution as im2col products on the BLAS, over x padded first where it is padded. */
function im2colRoute(
  { inputs: { x, filter, bias }, backend }: FusedConvArgs,
  how: { info: ConvInfo; library: Blas; activation: FusedActivation },
): tf.TensorInfo {
  const { info, library, activation } = how;
  const work = new WasmWorkspace(backend);
  const { top, left } = info.padInfo;
  const rows = (info.outHeight - 1) * info.strideHeight + info.filterHeight;
  const columns = (info.outWidth - 1) * info.strideWidth + info.filterWidth;
  const unpadded = top === 0 && left === 0 && rows <= info.inHeight && columns <= info.inWidth;
  const padded = unpadded ? x : paddedInput(work, x, { rows, columns, top, left });
  const output = im2colConvolution(work, {
    x: padded,
    filter,
    bias,
    activation,
    library,
    layout: patchLayout(info, {
      rows: unpadded ? info.inHeight : rows,
      columns: unpadded ? info.inWidth : columns,
    }),
    outChannels: info.outChannels,
  });
  work.release(output);
  return output;
}

/** The strided convolution as `inner`'s stride-1 one over x rearranged space-to-depth. */
function spaceToDepthRoute(
  args: FusedConvArgs,
  info: ConvInfo,
  inner: tf.KernelFunc,
): tf.TensorInfo {
  const { inputs: { x, filter, bias }, backend, attrs } = args;
  const [batch, height, width, channels] = x.shape;
  const stride = info.strideHeight;
  const size = info.filterHeight;
  const taps = Math.ceil(size / stride);
  const depth = stride * stride * channels;
  const outChannels = filter.shape[3];
  const work = new WasmWorkspace(backend);
  const blocks = work.temporary([batch, height / stride, width / stride, depth]);
  const tapsFilter = work.temporary([taps, taps, depth, outChannels]);
  const [xValues, filterValues, blockValues, tapValues] = work.views([
    x,
    filter,
    blocks,
    tapsFilter,
  ]);
  const run = stride * channels;
  let to = 0;
  for (let row = 0; row < batch * height; row += stride) {
    for (let column = 0; column < width; column += stride) {
      for (let dy = 0; dy < stride; dy++, to += run) {
        const from = ((row + dy) * width + column) * channels;
        blockValues.set(xValues.subarray(from, from + run), to);
      }
    }
  }
  tapValues.fill(0);
  for (let ky = 0; ky < size; ky++) {
    for (let kx = 0; kx < size; kx++) {
      const tap = Math.floor(ky / stride) * taps + Math.floor(kx / stride);
      const channel = ((ky % stride) * stride + kx % stride) * channels;
      const from = (ky * size + kx) * channels * outChannels;
      const at = (tap * depth + channel) * outChannels;
      tapValues.set(filterValues.subarray(from, from + channels * outChannels), at);
    }
  }
  const output = inner({
    inputs: { x: blocks, filter: tapsFilter, ...(bias ? { bias } : {}) },
    backend,
    attrs: { ...attrs, strides: [1, 1], pad: "valid" },
  }) as tf.TensorInfo;
  work.release();
  return output;
}

/**
 * Routes the wasm backend's fused convolutions through
 * {@link routedConv}, once (after Winograd's routing, which it wraps).
 */
export const registerWasmSpaceToDepth: () => void = once(() =>
  overrideKernel(
    "FusedConv2D",
    "wasm",
    (original) => (args) => routedConv(args as unknown as FusedConvArgs, original),
  )
);
