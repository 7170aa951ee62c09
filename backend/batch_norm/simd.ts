/**
 * Batch normalisation's passes (see `passes.ts`) on the wasm backend in
 * WebAssembly SIMD. The per-channel vectors are repeated to a period of
 * lcm(channels, 4) floats, so that any channel count runs four floats at a
 * time: a row of the loops is one pixel where the channels come in fours,
 * two for LeNet's 6, four for odd counts. The sigmoid runs in SIMD too
 * (`wasm/activation/sigmoid.ts`). Per-channel sums are taken in float32 over blocks of
 * rows and added into float64 totals between blocks, so rounding stays that
 * of a block.
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
  vectorPeriod,
} from "../wasm/simd_module.ts";
import { sigmoid, SIGMOID_LOCALS, sigmoidSetup } from "../wasm/activation/sigmoid.ts";
import { WasmWorkspace } from "../wasm/workspace.ts";

/** Rows summed in float32 before their sums join the float64 totals. */
const BLOCK_ROWS = 64;

/**
 * The vector locals a loop's body may use: the value it carries, zero
 * (a local never set, as wasm starts every local at zero) and the
 * sigmoid's first.
 */
interface VectorLocals {
  v: number;
  zero: number;
  sigmoid: number;
}

/**
 * A function looping over `rows` rows of `rowBytes` each (the last two
 * parameters), `body` run on each vector of four floats at byte `at`;
 * the pointers `advancing` move to the next row after each. A body that
 * computes the sigmoid says so (`sigmoid`): its constants are set first.
 */
function rowLoop(
  name: string,
  loop: { pointers: number; advancing: number[]; sigmoid?: boolean },
  body: (at: number, locals: VectorLocals) => Instruction[],
) {
  const { pointers, advancing } = loop;
  const [rowBytes, rows, at, v, zero] = [...Array(5).keys()].map((i) => pointers + i);
  return {
    name,
    params: Array(pointers + 2).fill(I32),
    locals: [I32, V128, V128, ...Array(loop.sigmoid ? SIGMOID_LOCALS : 0).fill(V128)],
    code: [
      ...(loop.sigmoid ? sigmoidSetup(zero + 1) : []),
      ...countedLoop({
        count: rows,
        body: [
          ...vectorLoop({ at, bytes: rowBytes, body: body(at, { v, zero, sigmoid: zero + 1 }) }),
          op.i32Const(0),
          op.localSet(at),
          ...advancing.flatMap((p) => advance(p, op.localGet(rowBytes))),
        ],
      }),
    ],
  };
}

/** The vector at pointer `p` plus the offset `at`. */
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

/** The pre-activation z = (x − mean)·scale + β on the stack. */
const normalised = (at: number, p: { x: number; mean: number; scale: number; beta: number }) => [
  ...centred(p.x, p.mean, at),
  ...load(p.scale, at),
  op.f32x4Mul,
  ...load(p.beta, at),
  op.f32x4Add,
];

const ACTIVATIONS: NormActivation[] = ["linear", "relu", "sigmoid"];

/** The activation of the vector on the stack, in its place. */
function activate(activation: NormActivation, locals: VectorLocals): Instruction[] {
  if (activation === "relu") return [op.localGet(locals.zero), op.f32x4Pmax];
  return activation === "sigmoid" ? sigmoid(locals.sigmoid) : [];
}

/**
 * dz, dy at `dy` through the activation's gradient, on the stack: ReLU's
 * mask is the pre-activation's sign, recomputed as the forward pass
 * computed it; the sigmoid's gradient is y·(1 − y) of its output at `y`.
 */
function activationGradient(
  activation: NormActivation,
  at: number,
  p: { dy: number; x: number; y: number; mean: number; scale: number; beta: number },
  locals: VectorLocals,
): Instruction[] {
  if (activation === "linear") return load(p.dy, at);
  if (activation === "relu") {
    const zero = op.localGet(locals.zero);
    return [...normalised(at, p), zero, op.f32x4Gt, ...load(p.dy, at), op.v128And];
  }
  const { v } = locals;
  return [
    ...load(p.y, at),
    op.localTee(v),
    ...[op.f32Const(1), op.f32x4Splat, op.localGet(v), op.f32x4Sub, op.f32x4Mul],
    ...load(p.dy, at),
    op.f32x4Mul,
  ];
}

/** Σx and Σx² per position of the period: moments(x, sums, squares, rowBytes, rows). */
const moments = rowLoop("moments", { pointers: 3, advancing: [0] }, (at, { v }) => [
  ...load(0, at),
  op.localSet(v),
  ...addInto(1, at, [op.localGet(v)]),
  ...addInto(2, at, [op.localGet(v), op.localGet(v), op.f32x4Mul]),
]);

