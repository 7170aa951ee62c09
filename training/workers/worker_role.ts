/**
 * Whether this thread is a gradient worker. A bundle (or compiled binary)
 * holds one file of code, so its workers are started from that same file;
 * the name tells its code to serve as a worker instead of running the CLI.
 *
 * @module
 */

/** The name gradient workers are started with. */
export const GRADIENT_WORKER_NAME = "fashion-webgpu-gradient-worker";

/** True inside a gradient worker. */
export function isGradientWorker(): boolean {
  return (globalThis as { name?: string }).name === GRADIENT_WORKER_NAME;
}
