import * as tf from "@tensorflow/tfjs";

/** Time spent in one kind of kernel during a profiled run. */
export interface KernelTime {
  name: string;
  calls: number;
  milliseconds: number;
  /** Share of all kernel time. */
  share: number;
}

/**
 * Runs `work` under tfjs's profiler and sums the kernel times by kernel
 * name, largest first. On WebGPU each kernel is timed with GPU timestamp
 * queries when the device has them; on the CPU backend by the wall clock.
 * The profiler runs kernels one at a time, so the total exceeds a normal step.
 */
export async function profileKernels(
  work: () => tf.TensorContainer | Promise<tf.TensorContainer>,
): Promise<KernelTime[]> {
  const info = await tf.profile(work);
  tf.dispose(info.result);
  const byName = new Map<string, { calls: number; milliseconds: number }>();
  for (const kernel of info.kernels) {
    const time = await kernel.kernelTimeMs;
    const milliseconds = typeof time === "number" ? time : 0;
    const entry = byName.get(kernel.name) ?? { calls: 0, milliseconds: 0 };
    byName.set(kernel.name, {
      calls: entry.calls + 1,
      milliseconds: entry.milliseconds + milliseconds,
    });
  }
  const total = [...byName.values()].reduce((sum, entry) => sum + entry.milliseconds, 0);
  return [...byName.entries()]
    .map(([name, entry]) => ({ name, ...entry, share: total > 0 ? entry.milliseconds / total : 0 }))
    .sort((a, b) => b.milliseconds - a.milliseconds);
}
