import * as tf from "@tensorflow/tfjs";
import { batchCount, epochBatches } from "../data/batches.ts";
import { type Dataset, type Split, takeFirst } from "../data/load.ts";
import { mixSeed } from "../data/random.ts";
import { buildModel } from "../model/registry.ts";
import { recipeLine } from "../model/recipe.ts";
import { learnableParameters } from "../model/summary.ts";
import type { BackendInfo } from "../backend/setup.ts";
import { type Checkpoint, saveCheckpoint } from "../run_folder/checkpoint.ts";
import { repairRunFolder } from "../run_folder/repair.ts";
import { checkRoom } from "../run_folder/room.ts";
import { DivergenceError } from "../errors.ts";
import { evaluate, type Evaluation } from "./evaluate.ts";
import { evaluationBatchSize, microBatchLimit, planStep, splitEvenly } from "./step_plan.ts";
import { createOptimizer } from "./optimizer.ts";
import { formatDuration } from "./duration.ts";
import { writeEvaluation, writeRunFiles } from "../run_folder/run_files.ts";
import {
  type EpochProgress,
  type EpochRecord,
  initialState,
  type TrainConfig,
  type TrainingState,
} from "./state.ts";
import { trainStep } from "./step.ts";
import { EpochMetrics, type TrainingProgress } from "./epoch_metrics.ts";
import { type GradientWorkers, workersFor } from "./workers/gradient_workers.ts";
import { type Machine, planThreads, thisMachine, type ThreadPlan } from "./workers/thread_plan.ts";
import { networkSize } from "../model/workload.ts";
import { tuneSplitsForSteps } from "../backend/webgpu/tuning/split_tuning.ts";

/** Projected run time above which a software adapter earns a warning. */
const SLOW_RUN_SECONDS = 3600;
/** The network that trains in minutes without a GPU. */
const QUICK_MODEL = "lenet-relu";
/** Stream tag that separates dropout seeds from other uses of the run seed. */
const DROPOUT_STREAM = 0xd409;

export type { TrainingProgress } from "./epoch_metrics.ts";

/** Options of {@link train}. */
export interface TrainOptions {
  /** Where the checkpoint, `metrics.jsonl` and `curves.svg` go (must exist). */
  runDir: string;
  /**
   * The data, or a promise of it: the gradient workers start loading the
   * model while it resolves (a second earlier on AlexNet's first step).
   */
  dataset: Dataset | Promise<Dataset>;
  backend: BackendInfo;
  /** A fresh run's configuration; ignored when resuming. */
  config?: TrainConfig;
  /** Continue from this checkpoint (its configuration wins, but for `epochs` when given). */
  resume?: Checkpoint;
  /** Total epochs when resuming (to extend a finished run). */
  epochs?: number;
  /** When aborted, the current step finishes, a checkpoint is saved and `train` returns. */
  signal?: AbortSignal;
  /** Receives header and per-epoch lines. */
  log?: (line: string) => void;
  /** Receives the running figures of the epoch, a few times a second at most. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Called after every step. */
  onStep?: (state: Readonly<TrainingState>) => void;
  /** Called when an epoch's record, evaluation and checkpoint are saved. */
  onEpoch?: (record: EpochRecord, evaluation: Evaluation) => void;
  /** Threads to share each step on wasm (default: as many as the cores and memory allow). */
  threads?: number;
  /** The machine to plan the threads for (default: this one). */
  machine?: Machine;
  /** On a GPU, measure the products' split sizes again instead of reading the kept ones. */
  recalibrate?: boolean;
}

/** {@link TrainOptions} once the data is at hand. */
type OpenedOptions = TrainOptions & { dataset: Dataset };

/** The outcome of {@link train}. */
export interface TrainResult {
  model: tf.LayersModel;
  state: TrainingState;
  /** True when the signal stopped the run before its last epoch ended. */
  interrupted: boolean;
}

