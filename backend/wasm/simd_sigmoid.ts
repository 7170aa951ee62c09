/**
 * The logistic sigmoid in WebAssembly SIMD, which has no exponential:
 * e = exp(−|z|) by Cephes' single-precision method (z·log₂e rounded to n,
 * the remainder r = −|z| − n·ln 2 in two parts, exp(r) by its polynomial,
 * 2ⁿ as exponent bits), then 1 / (1 + e) where z ≥ 0 and e / (1 + e)
 * elsewhere. The exponent's argument is never positive, so nothing
 * overflows; the result is within a few units in the last place of
 * float32's.
 *
 * @module
 */
import { type Instruction, op } from "./simd_module.ts";

/** Below this, exp underflows past float32's smallest normal power of two. */
const LOWEST_EXPONENT = -87;
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

const splat = (value: number): Instruction[] => [op.f32Const(value), op.f32x4Splat];

/** exp(a) for a ≤ 0 in local `a` (a vector), on the stack; uses the vector locals `n` and `r`. */
function negativeExp(a: number, { n, r }: { n: number; r: number }): Instruction[] {
  const [first, ...rest] = EXP_POLYNOMIAL;
  return [
    op.localGet(a),
    ...splat(Math.LOG2E),
    op.f32x4Mul,
    op.f32x4Nearest,
    op.localSet(n),
    ...[op.localGet(a), op.localGet(n), ...splat(LN2_HIGH), op.f32x4Mul, op.f32x4Sub],
    ...[op.localGet(n), ...splat(LN2_LOW), op.f32x4Mul, op.f32x4Sub],
    op.localSet(r),
    ...splat(first),
    ...rest.flatMap((c) => [op.localGet(r), op.f32x4Mul, ...splat(c), op.f32x4Add]),
    ...[op.localGet(r), op.localGet(r), op.f32x4Mul, op.f32x4Mul],
    ...[op.localGet(r), op.f32x4Add, ...splat(1), op.f32x4Add],
    // 2ⁿ: n + 127 in the exponent's bits.
    ...[op.localGet(n), op.i32x4TruncSatF32x4S, op.i32Const(127), op.i32x4Splat, op.i32x4Add],
    ...[op.i32Const(23), op.i32x4Shl, op.f32x4Mul],
  ];
}

/**
 * σ(z) for the vector on the stack, leaving σ(z) in its place; uses four
 * vector locals of the caller's, `scratch`.
 */
export function sigmoid(scratch: [number, number, number, number]): Instruction[] {
  const [z, a, n, r] = scratch;
  return [
    op.localTee(z),
    op.f32x4Abs,
    op.f32x4Neg,
    ...splat(LOWEST_EXPONENT),
    op.f32x4Max,
    op.localSet(a),
    ...negativeExp(a, { n, r }),
    op.localSet(a),
    // n = 1 / (1 + e); σ is e·n where z < 0, n elsewhere.
    ...[...splat(1), op.localGet(a), ...splat(1), op.f32x4Add, op.f32x4Div, op.localSet(n)],
    ...[op.localGet(a), op.localGet(n), op.f32x4Mul, op.localGet(n)],
    ...[op.localGet(z), ...splat(0), op.f32x4Lt, op.v128Bitselect],
  ];
}
