/**
 * `--blas` applied: the BLAS this thread (and the gradient workers it
 * starts) will use, opened before anything else so that a bad value stops
 * the command at once, in one line.
 *
 * @module
 */
import { BlasError, chooseBlas } from "../backend/wasm/blas.ts";
import { InputError } from "../errors.ts";
import { grantingCommandLine } from "./permissions/grant_line.ts";

/**
 * Opens the BLAS that `--blas` names. A library the FFI permission does not
 * cover gets the command that grants it; any other unusable path a
 * `BlasError`, which the command reports under `--blas`.
 */
export function applyBlasFlag(value: string, command: { task: string; args: string[] }): void {
  try {
    chooseBlas(value);
  } catch (error) {
    if (!(error instanceof BlasError && error.problem === "not granted")) throw error;
    throw new InputError(
      `--blas ${value}: the FFI permission does not cover it; run instead: ${
        grantingCommandLine(command.task, error.path, command.args)
      }`,
    );
  }
}
