/**
 * Batch normalisation's passes (see `passes.ts`) on the wasm backend in
 * WebAssembly SIMD, four channels at a time, where the channels come in
 * fours and the activation is ReLU or none (the sigmoid, LeNet's alone,
 * keeps the JavaScript passes). Per-channel sums are taken in float32
 * over blocks of pixels and added into float64 totals between blocks, so
 * rounding stays that of a block.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { NormActivation } from "./passes.ts";
import {
  addressOf,
  advance,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  kernelModule,
  op,
  V128,
  vectorLoop,
} from "../wasm/simd_module.ts";
import { WasmWorkspace } from "../wasm/workspace.ts";

/** Pixels summed in float32 before their sums join the float64 totals. */
const BLOCK_PIXELS = 64;

/**
 * A function looping over `rows` pixels of `rowBytes` each (the last two
 * parameters), `body` run on each group of four channels at byte `at`;
 * the pointers `advancing` move to the next pixel after each.
 */
function pixelLoop(
  name: string,
  pointers: number,
  advancing: number[],
  body: (at: number, v: number) => Instruction[],
) {
  const [rowBytes, rows, at, v] = [pointers, pointers + 1, pointers + 2, pointers + 3];
  return {
    name,
    params: Array(pointers + 2).fill(I32),
    locals: [I32, V128],
    code: countedLoop({
      count: rows,
      body: [
        ...vectorLoop({ at, bytes: rowBytes, body: body(at, v) }),
        op.i32Const(0),
        op.localSet(at),
        ...advancing.flatMap((p) => advance(p, op.localGet(rowBytes))),
      ],
    }),
  };
}

/** The vector at pointer `p` plus the channel offset `at`. */
const load = (p: number, at: number): Instruction[] => [...addressOf(p, at), op.v128Load];

/** `target[at] += value`, value's instructions leaving one vector on the stack. */
const addInto = (target: number, at: number, value: Instruction[]): Instruction[] => [
  ...addressOf(target, at),
  ...load(target, at),
  ...value,
  op.f32x4Add,
  op.v128Store,
];

/** (x − mean), leaving it on the stack. */
const centred = (x: number, mean: number, at: number) => [
  ...load(x, at),
  ...load(mean, at),
  op.f32x4Sub,
];

/** Σx and Σx² per channel: moments(x, sums, squares, rowBytes, rows). */
const moments = pixelLoop("moments", 3, [0], (at, v) => [
  ...load(0, at),
  op.localSet(v),
  ...addInto(1, at, [op.localGet(v)]),
  ...addInto(2, at, [op.localGet(v), op.localGet(v), op.f32x4Mul]),
]);

/** y = (x − mean)·scale + β, then ReLU if asked: normalize(x, y, mean, scale, beta, …). */
function normalize(relu: boolean) {
  return pixelLoop(relu ? "normalizeRelu" : "normalize", 5, [0, 1], (at) => [
    ...addressOf(1, at),
    ...centred(0, 2, at),
    ...load(3, at),
    op.f32x4Mul,
    ...load(4, at),
    op.f32x4Add,
    ...(relu ? [op.f32Const(0), op.f32x4Splat, op.f32x4Max] : []),
    op.v128Store,
  ]);
}

/**
 * dz = dy through the activation, Σdz and Σdz·x̂ per channel:
 * gradientSums(dy, x, mean, inverseDeviation, scale, beta, dz, sumBeta,
 * sumGamma, …). ReLU's mask is the pre-activation's sign, recomputed as
 * the forward pass computed it.
 */
function gradientSums(relu: boolean) {
  const [dy, x, mean, inverse, scale, beta, dz, sumBeta, sumGamma] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const mask = (at: number): Instruction[] => [
    ...centred(x, mean, at),
    ...load(scale, at),
    op.f32x4Mul,
    ...load(beta, at),
    op.f32x4Add,
    op.f32Const(0),
    op.f32x4Splat,
    op.f32x4Gt,
    op.v128And,
  ];
  return pixelLoop(relu ? "gradientSumsRelu" : "gradientSums", 9, [dy, x, dz], (at, v) => [
    ...load(dy, at),
    ...(relu ? mask(at) : []),
    op.localSet(v),
    ...addressOf(dz, at),
    op.localGet(v),
    op.v128Store,
    ...addInto(sumBeta, at, [op.localGet(v)]),
    ...addInto(sumGamma, at, [
      op.localGet(v),
      ...centred(x, mean, at),
      ...load(inverse, at),
      op.f32x4Mul,
      op.f32x4Mul,
    ]),
  ]);
}

/**
 * dx = scale·(dz − mean(dβ) − x̂·mean(dγ)), in place over dz:
 * gradientRows(dz, x, mean, inverseDeviation, scale, meanBeta, meanGamma, …).
 */
const gradientRows = pixelLoop("gradientRows", 7, [0, 1], (at) => [
  ...addressOf(0, at),
  ...load(0, at),
  ...load(5, at),
  op.f32x4Sub,
  ...centred(1, 2, at),
  ...load(3, at),
  op.f32x4Mul,
  ...load(6, at),
  op.f32x4Mul,
  op.f32x4Sub,
  ...load(4, at),
  op.f32x4Mul,
  op.v128Store,
]);

const BATCH_NORM_MODULE = kernelModule([
  moments,
  normalize(false),
  normalize(true),
  gradientSums(false),
  gradientSums(true),
  gradientRows,
]);

type Pass = (...pointersRowBytesRows: number[]) => void;

