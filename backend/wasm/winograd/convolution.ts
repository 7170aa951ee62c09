import * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../../kernel_override.ts";
import { padInto } from "../layout/pad.ts";
import { WasmWorkspace } from "../workspace.ts";
import { type TileGrid, tileGrid, type WinogradScheme } from "./tiles.ts";
import { toomCookScheme } from "./toom_cook.ts";

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

/**
 * Whether a side of `channels` repays the transforms: 32 or more, or 8 or
 * more in fours, which the SIMD tile kernels transform (VGG's 8 → 16 and
 * 16 → 32 layers at 64 examples: a half to a third of XNNPACK's and
 * im2col's time). Narrower sides, and sides below 32 that the JavaScript
 * passes transform (NiN's last layer, 10 channels), keep the direct
 * convolution.
 */
function repaysTransforms(channels: number): boolean {
  return channels >= 32 || (channels >= 8 && channels % 4 === 0);
}

/**
 * Most floats in one set of tile planes: the batch is transformed and
 * multiplied in chunks of images below it, so that the planes the
 * transforms write are still in the caches when the products read them
 * (and the temporaries stay small).
 */
const CHUNK_FLOATS = 2 ** 19;

/**
 * Most floats of the filter's planes per tile of a chunk: each chunk's
 * products read all of them again, which too few tiles do not repay
 * (AlexNet's 384-channel layers, ResNet's 512-channel ones).
 */
const FILTER_FLOATS_PER_TILE = 4096;

/**
 * The algorithms: F(4×4, 3×3) (AlexNet's conv3–conv5) and F(4×4, 5×5)
 * (conv2), 36 and 64 multiplications per 16 outputs and channel pair
 * instead of 144 and 400, and F(3×3, 3×3) (25 per 9) for the maps it
 * covers with fewer multiplications than F(4×4, 3×3): 6×6 and 3×3 maps
 * (ResNet's and GoogLeNet's last stages), where 4×4 tiles compute 64 and 16
 * outputs for 36 and 9. The 8×8 tiles of F(4×4, 5×5) take points ±1/2
 * too; relative errors against the CPU backend stay near 1e-5. With
 * F(2×2, ·) (16 and 36 per 4 outputs), conv2–conv5 at 64 examples took
 * 35–45% longer; F(6×6, 3×3) (64 per 36) was slower than F(3×3, 3×3) on
 * 6×6 and 3×3 maps, its 8×8 tiles' transforms costlier, and no faster than
 * F(4×4, 3×3) on 12×12 ones.
 */
const SCHEMES = [
  toomCookScheme(4, 3, [0, 1, -1, 2, -2]),
  toomCookScheme(3, 3, [0, 1, -1, 2]),
  toomCookScheme(4, 5, [0, 1, -1, 2, -2, 0.5, -0.5]),
];

/** Multiplications per channel pair of `scheme` on a `height × width` map: its tiles times α². */
function multiplications(scheme: WinogradScheme, height: number, width: number): number {
  return tileGrid(1, height, width, scheme.outputSize).tiles * scheme.tileSize ** 2;
}

/** The scheme for an r×r filter on a `height × width` map: the fewest multiplications, the first on a tie. */
function cheapestScheme(size: number, height: number, width: number): WinogradScheme | undefined {
  const cost = (scheme: WinogradScheme) => multiplications(scheme, height, width);
  return SCHEMES.filter((s) => s.filterSize === size).sort((a, b) => cost(a) - cost(b))[0];
}

/**
 * The Winograd algorithm that computes the convolution of `x` with `filter`,
 * if any (see {@link SCHEMES}): a 3×3 or 5×5 filter, stride 1, no
 * dilation, "same" padding on every side, NHWC, channels in and out that
 * repay the transforms.
 */
export function winogradScheme(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): WinogradScheme | undefined {
  const { strides, pad, dilations, dimRoundingMode, dataFormat } = attrs as unknown as {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dilations?: [number, number] | number;
    dimRoundingMode?: "floor" | "round" | "ceil";
    dataFormat?: "NHWC" | "NCHW";
  };
  if (dataFormat === "NCHW" || xShape.length !== 4 || filterShape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
  );
  const scheme = cheapestScheme(info.filterHeight, info.inHeight, info.inWidth);
  const border = (info.filterHeight - 1) / 2;
  const { top, bottom, left, right } = info.padInfo;
  const fits = scheme !== undefined && info.filterWidth === info.filterHeight &&
    info.strideHeight === 1 && info.strideWidth === 1 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 &&
    [top, bottom, left, right].every((p) => p === border) &&
    repaysTransforms(info.inChannels) && repaysTransforms(info.outChannels);
  return fits ? scheme : undefined;
}

