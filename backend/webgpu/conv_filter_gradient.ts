import type * as tf from "@tensorflow/tfjs";
import { convGradientInfo } from "../conv_info.ts";
import { overrideKernel } from "../kernel_override.ts";

/** Output tile of one workgroup (rows = filter taps × input channels, columns = output channels). */
const TILE = 64;
/** Reduction slice staged in workgroup memory per iteration. */
const TILE_K = 16;
/** Each of the 16×16 threads computes a 4×4 block of the tile. */
const THREAD_BLOCK = 4;
/**
 * Workgroups wanted per dispatch, so that a large GPU has every core busy with
 * several workgroups to switch between: an H100 or H200 holds about 1,000 of
 * these 256-thread workgroups at once (132 multiprocessors × 8). The partial
 * sums then take at most 2,048 tiles of 64×64 floats (32 MiB).
 */
const TARGET_WORKGROUPS = 2048;
/** Fewest reduction terms one workgroup sums, so that splitting never costs more than it saves. */
const MIN_SPLIT_DEPTH = 1024;

/** How the reduction of one filter gradient is cut among workgroups. */
export interface ReductionSplit {
  /** Number of partial sums per filter element. */
  splits: number;
  /** Reduction terms per partial sum (a multiple of the 16-deep slice; the last one may be shorter). */
  depth: number;
}

/**
 * Splits the reduction (batch × output pixels) of a `rows × columns` filter
 * gradient into partial sums when its tiles alone are too few workgroups:
 * AlexNet's first layer at 224 has 4 output tiles and 373,248 terms to sum,
 * which left all but 4 of a GPU's cores idle.
 */
export function reductionSplit(
  { rows, columns, terms }: { rows: number; columns: number; terms: number },
): ReductionSplit {
  const tiles = Math.ceil(rows / TILE) * Math.ceil(columns / TILE);
  const wanted = Math.ceil(TARGET_WORKGROUPS / tiles);
  const affordable = Math.max(1, Math.floor(terms / MIN_SPLIT_DEPTH));
  const parts = Math.min(wanted, affordable);
  const depth = Math.ceil(terms / parts / TILE_K) * TILE_K;
  return { splits: Math.ceil(terms / depth), depth };
}

/**
 * The filter gradient of a 2-D convolution (NHWC, no dilation) as one tiled
 * matrix product: dW[(kh·KW + kw)·CI + ci, co] = Σ over k = (b, oh, ow) of
 * x[b, oh·s − p + kh, ow·s − p + kw, ci] · dy[b, oh, ow, co]. Each
 * workgroup stages 16-deep slices of both operands in workgroup memory and
 * each thread accumulates a 4×4 block in registers. The im2col index
 * arithmetic stays out of the loop: each thread's filter element is fixed
 * and its (b, oh, ow) advance by counting, not dividing (twice as fast on
 * lavapipe as dividing for every element loaded). Workgroup `z` sums the
 * terms `[z·splitDepth, (z + 1)·splitDepth)` into its own copy of dW
 * (the output is `[splits, rows · columns]`, or the filter's shape for one split).
 */
class Conv2DFilterGradProgram {
  variableNames = ["x", "dy"];
  uniforms =
    "pads : vec2<i32>, strides : vec2<i32>, outHeight : i32, outWidth : i32, inChannels : i32, filterWidth : i32, dimM : i32, dimN : i32, dimK : i32, splitDepth : i32,";
  workgroupSize: [number, number, number] = [TILE / THREAD_BLOCK, TILE / THREAD_BLOCK, 1];
  outputShape: number[];
  dispatchLayout = { x: [3], y: [0, 1, 2] };
  dispatch: [number, number, number];
  shaderKey = `conv2DFilterGradTiled_${TILE}_${TILE_K}_${THREAD_BLOCK}`;

  constructor(filterShape: number[], rows: number, columns: number, splits: number) {
    this.outputShape = splits === 1 ? filterShape : [splits, rows * columns];
    this.dispatch = [Math.ceil(columns / TILE), Math.ceil(rows / TILE), splits];
  }

