/**
 * Keeps each BLAS call on the thread that makes it. The wasm path already
 * runs one thread per core (the main thread and its gradient workers, each
 * calling the BLAS for its share of a step); a BLAS that also split every
 * call among the cores would run two threads per core, each evicting the
 * other's cache. Each library has its own control:
 *
 * - OpenBLAS: `openblas_set_num_threads(1)`, whatever its build (pthread,
 *   OpenMP or serial, where it does nothing).
 * - BLIS: `bli_thread_set_num_threads(1)` (its pthread and OpenMP builds
 *   otherwise follow `BLIS_NUM_THREADS`).
 * - Accelerate: no call; it reads the environment variable
 *   `VECLIB_MAXIMUM_THREADS`, set to 1 here before the library opens
 *   unless it is set already (the tasks grant that variable).
 *
 * A library named by path gets whichever of the two calls it has.
 *
 * @module
 */

/** The thread controls looked up in every library (absent ones are null). */
export const THREAD_SYMBOLS = {
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  // BLIS counts threads in its dim_t, a 64-bit integer.
  bli_thread_set_num_threads: { parameters: ["i64"], result: "void", optional: true },
} as const;

/** The environment variable Accelerate (vecLib) reads for its thread count. */
export const ACCELERATE_THREADS_VARIABLE = "VECLIB_MAXIMUM_THREADS";

/** The thread controls as a library's symbols hold them. */
type ThreadControls = Deno.StaticForeignLibraryInterface<typeof THREAD_SYMBOLS>;

/** Sets Accelerate's variable to 1 before it opens, where allowed and not set already. */
export function limitThreadsBeforeOpening(path: string): void {
  if (!path.includes("Accelerate.framework")) return;
  const variable = ACCELERATE_THREADS_VARIABLE;
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return;
  if (Deno.env.get(variable) === undefined) Deno.env.set(variable, "1");
}

/** Calls the library's own thread control, where it has one. */
export function limitThreadsAfterOpening(symbols: ThreadControls): void {
  symbols.openblas_set_num_threads?.(1);
  symbols.bli_thread_set_num_threads?.(1n);
}
