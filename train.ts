/**
 * Trains a network on Fashion-MNIST (or MNIST): WebGPU on a GPU, wasm
 * with worker threads on the CPU cores.
 *
 *     deno task train [flags]        (deno task train --help)
 *
 * @module
 */
import { setupBackend } from "./backend/setup.ts";
import {
  choiceFlag,
  defineCommand,
  type FlagValues,
  HELP_FLAG,
  integerFlag,
  positiveFlag,
  switchFlag,
  textFlag,
} from "./cli/flags.ts";
import { downloadProgressPrinter } from "./cli/download_progress.ts";
import { trainingDisplay } from "./cli/progress.ts";
import { createRunDir, defaultRunDir } from "./cli/run_dir.ts";
import { runMain } from "./cli/run_main.ts";
import { applyBlasFlag } from "./cli/blas_choice.ts";
import { untilStopped } from "./cli/until_stopped.ts";
import { Interrupts } from "./cli/interrupts.ts";
import {
  BACKEND_FLAG,
  BATCH_FLAG,
  BLAS_FLAG,
  DATA_DIR_FLAG,
  MODEL_FLAG,
  PORT_FLAG,
  RESIZE_FLAG,
  THREADS_FLAG,
} from "./cli/shared_flags.ts";
import { DATASET_NAMES } from "./data/datasets.ts";
import type { Dataset } from "./data/load.ts";
import { openDataset } from "./data/source.ts";
import { InputError } from "./errors.ts";
import { buildModel, checkResize } from "./model/registry.ts";
import { withRecipe } from "./model/recipe.ts";
import { formatSummary } from "./model/summary.ts";
import {
  type Checkpoint,
  findCheckpoint,
  loadCheckpoint,
  readTrainingState,
} from "./run_folder/checkpoint.ts";
import { planThreads, thisMachine } from "./training/workers/thread_plan.ts";
import { networkSize } from "./model/workload.ts";
import { deviceLine } from "./cli/device_line.ts";
import { OPTIMIZER_NAMES } from "./training/optimizer.ts";
import type { TrainConfig } from "./training/state.ts";
import { train, type TrainOptions, type TrainResult } from "./training/train.ts";
import { readEvaluation } from "./run_folder/run_files.ts";
import { lockRunFolder } from "./run_folder/run_lock.ts";
import type { LockFile } from "./lock/lock_file.ts";
import { checkPort, startTrainingView, type TrainingView } from "./view/training_view.ts";

const FLAGS = {
  model: MODEL_FLAG,
  resize: RESIZE_FLAG,
  batch: BATCH_FLAG,
  lr: positiveFlag({
    help: "learning rate",
    defaultText: "the model's recipe",
    setting: "learningRate",
    fixedOnResume: true,
  }),
  optimizer: choiceFlag({
    help: OPTIMIZER_NAMES.join(" or "),
    choices: OPTIMIZER_NAMES,
    default: "adam",
    fixedOnResume: true,
  }),
  epochs: integerFlag({ help: "epochs; with --resume, extends the run to N", defaultText: "5" }),
  seed: integerFlag({
    help: "seed of weights, shuffling and dropout",
    min: 0,
    default: 0,
    fixedOnResume: true,
  }),
  limit: integerFlag({ help: "train on the first N training images only", fixedOnResume: true }),
  "test-limit": integerFlag({
    help: "evaluate on the first N test images only",
    fixedOnResume: true,
  }),
  dataset: choiceFlag({
    help: DATASET_NAMES.join(" or "),
    choices: DATASET_NAMES,
    default: "fashion-mnist",
    fixedOnResume: true,
  }),
  "data-dir": DATA_DIR_FLAG,
  out: textFlag({
    placeholder: "DIR",
    help: "run folder to create",
    defaultText: "runs/MODEL-DATE-TIME",
    fixedOnResume: true,
  }),
  resume: textFlag({
    placeholder: "DIR",
    help: "continue the run in DIR from its last checkpoint",
  }),
  backend: BACKEND_FLAG,
  threads: THREADS_FLAG,
  blas: BLAS_FLAG,
  recalibrate: switchFlag({
    help:
      "measure again instead of what is kept: WebGPU against wasm (--backend auto) and the GPU's split sizes",
  }),
  summary: switchFlag({ help: "print the model's layers and exit" }),
  view: switchFlag({
    help: "serve a live page of the run on 127.0.0.1 (curves, confusion matrix, try the model)",
  }),
  port: PORT_FLAG,
  help: HELP_FLAG,
};

