/**
 * Winograd's minimal filtering algorithms F(m×m, r×r) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015) on NHWC arrays: the
 * shapes they share. A stride-1 r×r convolution with "same" padding is cut
 * into m×m output tiles, each computed from an α×α input tile d
 * (α = m + r − 1) and the filter g as Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Summed
 * over the input channels, the α² element-wise products become α² matrix
 * products (tiles × channels in) · (channels in × channels out). The filter
 * gradient follows from the same identity:
 * dg = Gᵀ [Σ over tiles (A dY Aᵀ) ⊙ (Bᵀ d B)] G. Tensors in the "tile
 * domain" are held as α² planes, one per element, each a row-major matrix.
 * The schemes are built by `toom_cook.ts`.
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";

/** How the output of a stride-1 "same" convolution is cut into step × step tiles. */
export interface TileGrid {
  batch: number;
  height: number;
  width: number;
  /** Side of an output tile (the m of F(m×m, r×r)). */
  step: number;
  tilesHigh: number;
  tilesWide: number;
  /** Tiles in the whole batch: the rows of each plane. */
  tiles: number;
}

/**
 * The `step × step` tiles of a batch of `height × width` outputs (sides
 * that `step` does not divide get a partial last tile).
 */
export function tileGrid(batch: number, height: number, width: number, step: number): TileGrid {
  const tilesHigh = Math.ceil(height / step);
  const tilesWide = Math.ceil(width / step);
  return {
    batch,
    height,
    width,
    step,
    tilesHigh,
    tilesWide,
    tiles: batch * tilesHigh * tilesWide,
  };
}

/** The tiles of a batch and the channels of one side of the convolution. */
export interface TileLayout {
  grid: TileGrid;
  channels: number;
  /**
   * tfjs's wasm heap, which lets the per-tile transforms run as SIMD kernels
   * on it (every array given to the transform must be on it then).
   */
  heap?: WasmHeap;
}

/** An output's tiles and channels, with the fused convolution's bias (zeros if none) and ReLU. */
export interface OutputLayout extends TileLayout {
  bias: Float32Array;
  relu: boolean;
}

/**
 * The five transforms of one Winograd algorithm F(m×m, r×r) on NHWC arrays,
 * tile elements held as planes (row-major matrices, one per element).
 */
export interface WinogradScheme {
  /** Side r of the filter. */
  filterSize: number;
  /** Side m of an output tile. */
  outputSize: number;
  /** Side α = m + r − 1 of an input tile. */
  tileSize: number;
  /**
   * Bᵀ d B for every input tile of `padded` [batch, m·tilesHigh + α − m,
   * m·tilesWide + α − m, channels]: planes [tiles, channels].
   */
  inputTiles(
    padded: Float32Array,
    planes: Float32Array[],
    layout: TileLayout,
  ): void;
  /** G g Gᵀ of a filter [r, r, channelsIn, channelsOut]: planes [channelsIn, channelsOut]. */
  filterTiles(filter: Float32Array, planes: Float32Array[], pairs: number): void;
  /** Aᵀ m A from planes [tiles, channels]: the output, plus a bias and a ReLU if asked. */
  outputTiles(
    planes: Float32Array[],
    output: Float32Array,
    layout: OutputLayout,
  ): void;
  /** A dY Aᵀ for every m×m tile of `dy` [batch, m·tilesHigh, m·tilesWide, channels]. */
  gradientTiles(
    dy: Float32Array,
    planes: Float32Array[],
    layout: TileLayout,
  ): void;
  /** Gᵀ m G: the filter gradient [r, r, channelsIn, channelsOut] from planes [channelsIn, channelsOut]. */
  filterGradientFromTiles(planes: Float32Array[], gradient: Float32Array, pairs: number): void;
}

/**
 * `value`, passed through a ReLU when `relu`, without `Math.max`: V8 checks
 * it for NaN and −0 by branches, and with a ReLU the branch on the value's
 * sign is a coin toss on activations (with `Math.max`, conv2's forward pass
 * took about 40% longer).
 * Exact: (v + |v|) / 2 is v or +0.
 */
export function activate(value: number, relu: boolean): number {
  return relu ? (value + Math.abs(value)) * 0.5 : value;
}