/**
 * Images per chunk of the batch: as many as keep one set of planes under
 * {@link CHUNK_FLOATS}, unless the filter's planes ask for more tiles (see
 * {@link FILTER_FLOATS_PER_TILE}). On 24×24 maps of 64 to 192 channels,
 * 2–6 images a chunk instead of 33–101 made the forward pass, the input
 * gradient and the filter gradient 15–40% faster; 6×6 maps of 512
 * channels were 1.5–2 times slower at 3–14 images than at 64, AlexNet's
 * conv2–conv4 up to 1.5 times at 2.
 */
function imagesPerChunk(
  scheme: WinogradScheme,
  x: tf.TensorInfo,
  channels: { in: number; out: number },
): number {
  const [batch, height, width] = x.shape;
  const { tiles } = tileGrid(1, height, width, scheme.outputSize);
  const fitting = CHUNK_FLOATS /
    (tiles * scheme.tileSize ** 2 * Math.max(channels.in, channels.out));
  const filterFloats = scheme.tileSize ** 2 * channels.in * channels.out;
  const packing = filterFloats / FILTER_FLOATS_PER_TILE / tiles;
  return Math.min(batch, Math.max(1, Math.floor(fitting), Math.ceil(packing)));
}

/** The input tiles (Bᵀ d B) of the `grid.batch` images of `x` from `first` on, as temporary planes. */
function transformInput(
  work: WasmWorkspace,
  scheme: WinogradScheme,
  options: { x: tf.TensorInfo; first: number; grid: TileGrid },
): tf.TensorInfo[] {
  const { x, first, grid } = options;
  const [, height, width, channels] = x.shape;
  const { step } = grid;
  const rows = step * grid.tilesHigh + scheme.tileSize - step;
  const columns = step * grid.tilesWide + scheme.tileSize - step;
  const border = (scheme.filterSize - 1) / 2;
  const padded = work.temporary([grid.batch, rows, columns, channels]);
  const planes = work.planes(scheme.tileSize ** 2, [grid.tiles, channels]);
  const [xValues, paddedValues] = work.views([x, padded]);
  padInto(xValues.subarray(first * height * width * channels), paddedValues, {
    batch: grid.batch,
    height,
    width,
    channels,
    rows,
    columns,
    top: border,
    left: border,
  });
  scheme.inputTiles(paddedValues, work.views(planes), {
    grid,
    channels,
    heap: work.heap,
  });
  return planes;
}

/**
 * The "same" convolution of `x` with `filter` by Winograd's `scheme`, plus
 * `bias` and a ReLU if asked. The input gradient is such a convolution too
 * (see `../convolution/gradients.ts`).
 */
export function winogradConv2D(
  backend: tf.KernelBackend,
  options: {
    scheme: WinogradScheme;
    x: tf.TensorInfo;
    filter: tf.TensorInfo;
    bias?: tf.TensorInfo;
    relu?: boolean;
    /** Images per chunk (default: see `imagesPerChunk`). */
    chunk?: number;
  },
): tf.TensorInfo {
  const { scheme, x, filter, bias, relu = false } = options;
  const [batch, height, width, channelsIn] = x.shape;
  const channelsOut = filter.shape[3];
  const whole = new WasmWorkspace(backend);
  const filterPlanes = whole.planes(scheme.tileSize ** 2, [channelsIn, channelsOut]);
  const [filterValues, ...filterViews] = whole.views([filter, ...filterPlanes]);
  scheme.filterTiles(filterValues, filterViews, channelsIn * channelsOut);
  const output = whole.heap.makeOutput([batch, height, width, channelsOut], "float32");
  const chunk = options.chunk ??
    imagesPerChunk(scheme, x, { in: channelsIn, out: channelsOut });
  const biasOrZeros = bias ?? whole.temporary([channelsOut]);
  if (bias === undefined) whole.views([biasOrZeros])[0].fill(0);
  for (let first = 0; first < batch; first += chunk) {
    const grid = tileGrid(Math.min(chunk, batch - first), height, width, scheme.outputSize);
    const work = new WasmWorkspace(backend);
    const products = transformInput(work, scheme, { x, first, grid }).map((v, e) =>
      work.product(v, filterPlanes[e], grid.tiles, channelsOut)
    );
    const [outputValues, biasValues, ...views] = work.views([
      output,
      biasOrZeros,
      ...products,
    ]);
    scheme.outputTiles(views, outputValues.subarray(first * height * width * channelsOut), {
      grid,
      channels: channelsOut,
      bias: biasValues,
      relu,
      heap: work.heap,
    });
    work.release();
  }
  whole.release();
  return output;
}

