import * as tf from "@tensorflow/tfjs";
import { convGradientInfo } from "./conv_info.ts";

/** Output tile of one workgroup (rows = filter taps × input channels, columns = output channels). */
const TILE = 64;
/** Reduction slice staged in workgroup memory per iteration. */
const TILE_K = 16;
/** Each of the 16×16 threads computes a 4×4 block of the tile. */
const THREAD_BLOCK = 4;
/** Workgroups wanted per dispatch, so that a large GPU has every core busy. */
const TARGET_WORKGROUPS = 512;
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
 * each thread accumulates a 4×4 block in registers. Workgroup `z` sums the
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
    const loadsPerThread = (TILE * TILE_K) / (this.workgroupSize[0] * this.workgroupSize[1]);
    return `
      var<workgroup> tileA : array<array<f32, ${TILE}>, ${TILE_K}>;
      var<workgroup> tileB : array<array<f32, ${TILE}>, ${TILE_K}>;

      fn readA(m : i32, k : i32) -> f32 {
        if (m >= uniforms.dimM || k >= uniforms.dimK) { return 0.0; }
        let ci = m % uniforms.inChannels;
        let tap = m / uniforms.inChannels;
        let kw = tap % uniforms.filterWidth;
        let kh = tap / uniforms.filterWidth;
        let ow = k % uniforms.outWidth;
        let rest = k / uniforms.outWidth;
        let oh = rest % uniforms.outHeight;
        let b = rest / uniforms.outHeight;
        let ih = oh * uniforms.strides.x - uniforms.pads.x + kh;
        let iw = ow * uniforms.strides.y - uniforms.pads.y + kw;
        if (ih < 0 || ih >= uniforms.xShape.y || iw < 0 || iw >= uniforms.xShape.z) { return 0.0; }
        return x[((b * uniforms.xShape.y + ih) * uniforms.xShape.z + iw) * uniforms.xShape.w + ci];
      }

      fn readB(k : i32, n : i32) -> f32 {
        if (k >= uniforms.dimK || n >= uniforms.dimN) { return 0.0; }
        return dy[k * uniforms.dimN + n];
      }

      ${"fn main()"} {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let flat = ty * ${this.workgroupSize[0]} + tx;
        let rowBase = i32(workgroupId.y) * ${TILE};
        let colBase = i32(workgroupId.x) * ${TILE};
        let kStart = i32(workgroupId.z) * uniforms.splitDepth;
        let kEnd = min(kStart + uniforms.splitDepth, uniforms.dimK);
        var acc : array<array<f32, ${THREAD_BLOCK}>, ${THREAD_BLOCK}>;
        let slices = (kEnd - kStart + ${TILE_K - 1}) / ${TILE_K};
        for (var slice = 0; slice < slices; slice++) {
          let kBase = kStart + slice * ${TILE_K};
          for (var i = 0; i < ${loadsPerThread}; i++) {
            let e = flat + i * ${this.workgroupSize[0] * this.workgroupSize[1]};
            let kk = e / ${TILE};
            let mm = e % ${TILE};
            tileA[kk][mm] = readA(rowBase + mm, kBase + kk);
            tileB[kk][mm] = readB(kBase + kk, colBase + mm);
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${TILE_K}; kk++) {
            var a : array<f32, ${THREAD_BLOCK}>;
            var b : array<f32, ${THREAD_BLOCK}>;
            for (var i = 0; i < ${THREAD_BLOCK}; i++) {
              a[i] = tileA[kk][ty * ${THREAD_BLOCK} + i];
              b[i] = tileB[kk][tx * ${THREAD_BLOCK} + i];
            }
            for (var i = 0; i < ${THREAD_BLOCK}; i++) {
              for (var j = 0; j < ${THREAD_BLOCK}; j++) {
                acc[i][j] = fma(a[i], b[j], acc[i][j]);
              }
            }
          }
          workgroupBarrier();
        }
        for (var i = 0; i < ${THREAD_BLOCK}; i++) {
          let m = rowBase + ty * ${THREAD_BLOCK} + i;
          for (var j = 0; j < ${THREAD_BLOCK}; j++) {
            let n = colBase + tx * ${THREAD_BLOCK} + j;
            if (m < uniforms.dimM && n < uniforms.dimN) {
              result[(i32(workgroupId.z) * uniforms.dimM + m) * uniforms.dimN + n] = acc[i][j];
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
  const original = tf.getKernel("Conv2DBackpropFilter", "webgpu");
  if (!original) return;
  tf.unregisterKernel("Conv2DBackpropFilter", "webgpu");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const attrs = args.attrs as tf.NamedAttrMap;
      const filterShape = attrs.filterShape as number[];
      if (attrs.dataFormat === "NCHW" || x.dtype !== "float32") return original.kernelFunc(args);
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
    },
  });
}
