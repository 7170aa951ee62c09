/**
 * Benchmarks on the active adapter: the data pipeline (gather, upload and
 * bilinear resize of a batch) and training steps (forward, backward and
 * optimizer update), with the first step (shader compilation) apart from
 * the steady state. Ends with one JSON line.
 *
 *     deno task bench [flags]        (deno task bench --help)
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendInfo, setupBackend } from "./backend/setup.ts";
import { type KernelTime, profileKernels } from "./bench/kernel_profile.ts";
import { median } from "./bench/statistics.ts";
import { runTorchReference } from "./bench/torch_reference.ts";
import { choiceFlag, defineCommand, HELP_FLAG, integerFlag, textFlag } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import {
  BACKEND_FLAG,
  BATCH_FLAG,
  DATA_DIR_FLAG,
  MODEL_FLAG,
  RESIZE_FLAG,
} from "./cli/shared_flags.ts";
import { type Batch, gatherBatch, shuffledOrder } from "./data/batches.ts";
import { resizeBatch } from "./data/resize.ts";
import { openDataset } from "./data/source.ts";
import { buildModel, checkResize, type ModelName, MODELS } from "./model/registry.ts";
import { createOptimizer } from "./training/optimizer.ts";
import { trainStep } from "./training/step.ts";
import { microBatchLimit, planStep } from "./training/step_plan.ts";
import { workersFor } from "./training/workers/gradient_workers.ts";

const FLAGS = {
  model: MODEL_FLAG,
  resize: RESIZE_FLAG,
  batch: BATCH_FLAG,
  steps: integerFlag({
    help: "timed steps after the first one (0: data pipeline only)",
    min: 0,
    default: 3,
  }),
  "data-batches": integerFlag({
    help: "batches timed in the data pipeline benchmark",
    default: 10,
  }),
  backend: BACKEND_FLAG,
  "data-dir": DATA_DIR_FLAG,
  "torch-script": textFlag({
    placeholder: "FILE",
    help: "also run the PyTorch reference FILE (e.g. ../shared/reference/torch_alexnet.py)\n" +
      "with the same resize, batch and steps, and print the ratio",
  }),
  "torch-device": choiceFlag({
    placeholder: "DEVICE",
    help: "device for the reference: cpu or cuda",
    choices: ["cpu", "cuda"],
    default: "cpu",
  }),
  python: textFlag({
    placeholder: "FILE",
    help: "interpreter for the reference",
    default: "/usr/bin/python3",
  }),
  help: HELP_FLAG,
};

/** Kernels listed in the breakdown. */
const TOP_KERNELS = 12;

/** Kernels whose time is also listed by output shape (layer by layer). */
const KERNELS_BY_SHAPE = 4;

/** A batch of the shuffled training set, by index, for timing. */
type BatchSource = (index: number) => Batch;

/** Times gathering, uploading and resizing `batches` batches; returns the median seconds per batch. */
async function benchDataPipeline(batchAt: BatchSource, batches: number, resize: number) {
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
interface StepBench {
  model: ModelName;
  resize: number;
  batchSize: number;
  steps: number;
  backend: BackendInfo;
  batchAt: BatchSource;
  /** When the command started (for the time to the first step's end). */
  started: number;
}

/** Times the first training step apart and `steps` more; then profiles one step's kernels. */
async function benchSteps(bench: StepBench): Promise<Record<string, unknown>> {
  const { model, resize, batchSize, steps, backend, batchAt } = bench;
  const network = buildModel(model, { resize, seed: 0 });
  const limit = microBatchLimit(network, backend.maxBindingBytes);
  const context = {
    model: network,
    optimizer: createOptimizer("adam", 0.001),
    resize,
    microBatchLimit: limit,
  };
  const workers = await workersFor(backend, { model, resize });
  const { shares } = planStep({
    batchSize,
    threads: 1 + (workers?.count ?? 0),
    microBatchLimit: limit,
    minShare: workers?.minShare,
  });
  console.log(
    `model: ${model}, ${network.countParams().toLocaleString("en-US")} parameters; shares ${
      shares.map((share) => share.microBatches.join("+")).join(" | ")
    } on ${workers && shares.length > 1 ? workers.describe() : "one thread"}`,
  );
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
  const kernels = await profileKernels(async () => {
    const outcome = await trainStep(context, batchAt(steps + 1), steps + 1);
    return [outcome.lossSum, outcome.correct];
  });
  return {
    kernels: printKernels(kernels),
    shares: shares.map((share) => share.microBatches),
    threads: shares.length,
    firstStepSeconds: firstStep,
    secondsFromStartToFirstStepDone: (firstStepDone - bench.started) / 1000,
    stepSeconds: stepTimes,
    medianSecondsPerStep: stepSeconds,
    imagesPerSecond: batchSize / stepSeconds,
  };
}

/** The `bench` command. */
export const benchCommand = defineCommand({
  summary: `Benchmark the data pipeline and training steps on this machine's adapter.

Usage: deno task bench [flags]`,
  flags: FLAGS,
  run: async ({ values }) => {
    const { model, steps } = values;
    const resize = values.resize ?? MODELS[model].defaultResize;
    checkResize(model, resize);
    const batchSize = values.batch;
    const started = performance.now();
    const backend = await setupBackend(values.backend);
    const dataset = await openDataset({ dataDir: values["data-dir"] });
    console.log(`device: ${backend.description}${backend.software ? " (software adapter)" : ""}`);
    const order = shuffledOrder(dataset.train.count, 0, 0);
    const batchAt = (i: number) =>
      gatherBatch(
        dataset.train,
        order.subarray((i * batchSize) % (dataset.train.count - batchSize)).subarray(0, batchSize),
      );
    const dataSeconds = await benchDataPipeline(batchAt, values["data-batches"], resize);
    console.log(
      `data pipeline: ${(1 / dataSeconds).toFixed(1)} batches/s (median ${
        (dataSeconds * 1000).toFixed(1)
      } ms per batch of ${batchSize} at ${resize}×${resize}, read back included)`,
    );
    const result: Record<string, unknown> = {
      device: backend.description,
      software: backend.software,
      model,
      resize,
      batch: batchSize,
      dataSecondsPerBatch: dataSeconds,
      dataBatchesPerSecond: 1 / dataSeconds,
    };
    if (steps > 0) {
      const figures = await benchSteps({
        model,
        resize,
        batchSize,
        steps,
        backend,
        batchAt,
        started,
      });
      const stepSeconds = figures.medianSecondsPerStep as number;
      console.log(
        `median ${stepSeconds.toFixed(3)} s/step, ${
          (batchSize / stepSeconds).toFixed(2)
        } images/s; data pipeline ${(100 * dataSeconds / stepSeconds).toFixed(1)}% of a step`,
      );
      Object.assign(result, figures);
    }
    if (values["torch-script"] !== undefined && steps > 0) {
      const torch = await runTorchReference({
        script: values["torch-script"],
        python: values.python,
        device: values["torch-device"],
        dataDir: dataset.dir,
        resize,
        batchSize,
        steps,
      });
      const ratio = (result.imagesPerSecond as number) / torch.images_per_s;
      console.log(
        `PyTorch reference, same machine, same run: ${
          torch.images_per_s.toFixed(2)
        } images/s; ours / PyTorch = ${ratio.toFixed(3)}`,
      );
      Object.assign(result, {
        torchImagesPerSecond: torch.images_per_s,
        ratioToTorch: ratio,
        torch,
      });
    }
    console.log(JSON.stringify(result));
    return 0;
  },
});

if (import.meta.main) await runMain(() => benchCommand.run(Deno.args));
