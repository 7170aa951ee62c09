import * as tf from "@tensorflow/tfjs";
import { overrideKernel } from "./kernel_override.ts";
import { transposeInto } from "./im2col.ts";
import { padInto } from "./pad.ts";
import { WasmWorkspace } from "./wasm_workspace.ts";
import {
  filterGradientFromTiles,
  filterTiles,
  gradientTiles,
  inputTiles,
  outputTiles,
  paddedInputShape,
  TILE_ELEMENTS,
  type TileGrid,
  tileGrid,
} from "./winograd.ts";

interface ConvArgs {
  inputs: {
    x: tf.TensorInfo;
    filter: tf.TensorInfo;
    bias?: tf.TensorInfo;
    preluActivationWeights?: tf.TensorInfo;
  };
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

/** tfjs's own wasm Conv2D (XNNPACK), kept for the convolutions Winograd does not cover. */
let xnnpackConv2D: tf.KernelFunc | undefined;
/** tfjs's own wasm FusedConv2D, kept for the convolutions Winograd does not cover. */
let xnnpackFusedConv2D: tf.KernelFunc | undefined;

/**
 * Narrowest channel count worth the transforms: with fewer channels the
 * matrix products are too small to repay them.
 */
const MIN_CHANNELS = 32;

/**
 * True when the convolution of `x` with `filter` is one Winograd F(2×2, 3×3)
 * computes: a 3×3 filter, stride 1, no dilation, one pixel of padding on
 * every side (AlexNet's conv3–conv5), NHWC, at least `MIN_CHANNELS` in and out.
 */
export function fitsWinograd(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap) {
  const { strides, pad, dilations, dimRoundingMode, dataFormat } = attrs as unknown as {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dilations?: [number, number] | number;
    dimRoundingMode?: "floor" | "round" | "ceil";
    dataFormat?: "NHWC" | "NCHW";
  };
  if (dataFormat === "NCHW" || xShape.length !== 4 || filterShape.length !== 4) return false;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  return info.filterHeight === 3 && info.filterWidth === 3 &&
    info.strideHeight === 1 && info.strideWidth === 1 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 &&
    [top, bottom, left, right].every((p) => p === 1) &&
    info.inChannels >= MIN_CHANNELS && info.outChannels >= MIN_CHANNELS;
}

/** Bᵀ d B of `x` [batch, height, width, channels] as 16 temporary [tiles, channels] planes. */
function transformInput(work: WasmWorkspace, x: tf.TensorInfo, grid: TileGrid): tf.TensorInfo[] {
  const channels = x.shape[3];
  const shape = paddedInputShape(grid, channels);
  const padded = work.temporary(shape);
  const planes = work.planes(TILE_ELEMENTS, [grid.tiles, channels]);
  const [xValues, paddedValues] = work.views([x, padded]);
  padInto(xValues, paddedValues, {
    batch: grid.batch,
    height: grid.height,
    width: grid.width,
    channels,
    rows: shape[1],
    columns: shape[2],
    top: 1,
    left: 1,
  });
  inputTiles(paddedValues, work.views(planes), { grid, channels });
  return planes;
}

/**
 * The 3×3 "same" convolution of `x` with `filter` by Winograd F(2×2, 3×3),
 * plus `bias` and a ReLU if asked. The input gradient is such a convolution
 * too (see `wasm_conv_grads.ts`).
 */
export function winogradConv2D(
  backend: tf.KernelBackend,
  options: { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; relu?: boolean },
): tf.TensorInfo {
  const { x, filter, bias, relu = false } = options;
  const [batch, height, width, channelsIn] = x.shape;
  const channelsOut = filter.shape[3];
  const grid = tileGrid(batch, height, width);
  const work = new WasmWorkspace(backend);
  const inputPlanes = transformInput(work, x, grid);
  const filterPlanes = work.planes(TILE_ELEMENTS, [channelsIn, channelsOut]);
  filterTiles(work.views([filter])[0], work.views(filterPlanes), channelsIn * channelsOut);
  const products = inputPlanes.map((v, e) =>
    work.product(v, filterPlanes[e], grid.tiles, channelsOut)
  );
  const output = work.heap.makeOutput([batch, height, width, channelsOut], "float32");
  const [outputValues, biasValues] = work.views(bias ? [output, bias] : [output]);
  outputTiles(work.views(products), outputValues, {
    grid,
    channels: channelsOut,
    bias: biasValues,
    relu,
  });
  work.release();
  return output;
}

/**
 * The filter gradient [3, 3, channelsIn, channelsOut] of a 3×3 "same"
 * convolution by Winograd F(2×2, 3×3): per tile element e, the product
 * Vₑᵀ · Wₑ of the input's tiles (Bᵀ d B) and the output gradient's tiles
 * (A dY Aᵀ) sums over every tile of the batch at once.
 */
export function winogradFilterGradient(
  backend: tf.KernelBackend,
  options: { x: tf.TensorInfo; dy: tf.TensorInfo },
): tf.TensorInfo {
  const { x, dy } = options;
  const [batch, height, width, channelsIn] = x.shape;
  const channelsOut = dy.shape[3];
  const grid = tileGrid(batch, height, width);
  const work = new WasmWorkspace(backend);
  const inputPlanes = transformInput(work, x, grid);
  const even = height % 2 === 0 && width % 2 === 0;
  const evenDy = even
    ? dy
    : work.temporary([batch, 2 * grid.tilesHigh, 2 * grid.tilesWide, channelsOut]);
  const gradientPlanes = work.planes(TILE_ELEMENTS, [grid.tiles, channelsOut]);
  const [dyValues, evenValues] = work.views([dy, evenDy]);
  if (!even) {
    padInto(dyValues, evenValues, {
      batch,
      height,
      width,
      channels: channelsOut,
      rows: evenDy.shape[1],
      columns: evenDy.shape[2],
      top: 0,
      left: 0,
    });
  }
  gradientTiles(evenValues, work.views(gradientPlanes), { grid, channels: channelsOut });
  const transposed = work.planes(TILE_ELEMENTS, [channelsIn, grid.tiles]);
  const transposedViews = work.views(transposed);
  work.views(inputPlanes).forEach((v, e) =>
    transposeInto(v, transposedViews[e], { rows: grid.tiles, columns: channelsIn })
  );
  const products = transposed.map((v, e) =>
    work.product(v, gradientPlanes[e], channelsIn, channelsOut)
  );
  const gradient = work.heap.makeOutput([3, 3, channelsIn, channelsOut], "float32");
  filterGradientFromTiles(
    work.views(products),
    work.views([gradient])[0],
    channelsIn * channelsOut,
  );
  work.release();
  return gradient;
}

function conv2D(args: ConvArgs): tf.TensorInfo {
  const { inputs: { x, filter }, backend, attrs } = args;
  if (!fitsWinograd(x.shape, filter.shape, attrs)) {
    return xnnpackConv2D!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return winogradConv2D(backend, { x, filter });
}

function fusedConv2D(args: ConvArgs): tf.TensorInfo {
  const { inputs: { x, filter, bias, preluActivationWeights }, backend, attrs } = args;
  const activation = attrs.activation ?? "linear";
  if (
    !fitsWinograd(x.shape, filter.shape, attrs) || preluActivationWeights ||
    (activation !== "linear" && activation !== "relu")
  ) {
    return xnnpackFusedConv2D!(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return winogradConv2D(backend, { x, filter, bias, relu: activation === "relu" });
}

/**
 * Routes the wasm backend's 3×3 stride-1 "same" convolutions (plain and
 * fused with bias and ReLU) through Winograd F(2×2, 3×3), once.
 */
export function registerWasmWinograd(): void {
  if (xnnpackConv2D !== undefined) return;
  overrideKernel("Conv2D", "wasm", (original) => {
    xnnpackConv2D = original;
    return conv2D as unknown as tf.KernelFunc;
  });
  overrideKernel("FusedConv2D", "wasm", (original) => {
    xnnpackFusedConv2D = original;
    return fusedConv2D as unknown as tf.KernelFunc;
  });
}
