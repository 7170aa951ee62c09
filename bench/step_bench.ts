/**
 * The timed parts of `bench`: the data pipeline, and training steps with
 * the first one apart, then one step's kernels profiled.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendInfo } from "../backend/backend_info.ts";
import type { Batch } from "../data/batches.ts";
import { resizeBatch } from "../data/resize.ts";
import { buildModel, type ModelName } from "../model/registry.ts";
import { createOptimizer } from "../training/optimizer.ts";
import { trainStep } from "../training/step.ts";
import { microBatchLimit, planStep } from "../training/step_plan.ts";
import { tuneSplitsForSteps } from "../backend/webgpu/tuning/split_tuning.ts";
import { workersFor } from "../training/workers/gradient_workers.ts";
import { learnableParameters } from "../model/summary.ts";
import { type KernelTime, profileKernels } from "./kernel_profile.ts";
import { finishGpuWork } from "../backend/webgpu/tuning/gpu_timing.ts";
import { median } from "./statistics.ts";

/** Kernels listed in the breakdown. */
const TOP_KERNELS = 12;

/** Kernels whose time is also listed by output shape (layer by layer). */
const KERNELS_BY_SHAPE = 4;

/** A batch of the shuffled training set, by index, for timing. */
export type BatchSource = (index: number) => Batch;

