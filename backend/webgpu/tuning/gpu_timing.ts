/**
 * Times kernels on the WebGPU backend (for the split tuning and the
 * benchmarks): the wall clock over several runs submitted together, and
 * the GPU's own time from timestamp queries where the device has them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The backend's queue, flushed and awaited. */
export async function finishGpuWork(): Promise<void> {
  const backend = tf.backend() as unknown as {
    submitQueue(): void;
    commandEncoder: unknown;
    device: GPUDevice;
  };
  if (backend.commandEncoder) backend.submitQueue();
  await backend.device.queue.onSubmittedWorkDone();
}

/** How long one run of a kernel took. */
export interface KernelTiming {
  /** Wall-clock milliseconds per run, the runs submitted back to back. */
  wallMs: number;
  /** GPU milliseconds per run by timestamp queries, or null without them. */
  gpuMs: number | null;
}

/**
 * Times `run` (which returns the tensors it made, disposed here): one run
 * first (shader compilation, buffer allocation), then `repeats` runs.
 */
export async function timeKernel(
  run: () => tf.Tensor | tf.Tensor[],
  repeats: number,
): Promise<KernelTiming> {
  tf.dispose(run());
  await finishGpuWork();
  const started = performance.now();
  const timing = await tf.time(() => {
    for (let i = 0; i < repeats; i++) tf.dispose(run());
  });
  await finishGpuWork();
  const wallMs = (performance.now() - started) / repeats;
  const kernelMs = typeof timing.kernelMs === "number" ? timing.kernelMs : 0;
  const gpuMs = kernelMs > 0 ? kernelMs / repeats : null;
  return { wallMs, gpuMs };
}
