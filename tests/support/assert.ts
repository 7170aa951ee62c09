import { deepStrictEqual, ok } from "node:assert/strict";

/** Deep, strict equality (node's `deepStrictEqual`). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** Fails unless `condition` holds. */
export function assert(condition: unknown, message?: string): asserts condition {
  ok(condition, message);
}

/** Fails unless `|actual − expected| ≤ tolerance`. */
export function assertClose(
  actual: number,
  expected: number,
  tolerance: number,
  what = "value",
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(
      `${what}: ${actual} differs from ${expected} by more than ${tolerance}`,
    );
  }
}

type ErrorClass<E extends Error> = new (...args: never[]) => E;

/** Awaits `run`, fails unless it rejects with an instance of `type`, and returns that error. */
export async function assertRejects<E extends Error>(
  run: () => Promise<unknown>,
  type: ErrorClass<E>,
): Promise<E> {
  try {
    await run();
  } catch (error) {
    if (error instanceof type) return error;
    throw new Error(`expected ${type.name}, got ${error}`);
  }
  throw new Error(`expected ${type.name}, but it resolved`);
}

/** Fails unless `run` throws an instance of `type`; returns that error. */
export function assertThrows<E extends Error>(
  run: () => unknown,
  type: ErrorClass<E>,
): E {
  try {
    run();
  } catch (error) {
    if (error instanceof type) return error;
    throw new Error(`expected ${type.name}, got ${error}`);
  }
  throw new Error(`expected ${type.name}, but it returned`);
}

/** Largest |actual − expected| divided by the largest |expected| (the absolute error when that is 0). */
export { maxRelativeError as relativeError } from "../../bench/statistics.ts";