  getUserCode(): string {
    const threads = this.workgroupSize[0] * this.workgroupSize[1];
    const loads = (TILE * TILE_K) / threads;
    const kStride = threads / TILE;
    const vectors = TILE / 4;
    return `
      var<workgroup> tileA : array<array<vec4<f32>, ${vectors}>, ${TILE_K}>;
      var<workgroup> tileB : array<array<vec4<f32>, ${vectors}>, ${TILE_K}>;

      ${"fn main()"} {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let flat = ty * ${this.workgroupSize[0]} + tx;
        let rowBase = i32(workgroupId.y) * ${TILE};
        let colBase = i32(workgroupId.x) * ${TILE};
        let kStart = i32(workgroupId.z) * uniforms.splitDepth;
        let kEnd = min(kStart + uniforms.splitDepth, uniforms.dimK);

        // This thread loads column mm of both tiles at depths kFirst + ${kStride}·i of each slice:
        // the filter element of its row of A is fixed, its (b, oh, ow) advance by ${TILE_K} a slice.
        let mm = flat % ${TILE};
        let kFirst = flat / ${TILE};
        let m = rowBase + mm;
        let ci = m % uniforms.inChannels;
        let tap = m / uniforms.inChannels;
        let rowOffsetH = tap / uniforms.filterWidth - uniforms.pads.x;
        let rowOffsetW = tap % uniforms.filterWidth - uniforms.pads.y;
        let n = colBase + mm;
        var k : array<i32, ${loads}>;
        var ow : array<i32, ${loads}>;
        var oh : array<i32, ${loads}>;
        var b : array<i32, ${loads}>;
        for (var i = 0; i < ${loads}; i++) {
          k[i] = kStart + kFirst + ${kStride} * i;
          ow[i] = k[i] % uniforms.outWidth;
          let rest = k[i] / uniforms.outWidth;
          oh[i] = rest % uniforms.outHeight;
          b[i] = rest / uniforms.outHeight;
        }

        var acc : array<vec4<f32>, ${THREAD_BLOCK}>;
        let slices = (kEnd - kStart + ${TILE_K - 1}) / ${TILE_K};
        for (var slice = 0; slice < slices; slice++) {
          for (var i = 0; i < ${loads}; i++) {
            var valueA = 0.0;
            var valueB = 0.0;
            if (k[i] < kEnd) {
              let ih = oh[i] * uniforms.strides.x + rowOffsetH;
              let iw = ow[i] * uniforms.strides.y + rowOffsetW;
              if (m < uniforms.dimM && ih >= 0 && ih < uniforms.xShape.y && iw >= 0 &&
                  iw < uniforms.xShape.z) {
                valueA = x[((b[i] * uniforms.xShape.y + ih) * uniforms.xShape.z + iw) *
                  uniforms.xShape.w + ci];
              }
              if (n < uniforms.dimN) { valueB = dy[k[i] * uniforms.dimN + n]; }
            }
            let kk = kFirst + ${kStride} * i;
            tileA[kk][mm / 4][mm % 4] = valueA;
            tileB[kk][mm / 4][mm % 4] = valueB;
            k[i] += ${TILE_K};
            ow[i] += ${TILE_K};
            while (ow[i] >= uniforms.outWidth) {
              ow[i] -= uniforms.outWidth;
              oh[i] += 1;
            }
            while (oh[i] >= uniforms.outHeight) {
              oh[i] -= uniforms.outHeight;
              b[i] += 1;
            }
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${TILE_K}; kk++) {
            let a = tileA[kk][ty];
            let bRow = tileB[kk][tx];
            for (var i = 0; i < ${THREAD_BLOCK}; i++) {
              acc[i] = fma(vec4<f32>(a[i]), bRow, acc[i]);
            }
          }
          workgroupBarrier();
        }
        for (var i = 0; i < ${THREAD_BLOCK}; i++) {
          let row = rowBase + ty * ${THREAD_BLOCK} + i;
          for (var j = 0; j < ${THREAD_BLOCK}; j++) {
            let column = colBase + tx * ${THREAD_BLOCK} + j;
            if (row < uniforms.dimM && column < uniforms.dimN) {
              result[(i32(workgroupId.z) * uniforms.dimM + row) * uniforms.dimN + column] =
                acc[i][j];
            }
          }
        }
      }
    `;
  }
}

/** Adds the `splits` partial filter gradients `[splits, size]` into the filter's shape. */
class SumSplitsProgram {
  variableNames = ["partial"];
  uniforms = "splits : i32,";
  size = true;
  workgroupSize: [number, number, number] = [128, 1, 1];
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey = "conv2DFilterGradSumSplits";

  constructor(filterShape: number[]) {
    this.outputShape = filterShape;
    this.dispatchLayout = { x: filterShape.map((_, axis) => axis) };
    const size = filterShape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `
      ${"fn main(index : i32)"} {
        if (index < uniforms.size) {
          var total = 0.0;
          for (var split = 0; split < uniforms.splits; split++) {
            total += partial[split * uniforms.size + index];
          }
          setOutputAtIndex(index, total);
        }
      }
    `;
  }
}

interface WebGPURunner {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: string,
    uniforms: { type: string; data: number[] }[],
  ): tf.TensorInfo;
  disposeData(dataId: object): void;
}

let registered = false;

/**
 * Replaces tfjs-backend-webgpu's `Conv2DBackpropFilter` (one thread per
 * filter element looping over batch × output pixels: 0.5 GFLOP/s on
 * lavapipe, three quarters of an AlexNet step) with a tiled matrix product
 * for NHWC without dilation; other cases keep tfjs's kernel.
 */
export function registerConvFilterGradient(): void {
  if (registered) return;
  registered = true;
  overrideKernel("Conv2DBackpropFilter", "webgpu", (original) => (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const attrs = args.attrs as tf.NamedAttrMap;
    const filterShape = attrs.filterShape as number[];
    if (attrs.dataFormat === "NCHW" || x.dtype !== "float32") return original(args);
    const info = convGradientInfo(x.shape, filterShape, attrs);
    const rows = info.filterHeight * info.filterWidth * info.inChannels;
    const columns = info.outChannels;
    const terms = info.batchSize * info.outHeight * info.outWidth;
    const { splits, depth } = reductionSplit({ rows, columns, terms });
    const program = new Conv2DFilterGradProgram(filterShape, rows, columns, splits);
    const uniforms = [
      { type: "int32", data: [info.padInfo.top, info.padInfo.left] },
      { type: "int32", data: [info.strideHeight, info.strideWidth] },
      { type: "int32", data: [info.outHeight] },
      { type: "int32", data: [info.outWidth] },
      { type: "int32", data: [info.inChannels] },
      { type: "int32", data: [info.filterWidth] },
      { type: "int32", data: [rows] },
      { type: "int32", data: [columns] },
      { type: "int32", data: [terms] },
      { type: "int32", data: [depth] },
    ];
    const backend = args.backend as unknown as WebGPURunner;
    const partial = backend.runWebGPUProgram(program, [x, dy], "float32", uniforms);
    if (splits === 1) return partial;
    const total = backend.runWebGPUProgram(
      new SumSplitsProgram(filterShape),
      [partial],
      "float32",
      [{ type: "int32", data: [splits] }],
    );
    backend.disposeData(partial.dataId);
    return total;
  });
}