/** Epochs of a new run when `--epochs` is not given. */
const DEFAULT_EPOCHS = 5;

/** The `train` command. */
export const trainCommand = defineCommand({
  summary: `Train a convolutional network on Fashion-MNIST (WebGPU; wasm on the CPU without a GPU).

Usage: deno task train [flags]`,
  flags: FLAGS,
  notes: "Ctrl-C finishes the current step, saves a checkpoint and exits; --resume continues it.",
  run: async ({ values, given, args }) => {
    applyBlasFlag(values.blas, { task: "train", args });
    const config = checkedConfig(values, given);
    if (values.summary) return await printSummary(values, config);
    const runDir = values.resume ?? values.out ?? defaultRunDir(config!.model);
    const session: Session = { values, config, runDir, interrupts: new Interrupts() };
    try {
      // A resumed run is locked before its checkpoint is read, a new one once its folder is made.
      if (values.resume !== undefined) {
        await findCheckpoint(runDir);
        session.lock = await lockRunFolder(runDir, (line) => console.log(line));
      }
      const { code, view } = await trainInFolder(session);
      // A finished run's page stays up; the folder is free for another writer meanwhile.
      session.lock?.release();
      if (view) await keepServing(view);
      return code;
    } finally {
      session.lock?.release();
    }
  },
});

/** The flags of `train`, as parsed. */
type TrainFlags = FlagValues<typeof FLAGS>;

/**
 * Checks the flags against each other; returns a new run's configuration
 * (the recipe's defaults where a flag is not given), undefined with `--resume`.
 */
function checkedConfig(values: TrainFlags, given: Set<keyof TrainFlags>): TrainConfig | undefined {
  if (values.resume !== undefined) {
    const fixed = [...given].find((name) => FLAGS[name].fixedOnResume);
    if (fixed) {
      throw new InputError(
        `--${fixed} cannot be combined with --resume (the run keeps its own settings)`,
      );
    }
  }
  const config = values.resume === undefined ? newRunConfig(values) : undefined;
  if (config) checkResize(config.model, config.resize);
  checkPort(values.port);
  if (values.port !== undefined && !values.view) {
    throw new InputError("--port goes with --view (the page's port)");
  }
  return config;
}

/** A new run's configuration from the flags and the model's recipe. */
function newRunConfig(values: TrainFlags): TrainConfig {
  return {
    model: values.model,
    dataset: values.dataset,
    ...withRecipe(values.model, {
      resize: values.resize,
      batchSize: values.batch,
      learningRate: values.lr,
    }),
    optimizer: values.optimizer,
    epochs: values.epochs ?? DEFAULT_EPOCHS,
    seed: values.seed,
    limit: values.limit,
    testLimit: values["test-limit"],
  };
}

/** `--summary`: the network's layers (the new run's, or the resumed run's checkpoint's). */
async function printSummary(values: TrainFlags, config: TrainConfig | undefined): Promise<number> {
  await setupBackend("cpu");
  const model = config
    ? buildModel(config.model, { resize: config.resize, seed: config.seed })
    : (await loadCheckpoint(values.resume!)).model;
  console.log(formatSummary(model));
  return 0;
}

/** What the steps of one training command share. */
interface Session {
  values: TrainFlags;
  /** A new run's configuration (undefined when resuming). */
  config?: TrainConfig;
  runDir: string;
  /** The lock of the run folder, once taken. */
  lock?: LockFile;
  /** The live page (`--view`), once the data is loaded. */
  view?: TrainingView;
  interrupts: Interrupts;
}

/** What is known once the backend is up: the run's settings, its checkpoint, the device line. */
interface Started {
  settings: TrainConfig;
  resume?: Checkpoint;
  device: string;
}

/**
 * Trains in the session's folder (made here for a new run, then locked);
 * returns the exit code, and the page to keep serving after a finished run.
 */