/** The passes, or undefined where they do not apply (channels not in fours, the sigmoid). */
export function simdPasses(
  backend: tf.KernelBackend,
  channels: number,
  activation: NormActivation,
): SimdBatchNorm | undefined {
  if (channels % 4 !== 0 || activation === "sigmoid") return undefined;
  const work = new WasmWorkspace(backend);
  const exports = heapKernels(work.heap, BATCH_NORM_MODULE);
  return exports && new SimdBatchNorm(backend, exports as Record<string, Pass>, activation);
}

/** Per-channel float32 sums of blocks of pixels, added into float64 totals between blocks. */
function blockedSums(
  pixels: number,
  targets: Float32Array[],
  run: (first: number, count: number) => void,
): Float64Array[] {
  const totals = targets.map((t) => new Float64Array(t.length));
  for (let first = 0; first < pixels; first += BLOCK_PIXELS) {
    for (const target of targets) target.fill(0);
    run(first, Math.min(BLOCK_PIXELS, pixels - first));
    targets.forEach((target, k) => target.forEach((value, c) => totals[k][c] += value));
  }
  return totals;
}

/** The three kernels' work on the wasm heap, by the SIMD passes. */
export class SimdBatchNorm {
  constructor(
    private readonly backend: tf.KernelBackend,
    private readonly passes: Record<string, Pass>,
    private readonly activation: NormActivation,
  ) {}

  /** Each channel's mean and biased variance of `x` into `mean` and `variance`. */
  moments(x: tf.TensorInfo, mean: tf.TensorInfo, variance: tf.TensorInfo): void {
    const channels = x.shape[x.shape.length - 1];
    const work = new WasmWorkspace(this.backend);
    const [sums, squares] = work.planes(2, [channels]);
    const [xv, sv, qv, mv, vv] = work.views([x, sums, squares, mean, variance]);
    const pixels = xv.length / channels;
    const [total, totalSquares] = blockedSums(
      pixels,
      [sv, qv],
      (first, count) =>
        this.passes.moments(
          xv.byteOffset + 4 * first * channels,
          sv.byteOffset,
          qv.byteOffset,
          4 * channels,
          count,
        ),
    );
    for (let c = 0; c < channels; c++) {
      const m = total[c] / pixels;
      mv[c] = m;
      vv[c] = Math.max(totalSquares[c] / pixels - m * m, 0);
    }
    work.release();
  }

  /** activation((x − mean)·inverseDeviation·γ + β) into `y`. */
  normalize(
    tensors: Record<"x" | "y" | "mean" | "inverseDeviation" | "gamma" | "beta", tf.TensorInfo>,
  ) {
    const { x, y, mean, inverseDeviation, gamma, beta } = tensors;
    const channels = x.shape[x.shape.length - 1];
    const work = new WasmWorkspace(this.backend);
    const scale = work.temporary([channels]);
    const [xv, yv, mv, iv, gv, bv, sv] = work.views([
      x,
      y,
      mean,
      inverseDeviation,
      gamma,
      beta,
      scale,
    ]);
    sv.set(Float32Array.from(gv, (g, c) => g * iv[c]));
    const pass = this.activation === "relu" ? this.passes.normalizeRelu : this.passes.normalize;
    pass(
      xv.byteOffset,
      yv.byteOffset,
      mv.byteOffset,
      sv.byteOffset,
      bv.byteOffset,
      4 * channels,
      xv.length / channels,
    );
    work.release();
  }

  /** dx, dγ and dβ for dy at the output of {@link normalize} (see `normalizeGradients`). */
  gradients(
    tensors: Record<
      "dy" | "x" | "mean" | "inverseDeviation" | "gamma" | "beta" | "dx" | "dGamma" | "dBeta",
      tf.TensorInfo
    >,
  ): void {
    const { dy, x, mean, inverseDeviation, gamma, beta, dx, dGamma, dBeta } = tensors;
    const channels = x.shape[x.shape.length - 1];
    const work = new WasmWorkspace(this.backend);
    const [scale, sumBeta, sumGamma, meanBeta, meanGamma] = work.planes(5, [channels]);
    const views = work.views([
      dy,
      x,
      mean,
      inverseDeviation,
      gamma,
      beta,
      dx,
      scale,
      sumBeta,
      sumGamma,
      meanBeta,
      meanGamma,
      dGamma,
      dBeta,
    ]);
    const [dyv, xv, mv, iv, gv, bv, dxv, sv, sbv, sgv, mbv, mgv, dgv, dbv] = views;
    sv.set(Float32Array.from(gv, (g, c) => g * iv[c]));
    const pixels = xv.length / channels;
    const rowBytes = 4 * channels;
    const sums = this.activation === "relu"
      ? this.passes.gradientSumsRelu
      : this.passes.gradientSums;
    const [betaTotals, gammaTotals] = blockedSums(pixels, [sbv, sgv], (first, count) => {
      const at = 4 * first * channels;
      sums(
        dyv.byteOffset + at,
        xv.byteOffset + at,
        mv.byteOffset,
        iv.byteOffset,
        sv.byteOffset,
        bv.byteOffset,
        dxv.byteOffset + at,
        sbv.byteOffset,
        sgv.byteOffset,
        rowBytes,
        count,
      );
    });
    mbv.set(Float32Array.from(betaTotals, (sum) => sum / pixels));
    mgv.set(Float32Array.from(gammaTotals, (sum) => sum / pixels));
    this.passes.gradientRows(
      dxv.byteOffset,
      xv.byteOffset,
      mv.byteOffset,
      iv.byteOffset,
      sv.byteOffset,
      mbv.byteOffset,
      mgv.byteOffset,
      rowBytes,
      pixels,
    );
    dgv.set(gammaTotals);
    dbv.set(betaTotals);
    work.release();
  }
}
