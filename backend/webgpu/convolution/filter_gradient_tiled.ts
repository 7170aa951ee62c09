import type { WebGPUProgram } from "../program.ts";

/** Output tile of one workgroup (rows = filter taps × input channels, columns = output channels). */
export const TILED_TILE = 64;
/** Reduction slice staged in workgroup memory per iteration. */
export const TILED_DEPTH = 16;
/** Each of the 16×16 threads computes a 4×4 block of the tile. */
const THREAD_BLOCK = 4;

/** The uniforms of {@link FilterGradientTiledProgram}, in its order. */
export function tiledUniforms(
  info: {
    padTop: number;
    padLeft: number;
    strideHeight: number;
    strideWidth: number;
    outHeight: number;
    outWidth: number;
    inChannels: number;
    filterWidth: number;
  },
  sizes: { rows: number; columns: number; terms: number },
  depth: number,
): { type: "int32"; data: number[] }[] {
  return [
    [info.padTop, info.padLeft],
    [info.strideHeight, info.strideWidth],
    [info.outHeight],
    [info.outWidth],
    [info.inChannels],
    [info.filterWidth],
    [sizes.rows],
    [sizes.columns],
    [sizes.terms],
    [depth],
  ].map((data) => ({ type: "int32", data }));
}

/**
 * The filter gradient of a 2-D convolution (NHWC, no dilation) as one tiled
 * matrix product: dW[(kh·KW + kw)·CI + ci, co] = Σ over k = (b, oh, ow) of
 * x[b, oh·s − p + kh, ow·s − p + kw, ci] · dy[b, oh, ow, co]. Each
 * workgroup stages 16-deep slices of both operands in workgroup memory and
 * each thread accumulates a 4×4 block in registers. Each thread's filter
 * element is fixed and its (b, oh, ow) advance by counting. Workgroup `z` sums the
 * terms `[z·splitDepth, (z + 1)·splitDepth)` into its own copy of dW
 * (the output is `[splits, rows · columns]`, or the filter's shape for one split).
 *
 * The kernel this project used before `FilterGradientVec4Program`, kept as
 * the baseline that `bench --gpu-report` measures the new one against: its
 * hot loop still divides, loops on data and indexes private arrays.
 */
export class FilterGradientTiledProgram implements WebGPUProgram {
  variableNames = ["x", "dy"];
  uniforms =
    "pads : vec2<i32>, strides : vec2<i32>, outHeight : i32, outWidth : i32, inChannels : i32, filterWidth : i32, dimM : i32, dimN : i32, dimK : i32, splitDepth : i32,";
  workgroupSize: [number, number, number] = [
    TILED_TILE / THREAD_BLOCK,
    TILED_TILE / THREAD_BLOCK,
    1,
  ];
  outputShape: number[];
  dispatchLayout = { x: [3], y: [0, 1, 2] };
  dispatch: [number, number, number];
  shaderKey = `conv2DFilterGradTiled_${TILED_TILE}_${TILED_DEPTH}_${THREAD_BLOCK}`;

  constructor(filterShape: number[], rows: number, columns: number, splits: number) {
    this.outputShape = splits === 1 ? filterShape : [splits, rows * columns];
    this.dispatch = [Math.ceil(columns / TILED_TILE), Math.ceil(rows / TILED_TILE), splits];
  }

  getUserCode(): string {
    const vectors = TILED_TILE / 4;
    return `
      var<workgroup> tileA : array<array<vec4<f32>, ${vectors}>, ${TILED_DEPTH}>;
      var<workgroup> tileB : array<array<vec4<f32>, ${vectors}>, ${TILED_DEPTH}>;

      fn main() {
        ${this.positions()}
        var acc : array<vec4<f32>, ${THREAD_BLOCK}>;
        let slices = (kEnd - kStart + ${TILED_DEPTH - 1}) / ${TILED_DEPTH};
        for (var slice = 0; slice < slices; slice++) {
          ${this.sliceLoads()}
          workgroupBarrier();
          for (var kk = 0; kk < ${TILED_DEPTH}; kk++) {
            let a = tileA[kk][ty];
            let bRow = tileB[kk][tx];
            for (var i = 0; i < ${THREAD_BLOCK}; i++) {
              acc[i] = fma(vec4<f32>(a[i]), bRow, acc[i]);
            }
          }
          workgroupBarrier();
        }
        ${this.writeResult()}
      }
    `;
  }

  /** Threads per workgroup, and the loads each makes per slice of each operand. */
  private get loadPlan(): { threads: number; loads: number; kStride: number } {
    const threads = this.workgroupSize[0] * this.workgroupSize[1];
    return { threads, loads: (TILED_TILE * TILED_DEPTH) / threads, kStride: threads / TILED_TILE };
  }

  /** WGSL: the thread's tile positions and its first terms' (b, oh, ow). */
  private positions(): string {
    const { loads, kStride } = this.loadPlan;
    return `
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let flat = ty * ${this.workgroupSize[0]} + tx;
        let rowBase = i32(workgroupId.y) * ${TILED_TILE};
        let colBase = i32(workgroupId.x) * ${TILED_TILE};
        let kStart = i32(workgroupId.z) * uniforms.splitDepth;
        let kEnd = min(kStart + uniforms.splitDepth, uniforms.dimK);

        // This thread loads column mm of both tiles at depths kFirst + ${kStride}·i of each slice:
        // the filter element of its row of A is fixed, its (b, oh, ow) advance by ${TILED_DEPTH} a slice.
        let mm = flat % ${TILED_TILE};
        let kFirst = flat / ${TILED_TILE};
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
        }`;
  }

  /** WGSL: one slice of both operands into the tiles, the terms' positions advanced. */
  private sliceLoads(): string {
    const { loads, kStride } = this.loadPlan;
    return `
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
            k[i] += ${TILED_DEPTH};
            ow[i] += ${TILED_DEPTH};
            while (ow[i] >= uniforms.outWidth) {
              ow[i] -= uniforms.outWidth;
              oh[i] += 1;
            }
            while (oh[i] >= uniforms.outHeight) {
              oh[i] -= uniforms.outHeight;
              b[i] += 1;
            }
          }`;
  }

  /** WGSL: the thread's block of sums into its split's copy of dW. */
  private writeResult(): string {
    return `
        for (var i = 0; i < ${THREAD_BLOCK}; i++) {
          let row = rowBase + ty * ${THREAD_BLOCK} + i;
          for (var j = 0; j < ${THREAD_BLOCK}; j++) {
            let column = colBase + tx * ${THREAD_BLOCK} + j;
            if (row < uniforms.dimM && column < uniforms.dimN) {
              result[(i32(workgroupId.z) * uniforms.dimM + row) * uniforms.dimN + column] =
                acc[i][j];
            }
          }
        }`;
  }
}
