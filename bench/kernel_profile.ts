import * as tf from "@tensorflow/tfjs";

/** Time spent in the calls of a kernel that produced one output shape (one layer, usually). */
export interface ShapeTime {
  /** The shape of the calls' first output. */
  shape: number[];
  calls: number;
  milliseconds: number;
}

/** Time spent in one kind of kernel during a profiled run. */
export interface KernelTime {
  name: string;
  calls: number;
  milliseconds: number;
  /** Share of all kernel time. */
  share: number;
  /** The same time by output shape, largest first. */
  byShape: ShapeTime[];
}

/** Adds one call of `milliseconds` to the entry under `key`. */
function addCall<T extends { calls: number; milliseconds: number }>(
  entries: Map<string, T>,
  key: string,
  fresh: () => T,
  milliseconds: number,
): void {
  const entry = entries.get(key) ?? fresh();
  entry.calls += 1;
  entry.milliseconds += milliseconds;
  entries.set(key, entry);
}

/**
 * Runs `work` under tfjs's profiler and sums the kernel times by kernel
 * name, largest first, and within each name by output shape. On WebGPU each
 * kernel is timed with GPU timestamp queries when the device has them; on
 * the CPU backends by the wall clock. The profiler runs kernels one at a
 * time, so the total exceeds a normal step.
 */
export async function profileKernels(
  work: () => tf.TensorContainer | Promise<tf.TensorContainer>,
): Promise<KernelTime[]> {
  const info = await tf.profile(work);
  tf.dispose(info.result);
  const byName = new Map<
    string,
    { calls: number; milliseconds: number; shapes: Map<string, ShapeTime> }
  >();
  const backend = tf.getBackend();
  for (const kernel of info.kernels) {
    // Ops with a custom gradient are listed too, under their scope's name,
    // timing the kernels they run: left out, so that no time counts twice.
    if (tf.getKernel(kernel.name, backend) === undefined) continue;
    const time = await kernel.kernelTimeMs;
    const milliseconds = typeof time === "number" ? time : 0;
    const shape = kernel.outputShapes[0] ?? [];
    const fresh = () => ({ calls: 0, milliseconds: 0, shapes: new Map<string, ShapeTime>() });
    addCall(byName, kernel.name, fresh, milliseconds);
    const shapes = byName.get(kernel.name)!.shapes;
    addCall(shapes, shape.join("x"), () => ({ shape, calls: 0, milliseconds: 0 }), milliseconds);
  }
  const total = [...byName.values()].reduce((sum, entry) => sum + entry.milliseconds, 0);
  const largestFirst = <T extends { milliseconds: number }>(a: T, b: T) =>
    b.milliseconds - a.milliseconds;
  return [...byName.entries()]
    .map(([name, { calls, milliseconds, shapes }]) => ({
      name,
      calls,
      milliseconds,
      share: total > 0 ? milliseconds / total : 0,
      byShape: [...shapes.values()].sort(largestFirst),
    }))
    .sort(largestFirst);
}
