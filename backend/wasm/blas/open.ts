/**
 * Opens one CBLAS library by path through Deno's FFI, or says in one line
 * why it cannot: there is no file, the file is not a library, the FFI
 * permission does not cover the path, or the library has no `cblas_sgemm`.
 * The library is told to compute each call on the calling thread alone
 * (see `threads.ts`).
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { SettingError } from "../../../errors.ts";
import { type LibraryFileKind, libraryFileKind } from "./library_file.ts";
import { limitThreadsAfterOpening, limitThreadsBeforeOpening, THREAD_SYMBOLS } from "./threads.ts";

/** The symbols looked up: `cblas_sgemm`, and each library's thread control. */
export const BLAS_SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
    // Looked up as optional so that a library without it gets its own message.
    optional: true,
  },
  ...THREAD_SYMBOLS,
} as const;

/** An opened library, as `Deno.dlopen` gives it. */
export type BlasHandle = Deno.DynamicLibrary<typeof BLAS_SYMBOLS>;

/** Why a library could not be opened. */
export type BlasProblem = "not granted" | "not found" | "not a library" | "no cblas_sgemm";

/**
 * A library that cannot serve as the BLAS, as the `blas` setting (the
 * command line reports it under `--blas`).
 */
export class BlasError extends SettingError {
  /** An error about the library at `path`. */
  constructor(
    /** The library's path (absolute). */
    readonly path: string,
    /** What is wrong with it. */
    readonly problem: BlasProblem,
    /** Why it cannot serve, and what to give instead. */
    reason: string,
  ) {
    super("blas", path, reason);
    this.name = "BlasError";
  }
}

/** What to try instead of a library that is not a CBLAS one. */
const INSTEAD = "give OpenBLAS's, BLIS's or Accelerate's path, or auto to search the usual places";

/** `path` made absolute, so that Deno's permission check and `dlopen` see the same file. */
export function absoluteBlasPath(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}

/**
 * Opens the library at `path` (absolute) and limits it to one thread per
 * call; throws a `BlasError` saying why where it cannot.
 */
export function openBlasLibrary(path: string): BlasHandle {
  const kind = libraryFileKind(path);
  if (kind === "other") {
    throw new BlasError(path, "not a library", `not a shared library; ${INSTEAD}`);
  }
  // Asking first: without the permission, dlopen would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") {
    if (kind === "missing") throw notFound(path);
    throw new BlasError(path, "not granted", "the FFI permission does not cover it");
  }
  limitThreadsBeforeOpening(path);
  const handle = open(path, kind);
  if (handle.symbols.cblas_sgemm === null) {
    handle.close();
    throw new BlasError(path, "no cblas_sgemm", `has no cblas_sgemm, so no CBLAS; ${INSTEAD}`);
  }
  limitThreadsAfterOpening(handle.symbols);
  return handle;
}

/** `dlopen`: a missing file may still open (macOS keeps its frameworks in the dyld cache). */
function open(path: string, kind: LibraryFileKind): BlasHandle {
  try {
    return Deno.dlopen(path, BLAS_SYMBOLS);
  } catch (error) {
    if (kind === "missing") throw notFound(path);
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new BlasError(path, "not a library", `not a shared library (${why}); ${INSTEAD}`);
  }
}

function notFound(path: string): BlasError {
  return new BlasError(path, "not found", `no such file (${INSTEAD})`);
}

/**
 * The library's name, known by its thread control (OpenBLAS, BLIS) or its
 * path (Accelerate), else its file's name. Not its version: reading the
 * C strings that report it takes Deno's whole FFI permission, which the
 * tasks do not grant.
 */
export function blasName(handle: BlasHandle, path: string): string {
  const { openblas_set_num_threads, bli_thread_set_num_threads } = handle.symbols;
  if (openblas_set_num_threads) return "OpenBLAS";
  if (bli_thread_set_num_threads) return "BLIS";
  if (path.includes("Accelerate.framework")) return "Accelerate";
  return path.split(/[\\/]/).pop() ?? path;
}
