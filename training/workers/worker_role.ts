/**
 * Whether this thread is a gradient helper. A bundle (or compiled binary)
 * holds one file of code, so its helpers are started from that same file;
 * the name tells its code to serve as a helper instead of running the CLI.
 *
 * @module
 */

/** The name helper workers are started with. */
export const GRADIENT_WORKER_NAME = "fashion-webgpu-gradient-helper";

/** True inside a gradient helper worker. */
export function isGradientWorker(): boolean {
  return (globalThis as { name?: string }).name === GRADIENT_WORKER_NAME;
}
