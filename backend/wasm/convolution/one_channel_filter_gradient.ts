/**
 * The filter gradient of a convolution whose input has one channel and
 * whose output has few (VGG's first layer, 1 → 8 at 224 × 224) as a direct
 * SIMD kernel: dW[kh, kw, 0, co] = Σ x[pixel + (kh, kw)] · dy[pixel, co].
 * As an im2col product the patch matrix holds one float per tap and pixel
 * and the product has 9 columns, so building and reading it costs far more
 * than the few multiplications per pixel; here each output pixel's window
 * is read in place, every tap's input splatted over four output channels,
 * and the sums stay in locals along a row of output pixels.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { padInto } from "../layout/pad.ts";
import { WasmWorkspace } from "../workspace.ts";
import {
  advance,
  cachedModule,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  op,
  V128,
} from "../simd_module.ts";

/** Most sums (taps times vectors of four output channels) the kernel keeps in locals. */
const MAX_SUMS = 24;

/** Whether the direct kernel takes this convolution's filter gradient. */
export function fitsOneChannelKernel(info: tf.backend_util.Conv2DInfo): boolean {
  const sums = info.filterHeight * info.filterWidth * (info.outChannels / 4);
  return info.inChannels === 1 && info.outChannels % 4 === 0 && sums <= MAX_SUMS &&
    info.dilationHeight === 1 && info.dilationWidth === 1;
}

/** Parameters of the row kernel, then its own locals (the sums follow). */
const [WINDOW, UPSTREAM, PIXELS, STEP, SUMS] = [0, 1, 2, 3, 4];
const FIRST_DY = 5;

/** What the generated row kernel is specialised to. */
interface RowGeometry {
  filterHeight: number;
  filterWidth: number;
  /** Vectors of four output channels. */
  vectors: number;
  /** Bytes between rows of the padded input. */
  rowBytes: number;
}

/**
 * `row(window, upstream, pixels, step, sums)`: for `pixels` output pixels
 * from `upstream` on (dy, `vectors` × 16 bytes each) whose windows start at
 * `window` and move `step` bytes each, adds Σ x · dy of every tap and
 * output channel to the floats at `sums` (tap-major, channels innermost).
 */
function rowModule(geometry: RowGeometry): Uint8Array<ArrayBuffer> {
  const { filterHeight, filterWidth, vectors } = geometry;
  return cachedModule(`one-channel-filter-gradient:${JSON.stringify(geometry)}`, () => [{
    name: "row",
    params: [I32, I32, I32, I32, I32],
    locals: Array(vectors + filterHeight * filterWidth * vectors).fill(V128),
    code: [
      ...countedLoop({
        count: PIXELS,
        body: [
          ...pixelSums(geometry),
          ...advance(WINDOW, op.localGet(STEP)),
          ...advance(UPSTREAM, op.i32Const(16 * vectors)),
        ],
      }),
      ...addSums(geometry),
    ],
  }]);
}

/** The local holding the sum of tap `tap` and output vector `v` (after dy's vectors). */
function sumLocal({ vectors }: RowGeometry, tap: number, v: number): number {
  return FIRST_DY + vectors + tap * vectors + v;
}

/** One output pixel: dy's vectors into locals, then each tap's input times them into its sums. */
function pixelSums(geometry: RowGeometry): Instruction[] {
  const { filterHeight, filterWidth, vectors, rowBytes } = geometry;
  const code: Instruction[] = [];
  for (let v = 0; v < vectors; v++) {
    code.push(op.localGet(UPSTREAM), op.v128LoadOffset(16 * v), op.localSet(FIRST_DY + v));
  }
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const tap = kh * filterWidth + kw;
      for (let v = 0; v < vectors; v++) {
        code.push(
          op.localGet(sumLocal(geometry, tap, v)),
          op.localGet(WINDOW),
          op.v128Load32Splat(kh * rowBytes + kw * 4),
          op.localGet(FIRST_DY + v),
          op.f32x4Mul,
          op.f32x4Add,
          op.localSet(sumLocal(geometry, tap, v)),
        );
      }
    }
  }
  return code;
}

/** The row's sums added to the floats at `SUMS` (tap-major, channels innermost). */
function addSums(geometry: RowGeometry): Instruction[] {
  const { filterHeight, filterWidth, vectors } = geometry;
  const code: Instruction[] = [];
  for (let tap = 0; tap < filterHeight * filterWidth; tap++) {
    for (let v = 0; v < vectors; v++) {
      const offset = 16 * (tap * vectors + v);
      code.push(
        op.localGet(SUMS),
        op.localGet(SUMS),
        op.v128LoadOffset(offset),
        op.localGet(sumLocal(geometry, tap, v)),
        op.f32x4Add,
        op.v128StoreOffset(offset),
      );
    }
  }
  return code;
}

type RowKernel = (
  window: number,
  upstream: number,
  pixels: number,
  step: number,
  sums: number,
) => void;

/**
 * The filter gradient [kh, kw, 1, outChannels] of `x` (one channel) and
 * `dy` by the row kernel over a zero-padded copy of `x`; undefined where
 * the heap's memory cannot be reached. Each image's sums go into a float64
 * total: a float32 sum runs over one row of pixels, then over one image's
 * rows, never longer.
 */
export function oneChannelFilterGradient(
  backend: tf.KernelBackend,
  { x, dy, info }: { x: tf.TensorInfo; dy: tf.TensorInfo; info: tf.backend_util.Conv2DInfo },
): tf.TensorInfo | undefined {
  const { filterHeight, filterWidth, outChannels, outHeight, outWidth, padInfo } = info;
  const [batch, height, width] = x.shape;
  const rows = Math.max(height + padInfo.top, (outHeight - 1) * info.strideHeight + filterHeight);
  const columns = Math.max(width + padInfo.left, (outWidth - 1) * info.strideWidth + filterWidth);
  const vectors = outChannels / 4;
  const geometry = { filterHeight, filterWidth, vectors, rowBytes: 4 * columns };
  const work = new WasmWorkspace(backend);
  const kernels = heapKernels(work.heap, rowModule(geometry));
  if (!kernels) return undefined;
  const row = kernels.row as RowKernel;
  const padded = work.temporary([batch, rows, columns, 1]);
  const sums = work.temporary([filterHeight * filterWidth * outChannels]);
  const gradient = work.heap.makeOutput(info.filterShape, "float32");
  const [xValues, paddedValues, sumValues, dyValues, gradientValues] = work.views([
    x,
    padded,
    sums,
    dy,
    gradient,
  ]);
  padInto(xValues, paddedValues, {
    batch,
    height,
    width,
    channels: 1,
    rows,
    columns,
    top: padInfo.top,
    left: padInfo.left,
  });
  const total = new Float64Array(sumValues.length);
  for (let b = 0; b < batch; b++) {
    sumValues.fill(0);
    for (let oh = 0; oh < outHeight; oh++) {
      const window = paddedValues.byteOffset + 4 * (b * rows + oh * info.strideHeight) * columns;
      const upstream = dyValues.byteOffset + 4 * (b * outHeight + oh) * outWidth * outChannels;
      row(window, upstream, outWidth, 4 * info.strideWidth, sumValues.byteOffset);
    }
    for (let i = 0; i < total.length; i++) total[i] += sumValues[i];
  }
  gradientValues.set(total);
  work.release();
  return gradient;
}
