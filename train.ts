/**
 * Trains a network on Fashion-MNIST (or MNIST) on the GPU through WebGPU.
 *
 *     deno task train [flags]        (deno task train --help)
 *
 * @module
 */
import { choiceFlag, integerFlag, parseFlags, positiveFlag } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { createRunDir, defaultRunDir } from "./cli/run_dir.ts";
import { DATASET_NAMES } from "./data/datasets.ts";
import { openDataset } from "./data/source.ts";
import { InputError } from "./errors.ts";
import { buildModel, checkResize, MODEL_NAMES, MODELS } from "./model/registry.ts";
import { formatSummary } from "./model/summary.ts";
import { BACKEND_CHOICES, setupBackend } from "./backend/setup.ts";
import { loadCheckpoint } from "./run_folder/checkpoint.ts";
import { OPTIMIZER_NAMES } from "./training/optimizer.ts";
import type { TrainConfig } from "./training/state.ts";
import { train } from "./training/train.ts";
import { downloadProgressPrinter } from "./cli/download_progress.ts";

const HELP =
  `Train a convolutional network on Fashion-MNIST (WebGPU; wasm on the CPU without a GPU).

Usage: deno task train [flags]

  --model NAME        alexnet (default), lenet, lenet-relu
  --resize N          input side (default 224 for alexnet, 28 for lenet; alexnet needs ≥ 67)
  --batch N           examples per optimisation step (default 128)
  --lr X              learning rate (default 0.001)
  --optimizer NAME    adam (default) or sgd
  --epochs N          epochs (default 5)
  --seed N            seed of weights, shuffling and dropout (default 0)
  --limit N           train on the first N training images only
  --test-limit N      evaluate on the first N test images only
  --dataset NAME      fashion-mnist (default) or mnist
  --data-dir DIR      folder holding the four .gz files (default: cache, then /usr/share/datasets)
  --out DIR           run folder to create (default runs/MODEL-DATE-TIME)
  --resume DIR        continue the run in DIR from its last checkpoint (--epochs may extend it)
  --backend NAME      auto (default: webgpu on a hardware GPU, else wasm), webgpu, wasm, cpu
  --summary           print the model's layers and exit
  --help              this text

Ctrl-C finishes the current step, saves a checkpoint and exits; --resume continues it.`;

const FLAGS = {
  model: { type: "string" },
  resize: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  optimizer: { type: "string" },
  epochs: { type: "string" },
  seed: { type: "string" },
  limit: { type: "string" },
  "test-limit": { type: "string" },
  dataset: { type: "string" },
  "data-dir": { type: "string" },
  out: { type: "string" },
  resume: { type: "string" },
  backend: { type: "string" },
  summary: { type: "boolean" },
  help: { type: "boolean" },
} as const;

/** Flags that define a run and therefore cannot change on --resume. */
const FIXED_ON_RESUME = [
  "model",
  "resize",
  "batch",
  "lr",
  "optimizer",
  "seed",
  "limit",
  "test-limit",
  "dataset",
  "out",
] as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

function configFrom(values: Values): TrainConfig {
  const model = choiceFlag("model", values.model ?? "alexnet", MODEL_NAMES);
  return {
    model,
    dataset: choiceFlag("dataset", values.dataset ?? "fashion-mnist", DATASET_NAMES),
    resize: values.resize === undefined
      ? MODELS[model].defaultResize
      : integerFlag("resize", values.resize),
    batchSize: integerFlag("batch", values.batch ?? "128"),
    learningRate: positiveFlag("lr", values.lr ?? "0.001"),
    optimizer: choiceFlag("optimizer", values.optimizer ?? "adam", OPTIMIZER_NAMES),
    epochs: integerFlag("epochs", values.epochs ?? "5"),
    seed: integerFlag("seed", values.seed ?? "0", 0),
    limit: values.limit === undefined ? undefined : integerFlag("limit", values.limit),
    testLimit: values["test-limit"] === undefined
      ? undefined
      : integerFlag("test-limit", values["test-limit"]),
  };
}

/** Runs the `train` command with its command-line arguments; returns the exit code. */
export async function trainCommand(args: string[]): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const backendName = choiceFlag("backend", values.backend ?? "auto", BACKEND_CHOICES);
  if (values.resume !== undefined) {
    const fixed = FIXED_ON_RESUME.find((name) => values[name] !== undefined);
    if (fixed) {
      throw new InputError(
        `--${fixed} cannot be combined with --resume (the run keeps its own settings)`,
      );
    }
  }
  const config = values.resume === undefined ? configFrom(values) : undefined;
  if (config && values.summary) {
    await setupBackend("cpu");
    console.log(
      formatSummary(buildModel(config.model, { resize: config.resize, seed: config.seed })),
    );
    return 0;
  }
  if (config) checkResize(config.model, config.resize);
  const epochs = values.epochs === undefined ? undefined : integerFlag("epochs", values.epochs);
  const runDir = values.resume ?? values.out ?? defaultRunDir(config!.model);

  const backend = await setupBackend(backendName);
  console.log(`device: ${backend.description}${backend.software ? " (software adapter)" : ""}`);
  const resume = values.resume === undefined ? undefined : await loadCheckpoint(values.resume);
  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error(
      "\ninterrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit at once)",
    );
    controller.abort();
  };
  // A promise that train() awaits at once: its workers start while the data loads.
  const dataset = openDataset({
    dataset: (resume?.state.config ?? config!).dataset,
    dataDir: values["data-dir"],
    download: { onProgress: downloadProgressPrinter() },
    log: (line) => console.log(line),
  }).then(async (opened) => {
    if (!resume) await createRunDir(runDir);
    Deno.addSignalListener("SIGINT", onInterrupt);
    return opened;
  });
  const result = await train({
    runDir,
    dataset,
    backend,
    config,
    resume,
    epochs,
    signal: controller.signal,
    log: (line) => console.log(line),
    write: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    interactive: Deno.stderr.isTerminal(),
  });
  Deno.removeSignalListener("SIGINT", onInterrupt);
  if (result.interrupted) {
    const { state } = result;
    console.log(
      `stopped in epoch ${
        state.epoch + 1
      } after step ${state.batch}; checkpoint saved. Continue with: deno task train --resume ${runDir}`,
    );
    return 130;
  }
  console.log(`run saved in ${runDir} (checkpoint/, metrics.jsonl, curves.svg)`);
  return 0;
}

if (import.meta.main) await runMain(() => trainCommand(Deno.args));