function format(record: EpochRecord): string {
  return `epoch ${record.epoch}, loss ${record.loss.toFixed(4)}, train acc ${
    record.trainAccuracy.toFixed(3)
  }, test acc ${record.testAccuracy.toFixed(3)}, time ${record.seconds.toFixed(1)} sec (${
    record.imagesPerSecond.toFixed(1)
  } images/s; eval ${record.evalSeconds.toFixed(1)} sec)`;
}

/** The model, optimizer and state a run works on. */
interface Run {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  state: TrainingState;
}

/** What follows from the configuration, the data and the device. */
interface Plan {
  trainSplit: Split;
  testSplit: Split;
  microBatchLimit: number;
  stepsPerEpoch: number;
  evalBatch: number;
  /** Workers sharing each step on the wasm backend, and why that many. */
  workers?: GradientWorkers;
  threads?: ThreadPlan;
}

/** About how many bytes a checkpoint of the run takes: the weights, and Adam's two moments. */
function checkpointBytes({ model, state }: Run): number {
  const copies = state.config.optimizer === "adam" ? 3 : 1;
  return model.countParams() * 4 * copies + 2 ** 20;
}

/** The run to train: resumed from its checkpoint, or new with `config`. */
async function prepare(options: TrainOptions, config: TrainConfig): Promise<Run> {
  if (options.resume) {
    const { model, optimizerWeights, state } = options.resume;
    if (options.epochs !== undefined) state.config.epochs = options.epochs;
    const optimizer = createOptimizer(state.config.optimizer, state.config.learningRate);
    if (optimizerWeights.length > 0) await optimizer.setWeights(optimizerWeights);
    return { model, optimizer, state };
  }
  const model = buildModel(config.model, { resize: config.resize, seed: config.seed });
  const optimizer = createOptimizer(config.optimizer, config.learningRate);
  return { model, optimizer, state: initialState(config) };
}

function makePlan({ model, state }: Run, options: OpenedOptions): Plan {
  const { config } = state;
  const trainSplit = takeFirst(options.dataset.train, config.limit);
  const limit = microBatchLimit(model, options.backend.maxBindingBytes);
  return {
    trainSplit,
    testSplit: takeFirst(options.dataset.test, config.testLimit),
    microBatchLimit: limit,
    stepsPerEpoch: batchCount(trainSplit.count, config.batchSize),
    evalBatch: evaluationBatchSize(model, options.backend),
  };
}

function planLines(
  { model, state }: Run,
  plan: Plan,
  options: OpenedOptions,
): string[] {
  const { config } = state;
  const { shares } = planStep({
    batchSize: config.batchSize,
    threads: 1 + (plan.workers?.count ?? 0),
    microBatchLimit: plan.microBatchLimit,
    minShare: plan.workers?.minShare,
  });
  const parts = shares[0].microBatches;
  const split = parts.length > 1
    ? `, each share split into ${parts.length} micro-batches of ≤${
      Math.max(...parts)
    } (device binding limit ${
      (options.backend.maxBindingBytes / 2 ** 20).toFixed(0)
    } MiB), gradients accumulated`
    : "";
  const threads = plan.threads
    ? `; ${
      shares.length > 1 ? `each step shared by ${plan.workers!.describe()}` : "one thread"
    } (${plan.threads.reason}), planned peak memory ${(plan.threads.peakBytes / 1e9).toFixed(1)} GB`
    : "";
  const lines = [
    `model: ${config.model} at ${config.resize}×${config.resize}, ${
      learnableParameters(model).toLocaleString("en-US")
    } parameters; ${config.optimizer} lr ${config.learningRate}, seed ${config.seed}`,
    recipeLine(config.model, config),
    `data: ${config.dataset} from ${options.dataset.dir}: ${plan.trainSplit.count} training, ${plan.testSplit.count} test images`,
    `plan: ${config.epochs} epoch${
      config.epochs === 1 ? "" : "s"
    } × ${plan.stepsPerEpoch} steps of batch ${config.batchSize}${split}${threads}`,
  ];
  if (state.epoch > 0 || state.batch > 0) {
    lines.push(
      `resuming at epoch ${state.epoch + 1}, step ${state.batch + 1} of ${plan.stepsPerEpoch}`,
    );
  }
  return lines;
}

