/**
 * The logistic sigmoid in WebAssembly SIMD, which has no exponential:
 * e = exp(−|z|) by Cephes' single-precision method (z·log₂e rounded to n,
 * the remainder r = −|z| − n·ln 2 in two parts, exp(r) by its polynomial,
 * 2ⁿ as exponent bits), then 1 / (1 + e) where z ≥ 0 and e / (1 + e)
 * elsewhere. The exponent's argument is never positive, so nothing
 * overflows; the result is within two units in the last place of
 * float32's. Its constants live in locals set once before a kernel's loop
 * (splatting them in the loop made it 1.6 times as slow), and it avoids
 * the operations V8 expands on x86: −|z| sets the sign bit (abs and neg
 * take a mask each), the clamp is pmax (max takes eight instructions).
 *
 * @module
 */
import { type Instruction, op } from "../simd_module.ts";

/** Below this, exp underflows past float32's smallest normal power of two. */
const LOWEST_EXPONENT = -87;
/**
 * Adding this rounds a float of magnitude under 2²² to an integer, which
 * its low mantissa bits then hold (1.5·2²³: the sum keeps the exponent).
 */
const ROUNDING = 12582912;
/** ln 2 in two parts, the first exact in few bits, so n·ln 2 is subtracted without rounding. */
const LN2_HIGH = 0.693359375;
const LN2_LOW = -2.12194440e-4;
/** Cephes' coefficients of exp(r) = 1 + r + r²·p(r), highest first. */
const EXP_POLYNOMIAL = [
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
];

/** −0: as a vector, the sign bits alone. */
const SIGN = -0;

const CONSTANTS = [
  LOWEST_EXPONENT,
  Math.LOG2E,
  ROUNDING,
  LN2_HIGH,
  LN2_LOW,
  ...EXP_POLYNOMIAL,
  1,
  0,
  SIGN,
];

/**
 * ROUNDING's bits less float32's exponent bias: subtracted from n + ROUNDING
 * as integers, it leaves n + 127 in the bits that become the exponent of 2ⁿ.
 */
const EXPONENT_OFFSET = 0x4b400000 - 127;

/** Vector locals the sigmoid takes from the first its caller gives it: scratch and constants. */
export const SIGMOID_LOCALS = 4 + CONSTANTS.length + 1;

/** The sigmoid's constants into their locals (from `first` + 4): run once, before the kernel's loop. */
export function sigmoidSetup(first: number): Instruction[] {
  const locals = new SigmoidLocals(first);
  return [
    ...CONSTANTS.flatMap((c) => [op.f32Const(c), op.f32x4Splat, op.localSet(locals.of(c))]),
    ...[op.i32Const(EXPONENT_OFFSET), op.i32x4Splat, op.localSet(locals.exponentOffset)],
  ];
}

/** The sigmoid's locals: scratch vectors and the constants' vectors. */
class SigmoidLocals {
  constructor(readonly first: number) {}

  /** The `i`-th scratch vector local. */
  scratch(i: number): number {
    return this.first + i;
  }

  /** The local of `value`'s vector (one of {@link CONSTANTS}). */
  of(value: number): number {
    return this.first + 4 + CONSTANTS.findIndex((c) => Object.is(c, value));
  }

  /** The vector of `value` (one of {@link CONSTANTS}) on the stack. */
  splat(value: number): Instruction {
    return op.localGet(this.of(value));
  }

  /** The local of {@link EXPONENT_OFFSET}'s integer vector. */
  get exponentOffset(): number {
    return this.first + 4 + CONSTANTS.length;
  }
}

/** exp(a) for a ≤ 0 in local `a` (a vector), on the stack. */
function negativeExp(a: number, locals: SigmoidLocals): Instruction[] {
  const [n, r] = [locals.scratch(2), locals.scratch(3)];
  const splat = (value: number) => locals.splat(value);
  const [first, ...rest] = EXP_POLYNOMIAL;
  return [
    // n + ROUNDING, whose bits less ROUNDING's are n as an integer.
    ...[op.localGet(a), splat(Math.LOG2E), op.f32x4Mul, splat(ROUNDING), op.f32x4Add],
    op.localTee(n),
    // r = a − n·ln 2, n as a float again.
    ...[splat(ROUNDING), op.f32x4Sub, op.localSet(r)],
    ...[op.localGet(a), op.localGet(r), splat(LN2_HIGH), op.f32x4Mul, op.f32x4Sub],
    ...[op.localGet(r), splat(LN2_LOW), op.f32x4Mul, op.f32x4Sub],
    op.localSet(r),
    splat(first),
    ...rest.flatMap((c) => [op.localGet(r), op.f32x4Mul, splat(c), op.f32x4Add]),
    ...[op.localGet(r), op.localGet(r), op.f32x4Mul, op.f32x4Mul],
    ...[op.localGet(r), op.f32x4Add, splat(1), op.f32x4Add],
    // 2ⁿ: n + 127 in the exponent's bits.
    ...[op.localGet(n), op.localGet(locals.exponentOffset), op.i32x4Sub],
    ...[op.i32Const(23), op.i32x4Shl, op.f32x4Mul],
  ];
}

/**
 * σ(z) for the vector on the stack, leaving σ(z) in its place; uses
 * {@link SIGMOID_LOCALS} vector locals from `first`, set up by
 * {@link sigmoidSetup}.
 */
export function sigmoid(first: number): Instruction[] {
  const locals = new SigmoidLocals(first);
  const [z, a] = [0, 1].map((i) => locals.scratch(i));
  const splat = (value: number) => locals.splat(value);
  return [
    op.localTee(z),
    splat(SIGN),
    op.v128Or,
    splat(LOWEST_EXPONENT),
    op.f32x4Pmax,
    op.localSet(a),
    ...negativeExp(a, locals),
    op.localSet(a),
    // σ = e / (1 + e) where z < 0, 1 / (1 + e) elsewhere.
    ...[op.localGet(a), splat(1), op.localGet(z), splat(0), op.f32x4Lt, op.v128Bitselect],
    ...[op.localGet(a), splat(1), op.f32x4Add, op.f32x4Div],
  ];
}
