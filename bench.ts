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
import { choiceFlag, integerFlag, parseFlags } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { gatherBatch, shuffledOrder } from "./data/batches.ts";
import { openDataset } from "./data/source.ts";
import { resizeBatch } from "./data/resize.ts";
import { buildModel, checkResize, MODEL_NAMES, MODELS } from "./model/registry.ts";
import { BACKEND_CHOICES, setupBackend } from "./backend/setup.ts";
import { microBatchLimit, splitEvenly } from "./training/step_plan.ts";
import { createOptimizer } from "./training/optimizer.ts";
import { trainStep } from "./training/step.ts";
import { helpersFor } from "./training/workers/gradient_workers.ts";
import { profileKernels } from "./bench/kernel_profile.ts";
import { InputError } from "./errors.ts";

const HELP = `Benchmark the data pipeline and training steps on this machine's adapter.

Usage: deno task bench [flags]

  --model NAME      alexnet (default), lenet, lenet-relu
  --resize N        input side (default: the model's)
  --batch N         examples per step (default 128)
  --steps N         timed steps after the first one (default 3; 0: data pipeline only)
  --data-batches N  batches timed in the data pipeline benchmark (default 10)
  --backend NAME    auto (default: webgpu on a hardware GPU, else wasm), webgpu, wasm, cpu
  --data-dir DIR    folder holding the dataset's four .gz files
  --torch-script F  also run the PyTorch reference F (e.g. ../shared/reference/torch_alexnet.py)
                    with the same resize, batch and steps, and print the ratio
  --torch-device D  device for the reference: cpu (default) or cuda
  --python FILE     interpreter for the reference (default /usr/bin/python3, Debian's)
  --help            this text`;

const FLAGS = {
  model: { type: "string" },
  resize: { type: "string" },
  batch: { type: "string" },
  steps: { type: "string" },
  "data-batches": { type: "string" },
  backend: { type: "string" },
  "data-dir": { type: "string" },
  "torch-script": { type: "string" },
  "torch-device": { type: "string" },
  python: { type: "string" },
  help: { type: "boolean" },
} as const;

/** Kernels listed in the breakdown. */
const TOP_KERNELS = 12;

/** Kernels whose time is also listed by output shape (layer by layer). */
const KERNELS_BY_SHAPE = 4;

/** How to run the PyTorch reference and on what. */
interface TorchReference {
  script: string;
  python: string;
  device: string;
  /** Folder holding the dataset's .gz files. */
  dataDir: string;
  resize: number;
  batchSize: number;
  steps: number;
}

/** Runs the PyTorch reference script and returns its closing JSON line. */
async function runTorchReference(
  { script, python, device, dataDir, resize, batchSize, steps }: TorchReference,
): Promise<{ images_per_s: number } & Record<string, unknown>> {
  const args = [
    script,
    "--device",
    device,
    "--data",
    dataDir,
    "--resize",
    String(resize),
    "--batch",
    String(batchSize),
    "--steps",
    String(steps),
  ];
  const command = new Deno.Command(python, { args, stdout: "piped", stderr: "inherit" });
  const output = await command.output().catch((error) => {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`--python ${python}: not found`);
    }
    throw error;
  });
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (!output.success) throw new InputError(`--torch-script ${script}: exited with ${output.code}`);
  return JSON.parse(lines[lines.length - 1]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Runs the `bench` command with its command-line arguments; returns the exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const model = choiceFlag("model", values.model ?? "alexnet", MODEL_NAMES);
  const resize = values.resize === undefined
    ? MODELS[model].defaultResize
    : integerFlag("resize", values.resize);
  checkResize(model, resize);
  const batchSize = integerFlag("batch", values.batch ?? "128");
  const steps = integerFlag("steps", values.steps ?? "3", 0);
  const dataBatches = integerFlag("data-batches", values["data-batches"] ?? "10");
  const torchDevice = choiceFlag("torch-device", values["torch-device"] ?? "cpu", ["cpu", "cuda"]);
  const started = performance.now();
  const backend = await setupBackend(
    choiceFlag("backend", values.backend ?? "auto", BACKEND_CHOICES),
  );
  const dataset = await openDataset({ dataDir: values["data-dir"] });
  console.log(`device: ${backend.description}${backend.software ? " (software adapter)" : ""}`);
  const order = shuffledOrder(dataset.train.count, 0, 0);
  const batchAt = (i: number) =>
    gatherBatch(
      dataset.train,
      order.subarray((i * batchSize) % (dataset.train.count - batchSize)).subarray(0, batchSize),
    );

  const dataTimes: number[] = [];
  for (let i = 0; i <= dataBatches; i++) {
    const t = performance.now();
    const batch = batchAt(i);
    const images = resizeBatch(batch.images, batch.count, resize);
    await images.data();
    images.dispose();
    if (i > 0) dataTimes.push((performance.now() - t) / 1000);
  }
  const dataSeconds = median(dataTimes);
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
    const network = buildModel(model, { resize, seed: 0 });
    const limit = microBatchLimit(network, backend.maxBindingBytes);
    const context = {
      model: network,
      optimizer: createOptimizer("adam", 0.001),
      resize,
      microBatchLimit: limit,
    };
    const helpers = await helpersFor(backend, { model, resize });
    const parts = splitEvenly(batchSize, limit);
    console.log(
      `model: ${model}, ${
        network.countParams().toLocaleString("en-US")
      } parameters, micro-batches ${parts.join("+")}; ${helpers?.describe() ?? "one thread"}`,
    );
    const firstStepLabel = backend.name === "webgpu"
      ? "first step (compiles shaders)"
      : "first step";
    const stepTimes: number[] = [];
    let firstStep = 0;
    let firstStepDone = 0;
    for (let i = 0; i <= steps; i++) {
      const t = performance.now();
      const outcome = await trainStep({ ...context, helpers }, batchAt(i), i);
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
        `${i === 0 ? firstStepLabel : `step ${i}`}: ${seconds.toFixed(2)} s, loss ${
          loss.toFixed(4)
        }`,
      );
    }
    const stepSeconds = median(stepTimes);
    console.log(
      `median ${stepSeconds.toFixed(3)} s/step, ${
        (batchSize / stepSeconds).toFixed(2)
      } images/s; data pipeline ${(100 * dataSeconds / stepSeconds).toFixed(1)}% of a step`,
    );
    helpers?.close();
    const kernels = await profileKernels(async () => {
      const outcome = await trainStep(context, batchAt(steps + 1), steps + 1);
      return [outcome.lossSum, outcome.correct];
    });
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
    Object.assign(result, {
      kernels: kernels.slice(0, TOP_KERNELS).map(({ byShape, ...kernel }, rank) =>
        rank < KERNELS_BY_SHAPE ? { ...kernel, byShape } : kernel
      ),
      microBatches: parts,
      threads: (helpers?.count ?? 0) + 1,
      firstStepSeconds: firstStep,
      secondsFromStartToFirstStepDone: (firstStepDone - started) / 1000,
      stepSeconds: stepTimes,
      medianSecondsPerStep: stepSeconds,
      imagesPerSecond: batchSize / stepSeconds,
    });
  }
  if (values["torch-script"] !== undefined && steps > 0) {
    const torch = await runTorchReference({
      script: values["torch-script"],
      python: values.python ?? "/usr/bin/python3",
      device: torchDevice,
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
    Object.assign(result, { torchImagesPerSecond: torch.images_per_s, ratioToTorch: ratio, torch });
  }
  console.log(JSON.stringify(result));
  return 0;
}

if (import.meta.main) await runMain(() => benchCommand(Deno.args));