/**
 * The filter gradient [r, r, channelsIn, channelsOut] of a "same"
 * convolution by Winograd's `scheme`: per tile element e, the product
 * Vₑᵀ · Wₑ of the input's tiles (Bᵀ d B) and the output gradient's tiles
 * (A dY Aᵀ) sums over the tiles of a chunk of the batch at once; the
 * chunks' sums are added.
 */
export function winogradFilterGradient(
  backend: tf.KernelBackend,
  options: { scheme: WinogradScheme; x: tf.TensorInfo; dy: tf.TensorInfo; chunk?: number },
): tf.TensorInfo {
  const { scheme, x, dy } = options;
  const [batch, height, width, channelsIn] = x.shape;
  const channelsOut = dy.shape[3];
  const elements = scheme.tileSize ** 2;
  const whole = new WasmWorkspace(backend);
  const sums = whole.planes(elements, [channelsIn, channelsOut]);
  whole.views(sums).forEach((sum) => sum.fill(0));
  const chunk = options.chunk ??
    imagesPerChunk(scheme, x, { in: channelsIn, out: channelsOut });
  for (let first = 0; first < batch; first += chunk) {
    const grid = tileGrid(Math.min(chunk, batch - first), height, width, scheme.outputSize);
    const work = new WasmWorkspace(backend);
    const inputPlanes = transformInput(work, scheme, { x, first, grid });
    const wholeTilesDy = work.temporary([
      grid.batch,
      grid.step * grid.tilesHigh,
      grid.step * grid.tilesWide,
      channelsOut,
    ]);
    const gradientPlanes = work.planes(elements, [grid.tiles, channelsOut]);
    const [dyValues, wholeTilesValues] = work.views([dy, wholeTilesDy]);
    padInto(dyValues.subarray(first * height * width * channelsOut), wholeTilesValues, {
      batch: grid.batch,
      height,
      width,
      channels: channelsOut,
      rows: wholeTilesDy.shape[1],
      columns: wholeTilesDy.shape[2],
      top: 0,
      left: 0,
    });
    scheme.gradientTiles(wholeTilesValues, work.views(gradientPlanes), {
      grid,
      channels: channelsOut,
      heap: work.heap,
    });
    inputPlanes.forEach((plane, e) =>
      work.addTransposedProduct({
        a: plane,
        b: gradientPlanes[e],
        sum: sums[e],
        inner: grid.tiles,
        rows: channelsIn,
        columns: channelsOut,
      })
    );
    work.release();
  }
  const size = scheme.filterSize;
  const gradient = whole.heap.makeOutput([size, size, channelsIn, channelsOut], "float32");
  const [gradientValues, ...sumViews] = whole.views([gradient, ...sums]);
  scheme.filterGradientFromTiles(sumViews, gradientValues, channelsIn * channelsOut);
  whole.release();
  return gradient;
}

/** A convolution by Winograd's algorithm where it applies, else by tfjs's kernel `xnnpack`. */
function conv2D(args: ConvArgs, xnnpack: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { x, filter }, backend, attrs } = args;
  const scheme = winogradScheme(x.shape, filter.shape, attrs);
  if (scheme === undefined) {
    return xnnpack(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return winogradConv2D(backend, { scheme, x, filter });
}

/**
 * A fused convolution (bias, ReLU or none) by Winograd's algorithm where it
 * applies, else by tfjs's kernel `xnnpack`.
 */
function fusedConv2D(args: ConvArgs, xnnpack: tf.KernelFunc): tf.TensorInfo {
  const { inputs: { x, filter, bias, preluActivationWeights }, backend, attrs } = args;
  const activation = attrs.activation ?? "linear";
  const scheme = winogradScheme(x.shape, filter.shape, attrs);
  if (
    scheme === undefined || preluActivationWeights ||
    (activation !== "linear" && activation !== "relu")
  ) {
    return xnnpack(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return winogradConv2D(backend, { scheme, x, filter, bias, relu: activation === "relu" });
}

/**
 * Routes the wasm backend's 3×3 and 5×5 stride-1 "same" convolutions (plain
 * and fused with bias and ReLU) through Winograd's algorithm, once.
 */
export const registerWasmWinograd: () => void = once(() => {
  overrideKernel("Conv2D", "wasm", (original) => (args) => conv2D(args as ConvArgs, original));
  overrideKernel(
    "FusedConv2D",
    "wasm",
    (original) => (args) => fusedConv2D(args as ConvArgs, original),
  );
});