/** y = activation((x − mean)·scale + β): normalize_ACTIVATION(x, y, mean, scale, beta, …). */
function normalize(activation: NormActivation) {
  const loop = { pointers: 5, advancing: [0, 1], sigmoid: activation === "sigmoid" };
  return rowLoop(`normalize_${activation}`, loop, (at, locals) => [
    ...addressOf(1, at),
    ...normalised(at, { x: 0, mean: 2, scale: 3, beta: 4 }),
    ...activate(activation, locals),
    op.v128Store,
  ]);
}

/**
 * dz = dy through the activation, Σdz and Σdz·x̂ per position:
 * gradientSums_ACTIVATION(dy, x, mean, inverseDeviation, scale, beta, dz,
 * sumBeta, sumGamma, y, …), y the sigmoid's output (unread by the others).
 */
function gradientSums(activation: NormActivation) {
  const [dy, x, mean, inverse, scale, beta, dz, sumBeta, sumGamma, y] = [...Array(10).keys()];
  const name = `gradientSums_${activation}`;
  const advancing = activation === "sigmoid" ? [dy, x, dz, y] : [dy, x, dz];
  return rowLoop(name, { pointers: 10, advancing }, (at, locals) => [
    ...activationGradient(activation, at, { dy, x, y, mean, scale, beta }, locals),
    op.localSet(locals.v),
    ...addressOf(dz, at),
    op.localGet(locals.v),
    op.v128Store,
    ...addInto(sumBeta, at, [op.localGet(locals.v)]),
    ...addInto(sumGamma, at, [
      op.localGet(locals.v),
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
const gradientRows = rowLoop("gradientRows", { pointers: 7, advancing: [0, 1] }, (at) => [
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
  ...ACTIVATIONS.map(normalize),
  ...ACTIVATIONS.map(gradientSums),
  gradientRows,
]);

type Pass = (...pointersRowBytesRows: number[]) => void;

/** How a tensor's pixels are cut into rows of whole periods. */
interface Rows {
  channels: number;
  /** lcm(channels, 4): the floats of a row. */
  period: number;
  rows: number;
}

/** The rows of `x`, or undefined where its pixels do not fill whole periods. */
function rowsOf(x: tf.TensorInfo): Rows | undefined {
  const channels = x.shape[x.shape.length - 1];
  const pixels = x.shape.reduce((a, b) => a * b, 1) / channels;
  const period = vectorPeriod(channels);
  const pixelsPerRow = period / channels;
  if (pixels % pixelsPerRow !== 0) return undefined;
  return { channels, period, rows: pixels / pixelsPerRow };
}

/** The passes for `x`, or undefined where they do not apply (see {@link rowsOf}). */
export function simdPasses(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  activation: NormActivation,
): SimdBatchNorm | undefined {
  const rows = rowsOf(x);
  if (rows === undefined) return undefined;
  const work = new WasmWorkspace(backend);
  const exports = heapKernels(work.heap, BATCH_NORM_MODULE);
  return exports && new SimdBatchNorm(backend, exports as Record<string, Pass>, activation, rows);
}

/** `values` (one per channel) repeated over `target`, a period long. */
function repeatInto(target: Float32Array, values: ArrayLike<number>): Float32Array {
  for (let k = 0; k < target.length; k++) target[k] = values[k % values.length];
  return target;
}

/** Per-position float32 sums of blocks of rows, added into float64 totals per channel. */
function blockedSums(
  layout: Rows,
  targets: Float32Array[],
  run: (first: number, count: number) => void,
): Float64Array[] {
  const totals = targets.map(() => new Float64Array(layout.channels));
  for (let first = 0; first < layout.rows; first += BLOCK_ROWS) {
    for (const target of targets) target.fill(0);
    run(first, Math.min(BLOCK_ROWS, layout.rows - first));
    for (let k = 0; k < targets.length; k++) {
      const [target, total] = [targets[k], totals[k]];
      for (let p = 0; p < target.length; p++) total[p % layout.channels] += target[p];
    }
  }
  return totals;
}

/** The three kernels' work on the wasm heap, by the SIMD passes. */
export class SimdBatchNorm {
  constructor(
    private readonly backend: tf.KernelBackend,
    private readonly passes: Record<string, Pass>,
    private readonly activation: NormActivation,
    private readonly layout: Rows,
  ) {}

  /** Each channel's mean and biased variance of `x` into `mean` and `variance`. */
  moments(x: tf.TensorInfo, mean: tf.TensorInfo, variance: tf.TensorInfo): void {
    const { channels, period, rows } = this.layout;
    const work = new WasmWorkspace(this.backend);
    const [sums, squares] = work.planes(2, [period]);
    const [xv, sv, qv, mv, vv] = work.views([x, sums, squares, mean, variance]);
    const [total, totalSquares] = blockedSums(
      this.layout,
      [sv, qv],
      (first, count) =>
        this.passes.moments(
          xv.byteOffset + 4 * first * period,
          sv.byteOffset,
          qv.byteOffset,
          4 * period,
          count,
        ),
    );
    const pixels = rows * (period / channels);
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
    const { period, rows } = this.layout;
    const work = new WasmWorkspace(this.backend);
    const periodic = work.planes(3, [period]);
    const [xv, yv, mv, iv, gv, bv, ...planes] = work.views([
      x,
      y,
      mean,
      inverseDeviation,
      gamma,
      beta,
      ...periodic,
    ]);
    const [meanRow, scaleRow, betaRow] = planes;
    repeatInto(meanRow, mv);
    repeatInto(scaleRow, Float32Array.from(gv, (g, c) => g * iv[c]));
    repeatInto(betaRow, bv);
    this.passes[`normalize_${this.activation}`](
      xv.byteOffset,
      yv.byteOffset,
      meanRow.byteOffset,
      scaleRow.byteOffset,
      betaRow.byteOffset,
      4 * period,
      rows,
    );
    work.release();
  }

  /**
   * dx, dγ and dβ for dy at the output `y` of {@link normalize} (see
   * `normalizeGradients`; `y` only for the sigmoid).
   */
  gradients(
    tensors:
      & Record<
        "dy" | "x" | "mean" | "inverseDeviation" | "gamma" | "beta" | "dx" | "dGamma" | "dBeta",
        tf.TensorInfo
      >
      & { y?: tf.TensorInfo },
  ): void {
    const { dy, x, y, mean, inverseDeviation, gamma, beta, dx, dGamma, dBeta } = tensors;
    if (this.activation === "sigmoid" && y === undefined) {
      throw new Error("the sigmoid's gradient needs its output");
    }
    const work = new WasmWorkspace(this.backend);
    const periodic = work.planes(8, [this.layout.period]);
    const [dyv, xv, mv, iv, gv, bv, dxv, dgv, dbv, ...planes] = work.views([
      dy,
      x,
      mean,
      inverseDeviation,
      gamma,
      beta,
      dx,
      dGamma,
      dBeta,
      ...periodic,
    ]);
    const [meanRow, inverseRow, scaleRow, betaRow] = planes;
    repeatInto(meanRow, mv);
    repeatInto(inverseRow, iv);
    repeatInto(scaleRow, Float32Array.from(gv, (g, c) => g * iv[c]));
    repeatInto(betaRow, bv);
    const rows = { mean: meanRow, inverse: inverseRow, scale: scaleRow, beta: betaRow };
    const maps = { dy: dyv, x: xv, y: y && work.views([y])[0], dz: dxv };
    const [betaTotals, gammaTotals] = this.gradientSums(maps, rows, planes);
    this.gradientRows({ dz: dxv, x: xv }, rows, { betaTotals, gammaTotals, planes });
    dgv.set(gammaTotals);
    dbv.set(betaTotals);
    work.release();
  }

  /** dz into `maps.dz` and the per-channel totals of dz and dz·x̂, blocks of rows at a time. */
  private gradientSums(
    maps: Record<"dy" | "x" | "dz", Float32Array> & { y?: Float32Array },
    rows: Record<"mean" | "inverse" | "scale" | "beta", Float32Array>,
    planes: Float32Array[],
  ): Float64Array[] {
    const [sumBeta, sumGamma] = planes.slice(4, 6);
    const rowBytes = 4 * this.layout.period;
    return blockedSums(this.layout, [sumBeta, sumGamma], (first, count) => {
      const at = first * rowBytes;
      this.passes[`gradientSums_${this.activation}`](
        maps.dy.byteOffset + at,
        maps.x.byteOffset + at,
        rows.mean.byteOffset,
        rows.inverse.byteOffset,
        rows.scale.byteOffset,
        rows.beta.byteOffset,
        maps.dz.byteOffset + at,
        sumBeta.byteOffset,
        sumGamma.byteOffset,
        maps.y ? maps.y.byteOffset + at : 0, // Read by the sigmoid's kernel only.
        rowBytes,
        count,
      );
    });
  }

  /** dz turned into dx in place, from the totals of {@link gradientSums}. */
  private gradientRows(
    maps: Record<"dz" | "x", Float32Array>,
    rows: Record<"mean" | "inverse" | "scale", Float32Array>,
    sums: { betaTotals: Float64Array; gammaTotals: Float64Array; planes: Float32Array[] },
  ): void {
    const { channels, period } = this.layout;
    const pixels = this.layout.rows * (period / channels);
    const [meanBeta, meanGamma] = sums.planes.slice(6, 8);
    repeatInto(meanBeta, Array.from(sums.betaTotals, (sum) => sum / pixels));
    repeatInto(meanGamma, Array.from(sums.gammaTotals, (sum) => sum / pixels));
    this.passes.gradientRows(
      maps.dz.byteOffset,
      maps.x.byteOffset,
      rows.mean.byteOffset,
      rows.inverse.byteOffset,
      rows.scale.byteOffset,
      meanBeta.byteOffset,
      meanGamma.byteOffset,
      4 * period,
      this.layout.rows,
    );
  }
}