function slowRunWarning(
  secondsPerStep: number,
  run: Run,
  plan: Plan,
  options: TrainOptions,
): string | undefined {
  const { config } = run.state;
  const total = secondsPerStep * plan.stepsPerEpoch * config.epochs;
  if (total < SLOW_RUN_SECONDS) return undefined;
  const hint = config.model === QUICK_MODEL
    ? ""
    : ` The quick recipe trains in minutes here: --model ${QUICK_MODEL} (see README.md)`;
  return `warning: no GPU in use (${options.backend.description}): the first step took ${
    secondsPerStep.toFixed(1)
  } s; at that pace this run needs about ${formatDuration(total)}.${hint}`;
}

/**
 * Trains the rest of the current epoch. Metrics accumulate on the device and
 * are read into `state.partial` a few times a second (see {@link EpochMetrics}).
 * Returns true when the signal stopped it (after saving a checkpoint).
 */
async function trainEpoch(
  run: Run,
  plan: Plan,
  options: TrainOptions,
  stepsBefore: number,
): Promise<boolean> {
  const { state } = run;
  const { config } = state;
  const metrics = new EpochMetrics(state, plan.trainSplit.count, options.onProgress);
  const context = stepContext(run, plan);
  let steps = stepsBefore;
  let interrupted = false;
  for (const batch of remainingBatches(run, plan)) {
    metrics.add(await trainStep(context, batch, mixSeed(config.seed, state.step, DROPOUT_STREAM)));
    state.batch++;
    state.step++;
    state.partial.seen += batch.count;
    options.onStep?.(state);
    steps++;
    const measuring = options.backend.software && steps === 1;
    if (metrics.due() || measuring) {
      const sincePreviousRead = await metrics.read();
      metrics.report(false);
      const warning = measuring && slowRunWarning(sincePreviousRead, run, plan, options);
      if (warning) options.log?.(warning);
    }
    if (options.signal?.aborted) {
      interrupted = true;
      break;
    }
  }
  await metrics.read();
  metrics.report(true);
  metrics.dispose();
  if (interrupted) await saveIfFinite(run, options);
  return interrupted;
}

/** What every step of the run shares: the model, its optimizer, the input side, the workers. */
function stepContext({ model, optimizer, state }: Run, plan: Plan) {
  return {
    model,
    optimizer,
    resize: state.config.resize,
    microBatchLimit: plan.microBatchLimit,
    workers: plan.workers,
  };
}

/** The batches of the current epoch from the next one on, in the epoch's seeded order. */
function remainingBatches({ state }: Run, plan: Plan) {
  const { config } = state;
  return epochBatches(plan.trainSplit, {
    batchSize: config.batchSize,
    shuffle: { seed: config.seed, epoch: state.epoch },
    startBatch: state.batch,
  });
}

/**
 * Saves a checkpoint unless a weight stopped being a finite number (a
 * diverging run whose loss has not shown it yet): then the previous
 * checkpoint stays and a `DivergenceError` ends the run.
 */
async function saveIfFinite(run: Run, options: TrainOptions): Promise<void> {
  const { model, optimizer, state } = run;
  const finite = tf.tidy(() =>
    tf.stack(model.weights.map((weight) => tf.all(tf.isFinite(weight.read()))))
  );
  const flags = await finite.data();
  finite.dispose();
  const broken = model.weights.find((_, i) => !flags[i]);
  if (broken) {
    throw new DivergenceError(
      `training diverged: ${broken.originalName} holds values that are not finite numbers in epoch ${
        state.epoch + 1
      }; the last checkpoint is kept as it was (try a smaller learning rate, --lr)`,
    );
  }
  await saveCheckpoint(options.runDir, model, optimizer, state);
}

