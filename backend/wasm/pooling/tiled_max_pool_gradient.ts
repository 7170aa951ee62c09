/**
 * The max-pool gradient for windows that tile the input (LeNet's 2×2
 * pools) over channels not in fours (LeNet's 6), where the general SIMD
 * kernels of `max_pool_gradient.ts` cannot run: each input is in one
 * window, so its gradient is stored rather than added, and a pixel's
 * channels are taken four at a time with the last four overlapping the
 * ones before (those channels computed twice, alike). One generated kernel
 * per geometry, one call per row of windows.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { WasmHeap } from "../heap.ts";
import {
  advance,
  cachedModule,
  chunkOffsets,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  op,
  V128,
} from "../simd_module.ts";
import { tiles } from "./pool_info.ts";

/** Parameters (heap offsets, moved window by window; the windows), then vector locals. */
const [X, MAXIMUM, UPSTREAM, DX, WINDOWS] = [0, 1, 2, 3, 4];
const [LARGEST, GRADIENT, UNFOUND, FOUND] = [5, 6, 7, 8];

/** What a kernel is generated for. */
interface TileGeometry {
  channels: number;
  filterHeight: number;
  filterWidth: number;
  /** Bytes from one input row to the next. */
  rowBytes: number;
}

/**
 * One window's gradient for the four channels at byte `channel` of a
 * pixel: for each input in row-major order, the channels whose maximum it
 * is and that no earlier input matched take the output gradient.
 */
function windowCode(geometry: TileGeometry, channel: number): Instruction[] {
  const pixelBytes = 4 * geometry.channels;
  const code: Instruction[] = [
    ...[op.localGet(MAXIMUM), op.v128LoadOffset(channel), op.localSet(LARGEST)],
    ...[op.localGet(UPSTREAM), op.v128LoadOffset(channel), op.localSet(GRADIENT)],
    ...[op.i32Const(-1), op.i32x4Splat, op.localSet(UNFOUND)],
  ];
  for (let kh = 0; kh < geometry.filterHeight; kh++) {
    for (let kw = 0; kw < geometry.filterWidth; kw++) {
      const offset = kh * geometry.rowBytes + kw * pixelBytes + channel;
      code.push(
        ...[op.localGet(X), op.v128LoadOffset(offset), op.localGet(LARGEST), op.f32x4Eq],
        ...[op.localGet(UNFOUND), op.v128And, op.localSet(FOUND)],
        ...[op.localGet(UNFOUND), op.localGet(FOUND), op.v128AndNot, op.localSet(UNFOUND)],
        ...[op.localGet(DX), op.localGet(GRADIENT), op.localGet(FOUND), op.v128And],
        op.v128StoreOffset(offset),
      );
    }
  }
  return code;
}

type RowKernel = (
  x: number,
  maximum: number,
  upstream: number,
  dx: number,
  windows: number,
) => void;

function rowKernel(heap: WasmHeap, geometry: TileGeometry): RowKernel | undefined {
  const pixelBytes = 4 * geometry.channels;
  const binary = cachedModule(`tiled-max-pool-gradient:${JSON.stringify(geometry)}`, () => [{
    name: "row",
    params: [I32, I32, I32, I32, I32],
    locals: [V128, V128, V128, V128],
    code: countedLoop({
      count: WINDOWS,
      body: [
        ...chunkOffsets(geometry.channels).flatMap((channel) => windowCode(geometry, channel)),
        ...advance(X, op.i32Const(geometry.filterWidth * pixelBytes)),
        ...advance(DX, op.i32Const(geometry.filterWidth * pixelBytes)),
        ...advance(MAXIMUM, op.i32Const(pixelBytes)),
        ...advance(UPSTREAM, op.i32Const(pixelBytes)),
      ],
    }),
  }]);
  return heapKernels(heap, binary)?.row as RowKernel | undefined;
}

/**
 * The gradient into `views.dx` (zeroed) for tiling windows over 4 or more
 * channels, a row of windows per call; false (nothing done) where the
 * windows do not tile or the heap is out of reach.
 */
export function tiledMaxPoolGradient(
  heap: WasmHeap,
  info: tf.backend_util.Conv2DInfo,
  views: Record<"x" | "maximum" | "upstream" | "dx", Float32Array>,
): boolean {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  if (!tiles(info) || channels < 4) return false;
  const rowBytes = 4 * inWidth * channels;
  const { filterHeight, filterWidth } = info;
  const kernel = rowKernel(heap, { channels, filterHeight, filterWidth, rowBytes });
  if (!kernel) return false;
  const { x, maximum, upstream, dx } = views;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const inputAt = (b * inHeight + oh * filterHeight) * rowBytes;
      const outputAt = 4 * (b * outHeight + oh) * outWidth * channels;
      kernel(
        x.byteOffset + inputAt,
        maximum.byteOffset + outputAt,
        upstream.byteOffset + outputAt,
        dx.byteOffset + inputAt,
        outWidth,
      );
    }
  }
  return true;
}
