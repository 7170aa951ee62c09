/**
 * The per-tile transforms of a Toom–Cook scheme (see `toom_cook.ts`) run
 * by the SIMD kernels of `tile_kernels.ts` over a batch's grid of tiles, one
 * call per row of tiles. Each returns false, doing nothing, where the
 * kernels cannot run (no heap in the layout, channels not in fours): the
 * scheme's JavaScript passes take over.
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";
import type { OutputLayout, TileLayout } from "./tiles.ts";
import { type TileRun, toImageKernels, toPlanesKernel } from "./tile_kernels.ts";

/** The heap the SIMD kernels run on: the layout's, where its channels come in fours. */
function heapOf(layout: TileLayout): WasmHeap | undefined {
  return layout.channels % 4 === 0 ? layout.heap : undefined;
}

/** A run along one row of `tiles` tiles, `step` bytes apart in the image, onto `planes`. */
function runOf(planes: Float32Array[], channels: number, step: number, tiles: number): TileRun {
  const addresses = planes.map((plane) => plane.byteOffset);
  return { image: 0, step, tiles, bytes: 4 * channels, planeAt: 0, bias: 0, planes: addresses };
}

/** Bᵀ d B (`inputTransposed` is Bᵀ, α × α) for every tile of `padded` into `planes`. */
export function inputTilesBySimd(
  inputTransposed: number[][],
  { padded, planes, layout }: { padded: Float32Array; planes: Float32Array[]; layout: TileLayout },
): boolean {
  const heap = heapOf(layout);
  const { grid: { batch, step, tilesHigh, tilesWide }, channels: c } = layout;
  const tileSize = inputTransposed.length;
  const columns = step * tilesWide + tileSize - step;
  const rows = step * tilesHigh + tileSize - step;
  const image = { rowBytes: 4 * columns * c, pixelBytes: 4 * c };
  const kernel = heap && toPlanesKernel(heap, inputTransposed, image);
  if (!kernel) return false;
  const run = runOf(planes, c, 4 * step * c, tilesWide);
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      run.image = padded.byteOffset + 4 * (b * rows + step * ty) * columns * c;
      run.planeAt = 4 * c * (b * tilesHigh + ty) * tilesWide;
      kernel(run);
    }
  }
  return true;
}

/**
 * Aᵀ m A (`outputTransposed` is Aᵀ) from `planes` into `output`, plus the
 * layout's bias and ReLU; the tile the image's right edge cuts, if any, by
 * its own call.
 */
export function outputTilesBySimd(
  outputTransposed: number[][],
  { planes, output, layout }: {
    planes: Float32Array[];
    output: Float32Array;
    layout: OutputLayout;
  },
): boolean {
  const heap = heapOf(layout);
  const { grid: { batch, height, width, step, tilesHigh, tilesWide }, channels: c } = layout;
  const image = { rowBytes: 4 * width * c, pixelBytes: 4 * c };
  const kernels = heap && toImageKernels(heap, outputTransposed, image);
  if (!kernels) return false;
  const whole = Math.floor(width / step);
  const cutColumns = width - whole * step;
  const run = runOf(planes, c, 4 * step * c, whole);
  run.bias = layout.bias.byteOffset;
  const relu = layout.relu;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      const rows = Math.min(step, height - step * ty);
      run.image = output.byteOffset + 4 * (b * height + step * ty) * width * c;
      run.planeAt = 4 * c * (b * tilesHigh + ty) * tilesWide;
      run.tiles = whole;
      if (whole > 0) kernels({ rows, columns: step, relu })(run);
      if (cutColumns === 0) continue;
      run.image += whole * run.step;
      run.planeAt += whole * run.bytes;
      run.tiles = 1;
      kernels({ rows, columns: cutColumns, relu })(run);
    }
  }
  return true;
}

/** A dY Aᵀ (`outputMatrix` is A) for every tile of `dy` (whole tiles) into `planes`. */
export function gradientTilesBySimd(
  outputMatrix: number[][],
  { dy, planes, layout }: { dy: Float32Array; planes: Float32Array[]; layout: TileLayout },
): boolean {
  const heap = heapOf(layout);
  const { grid: { batch, step, tilesHigh, tilesWide }, channels: c } = layout;
  const rowFloats = step * tilesWide * c;
  const image = { rowBytes: 4 * rowFloats, pixelBytes: 4 * c };
  const kernel = heap && toPlanesKernel(heap, outputMatrix, image);
  if (!kernel) return false;
  const run = runOf(planes, c, 4 * step * c, tilesWide);
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      run.image = dy.byteOffset + 4 * (b * tilesHigh + ty) * step * rowFloats;
      run.planeAt = 4 * c * (b * tilesHigh + ty) * tilesWide;
      kernel(run);
    }
  }
  return true;
}