/** Evaluates after an epoch, records it, saves the checkpoint and the run files. */
async function finishEpoch(
  run: Run,
  plan: Plan,
  options: TrainOptions,
  epochStart: EpochProgress,
): Promise<void> {
  const { model, state } = run;
  const started = performance.now();
  const evaluation = await evaluate(model, plan.testSplit, {
    resize: state.config.resize,
    batchSize: plan.evalBatch,
    workers: plan.workers,
    onProgress: (seen, total, accuracy) =>
      options.onProgress?.({
        phase: "test",
        epoch: state.epoch + 1,
        epochs: state.config.epochs,
        seen,
        total,
        seenBefore: 0,
        seconds: (performance.now() - started) / 1000,
        accuracy,
        done: seen === total,
      }),
  });
  const { lossSum, correct, seen, seconds } = state.partial;
  const record: EpochRecord = {
    epoch: state.epoch + 1,
    loss: lossSum / seen,
    trainAccuracy: correct / seen,
    testAccuracy: evaluation.accuracy,
    seconds,
    evalSeconds: (performance.now() - started) / 1000,
    imagesPerSecond: (seen - epochStart.seen) / Math.max(seconds - epochStart.seconds, 1e-9),
  };
  state.history.push(record);
  state.epoch++;
  state.batch = 0;
  state.partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  options.log?.(format(record));
  await saveIfFinite(run, options);
  await writeRunFiles(options.runDir, state);
  await writeEvaluation(options.runDir, { epoch: record.epoch, ...evaluation });
  options.onEpoch?.(record, evaluation);
}

/**
 * Trains a model with a custom loop (not `model.fit`): per epoch a fresh
 * seeded shuffle, one optimizer step per batch (micro-batched when the
 * device requires), metrics accumulated on the device and read at most a
 * few times per second, then evaluation on the test split, a checkpoint,
 * `metrics.jsonl` and `curves.svg`. Resuming from a checkpoint continues
 * exactly where the interrupted run stopped.
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const settings = options.resume?.state.config ?? options.config;
  if (!settings) throw new Error("train: give either config or resume");
  const threads = options.backend.name === "wasm"
    ? planThreads(
      options.machine ?? thisMachine(),
      { ...networkSize(settings.model, settings.resize), batchSize: settings.batchSize },
      options.threads,
    )
    : undefined;
  // The workers load tfjs and build their model while this thread builds its own.
  const stopStarting = new AbortController();
  const starting = workersFor(options.backend, {
    model: settings.model,
    resize: settings.resize,
    threads: threads?.threads ?? 1,
    signal: stopStarting.signal,
  });
  try {
    const opened: OpenedOptions = { ...options, dataset: await options.dataset };
    const run = await prepare(options, settings);
    await checkRoom(options.runDir, checkpointBytes(run));
    if (options.resume) {
      const { dir, state } = options.resume;
      for (const line of await repairRunFolder(options.runDir, dir, state)) options.log?.(line);
    }
    const plan = makePlan(run, opened);
    const { config } = run.state;
    plan.workers = await starting;
    plan.threads = threads;
    for (const line of planLines(run, plan, opened)) options.log?.(line);
    const tuned = await tuneSplitsForSteps(options.backend, {
      model: config.model,
      resize: config.resize,
      microBatches: splitEvenly(config.batchSize, plan.microBatchLimit),
      recalibrate: options.recalibrate,
    });
    if (tuned) options.log?.(tuned);
    const stepsAtStart = run.state.step;
    while (run.state.epoch < config.epochs) {
      const epochStart = { ...run.state.partial };
      const interrupted = await trainEpoch(run, plan, options, run.state.step - stepsAtStart);
      if (interrupted) return { model: run.model, state: run.state, interrupted: true };
      await finishEpoch(run, plan, options, epochStart);
    }
    return { model: run.model, state: run.state, interrupted: false };
  } finally {
    stopStarting.abort();
    (await starting)?.close();
  }
}