async function trainInFolder(session: Session): Promise<{ code: number; view?: TrainingView }> {
  const { values, config, runDir, interrupts } = session;
  const settings = config ??
    (await readTrainingState(await findCheckpoint(values.resume!))).config;
  const { backend, device } = await startBackend(values, settings);
  const resume = values.resume === undefined ? undefined : await loadCheckpoint(values.resume);
  const started: Started = { settings, resume, device };
  // A promise that train() awaits at once: its workers start while the data loads.
  const dataset = openDataset({
    dataset: (resume?.state.config ?? config!).dataset,
    dataDir: values["data-dir"],
    download: { onProgress: downloadProgressPrinter() },
    log: (line) => console.log(line),
  }).then((opened) => prepareFolder(session, started, opened));
  const result = await train({
    runDir,
    dataset,
    backend,
    config,
    resume,
    epochs: values.epochs,
    threads: values.threads,
    recalibrate: values.recalibrate,
    signal: interrupts.signal,
    ...followers(session),
  });
  interrupts.stop();
  return await finalReport(session, result);
}

/** Plans the threads for the network, sets the backend up and prints its line. */
async function startBackend(values: TrainFlags, settings: TrainConfig) {
  const threads = planThreads(
    thisMachine(),
    { ...networkSize(settings.model, settings.resize), batchSize: settings.batchSize },
    values.threads,
  );
  const backend = await setupBackend(values.backend, {
    model: settings.model,
    resize: settings.resize,
    threads: threads.threads,
    recalibrate: values.recalibrate,
  });
  const device = deviceLine(backend);
  console.log(device);
  return { backend, device };
}

/**
 * Once the data is loaded: starts the page (`--view`), makes and locks a
 * new run's folder, then listens for Ctrl-C.
 */
async function prepareFolder(session: Session, started: Started, opened: Dataset) {
  const { values, runDir } = session;
  const { settings, resume, device } = started;
  // The page's port is taken before the run folder is made: a busy port leaves nothing behind.
  if (values.view) {
    session.view = await startTrainingView({
      runDir,
      dataset: opened,
      config: settings,
      resumed: resume && { state: resume.state, evaluation: await readEvaluation(runDir) },
      lines: [device],
      port: values.port,
    });
  }
  if (!resume) {
    await createRunDir(runDir);
    session.lock = await lockRunFolder(runDir, (line) => console.log(line));
  }
  session.interrupts.listen();
  if (session.view) console.log(`view: ${session.view.url} (the page follows the training)`);
  return opened;
}

/**
 * Where the training reports go: the terminal, and the page. The page
 * starts once the data is loaded, inside train(): look it up on each call.
 */
function followers(session: Session): Pick<TrainOptions, "log" | "onProgress" | "onEpoch"> {
  const display = trainingDisplay({
    interactive: Deno.stderr.isTerminal(),
    write: (text) => Deno.stderr.writeSync(new TextEncoder().encode(text)),
    print: (line) => console.log(line),
  });
  return {
    log: (line) => {
      display.log(line);
      session.view?.log(line);
    },
    onProgress: (progress) => {
      display.onProgress(progress);
      session.view?.onProgress(progress);
    },
    onEpoch: (record, evaluation) => session.view?.onEpoch(record, evaluation),
  };
}

/** The last lines of a run, stopped or finished; its exit code, and a finished run's page. */
async function finalReport(
  session: Session,
  result: TrainResult,
): Promise<{ code: number; view?: TrainingView }> {
  const { view, runDir, interrupts } = session;
  if (view && result.interrupted) {
    // Ctrl-C saves and exits, page or not.
    view.finish("stopped");
    await view.close();
  }
  if (result.interrupted) {
    const { state } = result;
    console.log(
      `stopped in epoch ${
        state.epoch + 1
      } after step ${state.batch}; checkpoint saved. Continue with: deno task train --resume ${runDir}`,
    );
    return { code: interrupts.exitCode };
  }
  console.log(`run saved in ${runDir} (checkpoint/, metrics.jsonl, curves.svg)`);
  return { code: 0, view };
}

/** After training, the page stays until Ctrl-C (or SIGTERM): it shows the finished run. */
async function keepServing(view: TrainingView): Promise<void> {
  view.finish("finished");
  console.log(`training finished; the page stays at ${view.url} until Ctrl-C`);
  await untilStopped();
  await view.close();
}

if (import.meta.main) await runMain(() => trainCommand.run(Deno.args));