/** Times gathering, uploading and resizing `batches` batches; returns the median seconds per batch. */
export async function benchDataPipeline(batchAt: BatchSource, batches: number, resize: number) {
  const times: number[] = [];
  for (let i = 0; i <= batches; i++) {
    const t = performance.now();
    const batch = batchAt(i);
    const images = resizeBatch(batch.images, batch.count, resize);
    await images.data();
    images.dispose();
    if (i > 0) times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

/** Prints the kernel breakdown of one profiled step and returns its largest entries. */
function printKernels(kernels: KernelTime[]): unknown[] {
  console.log("kernel time of one profiled step (one thread, kernels run one at a time):");
  kernels.slice(0, TOP_KERNELS).forEach((kernel, rank) => {
    console.log(
      `  ${kernel.name.padEnd(28)} ${(kernel.milliseconds / 1000).toFixed(2).padStart(9)} s ${
        (100 * kernel.share).toFixed(1).padStart(5)
      }%  ${kernel.calls} calls`,
    );
    if (rank >= KERNELS_BY_SHAPE || kernel.byShape.length < 2) return;
    for (const { shape, milliseconds, calls } of kernel.byShape) {
      console.log(
        `    → ${shape.join("×").padEnd(24)} ${(milliseconds / 1000).toFixed(2).padStart(9)} s  ${
          calls === 1 ? "1 call" : `${calls} calls`
        }`,
      );
    }
  });
  return kernels.slice(0, TOP_KERNELS).map(({ byShape, ...kernel }, rank) =>
    rank < KERNELS_BY_SHAPE ? { ...kernel, byShape } : kernel
  );
}

/** What {@link benchSteps} times. */
export interface StepBench {
  model: ModelName;
  resize: number;
  batchSize: number;
  steps: number;
  backend: BackendInfo;
  batchAt: BatchSource;
  /** When the command started (for the time to the first step's end). */
  started: number;
  /** Threads sharing each step on wasm. */
  threads: number;
}

/** Times the first training step apart and `steps` more; then profiles one step's kernels. */
export async function benchSteps(bench: StepBench): Promise<Record<string, unknown>> {
  const { model, resize, batchSize, steps, backend, batchAt } = bench;
  const network = buildModel(model, { resize, seed: 0 });
  const limit = microBatchLimit(network, backend.maxBindingBytes);
  const context = {
    model: network,
    optimizer: createOptimizer("adam", 0.001),
    resize,
    microBatchLimit: limit,
  };
  const workers = await workersFor(backend, { model, resize, threads: bench.threads });
  const { shares } = planStep({
    batchSize,
    threads: 1 + (workers?.count ?? 0),
    microBatchLimit: limit,
    minShare: workers?.minShare,
  });
  console.log(
    `model: ${model}, ${learnableParameters(network).toLocaleString("en-US")} parameters; shares ${
      shares.map((share) => share.microBatches.join("+")).join(" | ")
    } on ${workers && shares.length > 1 ? workers.describe() : "one thread"}`,
  );
  const tuned = await tuneSplitsForSteps(backend, {
    model,
    resize,
    microBatches: shares[0].microBatches,
  });
  if (tuned) console.log(tuned);
  const firstStepLabel = backend.name === "webgpu" ? "first step (compiles shaders)" : "first step";
  const stepTimes: number[] = [];
  let firstStep = 0;
  let firstStepDone = 0;
  for (let i = 0; i <= steps; i++) {
    const t = performance.now();
    const outcome = await trainStep({ ...context, workers }, batchAt(i), i);
    const loss = (await outcome.lossSum.data())[0] / batchSize;
    tf.dispose([outcome.lossSum, outcome.correct]);
    const seconds = (performance.now() - t) / 1000;
    if (i === 0) {
      firstStep = seconds;
      firstStepDone = performance.now();
    } else {
      stepTimes.push(seconds);
    }
    console.log(
      `${i === 0 ? firstStepLabel : `step ${i}`}: ${seconds.toFixed(2)} s, loss ${loss.toFixed(4)}`,
    );
  }
  const stepSeconds = median(stepTimes);
  workers?.close();
  const busy = backend.name === "webgpu" ? await gpuBusy(context, batchAt(steps + 1)) : {};
  const profiledStep = async () => {
    const outcome = await trainStep(context, batchAt(steps + 1), steps + 1);
    return [outcome.lossSum, outcome.correct];
  };
  // On the CPU, one thread's first step at the whole batch touches fresh memory, whose page
  // faults would inflate every kernel's time: the second such step is the one reported.
  if (backend.name !== "webgpu") await profileKernels(profiledStep);
  const kernels = await profileKernels(profiledStep);
  return {
    kernels: printKernels(kernels),
    shares: shares.map((share) => share.microBatches),
    threads: shares.length,
    firstStepSeconds: firstStep,
    secondsFromStartToFirstStepDone: (firstStepDone - bench.started) / 1000,
    stepSeconds: stepTimes,
    medianSecondsPerStep: stepSeconds,
    imagesPerSecond: batchSize / stepSeconds,
    ...busy,
  };
}

/**
 * One more step timed by the wall clock and, by timestamp queries, the GPU's
 * busy time within it: the difference is time the GPU waited for JavaScript
 * (recording commands, submitting, reading values back).
 */
async function gpuBusy(
  context: Parameters<typeof trainStep>[0],
  batch: Batch,
): Promise<{ stepWallSeconds: number; gpuBusySeconds: number | null }> {
  await finishGpuWork();
  const started = performance.now();
  let outcome: Awaited<ReturnType<typeof trainStep>> | undefined;
  // On WebGPU a step records all its kernels before its first await, so they are all timed.
  const timing = await tf.time(() => {
    trainStep(context, batch, 0).then((result) => outcome = result);
  });
  await finishGpuWork();
  const stepWallSeconds = (performance.now() - started) / 1000;
  while (!outcome) await new Promise((resolve) => setTimeout(resolve, 0));
  tf.dispose([outcome.lossSum, outcome.correct]);
  const kernelMs = typeof timing.kernelMs === "number" ? timing.kernelMs : 0;
  const gpuBusySeconds = kernelMs > 0 ? kernelMs / 1000 : null;
  console.log(
    `one step: ${stepWallSeconds.toFixed(3)} s by the wall clock, GPU busy ${
      gpuBusySeconds === null ? "unknown (no timestamp queries)" : `${gpuBusySeconds.toFixed(3)} s`
    }`,
  );
  return { stepWallSeconds, gpuBusySeconds };
}
