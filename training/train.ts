import * as tf from "@tensorflow/tfjs";
import { batchCount, epochBatches } from "../data/batches.ts";
import { type Dataset, takeFirst } from "../data/load.ts";
import { mixSeed } from "../data/random.ts";
import { buildModel } from "../model/registry.ts";
import type { BackendInfo } from "../runtime/backend.ts";
import { type Checkpoint, saveCheckpoint } from "./checkpoint.ts";
import { evaluate } from "./evaluate.ts";
import { microBatchLimit, splitEvenly } from "./memory.ts";
import { createOptimizer } from "./optimizer.ts";
import { formatDuration, Progress } from "./progress.ts";
import { writeRunFiles } from "./run_files.ts";
import { type EpochRecord, initialState, type TrainConfig, type TrainingState } from "./state.ts";
import { trainStep } from "./step.ts";

/** Largest batch used for evaluation. */
const EVAL_BATCH_LIMIT = 256;
/** Seconds between reads of the device-side metrics. */
const METRICS_READ_INTERVAL = 0.5;
/** Projected run time above which a software adapter earns a warning. */
const SLOW_RUN_SECONDS = 3600;
/** The network that trains in minutes without a GPU. */
const QUICK_MODEL = "lenet-relu";
/** Stream tag that separates dropout seeds from other uses of the run seed. */
const DROPOUT_STREAM = 0xd409;

/** Options of {@link train}. */
export interface TrainOptions {
  /** Where the checkpoint, `metrics.jsonl` and `curves.svg` go (must exist). */
  runDir: string;
  dataset: Dataset;
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
  /** Receives progress output. */
  write?: (text: string) => void;
  /** Draw the progress bar in place (a terminal). */
  interactive?: boolean;
  /** Called after every step. */
  onStep?: (state: Readonly<TrainingState>) => void;
}

/** The outcome of {@link train}. */
export interface TrainResult {
  model: tf.Sequential;
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

async function prepare(options: TrainOptions) {
  if (options.resume) {
    const { model, optimizerWeights, state } = options.resume;
    if (options.epochs !== undefined) state.config.epochs = options.epochs;
    const optimizer = createOptimizer(state.config.optimizer, state.config.learningRate);
    if (optimizerWeights.length > 0) await optimizer.setWeights(optimizerWeights);
    return { model, optimizer, state };
  }
  if (!options.config) throw new Error("train: give either config or resume");
  const config = options.config;
  const model = buildModel(config.model, { resize: config.resize, seed: config.seed });
  const optimizer = createOptimizer(config.optimizer, config.learningRate);
  return { model, optimizer, state: initialState(config) };
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
  const log = options.log ?? (() => {});
  const write = options.write ?? (() => {});
  const { model, optimizer, state } = await prepare(options);
  const { config } = state;
  const trainSplit = takeFirst(options.dataset.train, config.limit);
  const testSplit = takeFirst(options.dataset.test, config.testLimit);
  const limit = microBatchLimit(model, options.backend.maxBindingBytes);
  const parts = splitEvenly(config.batchSize, limit);
  const stepsPerEpoch = batchCount(trainSplit.count, config.batchSize);
  const context = { model, optimizer, resize: config.resize, microBatchLimit: limit };
  const evalBatch = Math.min(limit, EVAL_BATCH_LIMIT);

  log(
    `model: ${config.model} at ${config.resize}×${config.resize}, ${
      model.countParams().toLocaleString("en-US")
    } parameters; ${config.optimizer} lr ${config.learningRate}, seed ${config.seed}`,
  );
  log(
    `data: ${config.dataset} from ${options.dataset.dir}: ${trainSplit.count} training, ${testSplit.count} test images`,
  );
  log(
    `plan: ${config.epochs} epoch${
      config.epochs === 1 ? "" : "s"
    } × ${stepsPerEpoch} steps of batch ${config.batchSize}` +
      (parts.length > 1
        ? `, each split into ${parts.length} micro-batches of ≤${
          Math.max(...parts)
        } (device binding limit ${
          (options.backend.maxBindingBytes / 2 ** 20).toFixed(0)
        } MiB), gradients accumulated`
        : ""),
  );
  const warnIfSlow = (secondsPerStep: number) => {
    const total = secondsPerStep * stepsPerEpoch * config.epochs;
    if (total < SLOW_RUN_SECONDS) return;
    log(
      `warning: ${options.backend.description} is a software adapter: at ${
        secondsPerStep.toFixed(1)
      } s/step this run needs about ${formatDuration(total)}.` +
        (config.model === QUICK_MODEL
          ? ""
          : ` For a run that finishes in minutes here, see the quick recipe: --model ${QUICK_MODEL}`),
    );
  };
  if (state.epoch > 0 || state.batch > 0) {
    log(`resuming at epoch ${state.epoch + 1}, step ${state.batch + 1} of ${stepsPerEpoch}`);
  }

  let stepsThisRun = 0;
  for (; state.epoch < config.epochs; state.epoch++) {
    const epochNumber = state.epoch + 1;
    const progress = new Progress({
      total: trainSplit.count,
      label: `epoch ${epochNumber}/${config.epochs}`,
      unit: "img",
      initial: state.partial.seen,
      interactive: options.interactive ?? false,
      write,
    });
    let lossSum = tf.scalar(state.partial.lossSum);
    let correct = tf.scalar(state.partial.correct, "int32");
    const secondsBefore = state.partial.seconds;
    const seenBefore = state.partial.seen;
    let lastRead = 0;
    const readPartial = async () => {
      const [loss, right] = await Promise.all([lossSum.data(), correct.data()]);
      state.partial = {
        lossSum: loss[0],
        correct: right[0],
        seen: state.partial.seen,
        seconds: secondsBefore + progress.elapsed,
      };
      lastRead = progress.elapsed;
    };
    const batches = epochBatches(trainSplit, {
      batchSize: config.batchSize,
      shuffle: { seed: config.seed, epoch: state.epoch },
      startBatch: state.batch,
    });
    for (const batch of batches) {
      const result = trainStep(context, batch, mixSeed(config.seed, state.step, DROPOUT_STREAM));
      const sums = [lossSum, correct];
      lossSum = lossSum.add(result.lossSum);
      correct = correct.add(result.correct);
      tf.dispose([...sums, result.lossSum, result.correct]);
      state.batch++;
      state.step++;
      state.partial.seen += batch.count;
      options.onStep?.(state);
      stepsThisRun++;
      const measureNow = options.backend.software && stepsThisRun <= 2;
      if (progress.elapsed - lastRead >= METRICS_READ_INTERVAL || measureNow) {
        const before = lastRead;
        await readPartial();
        const seen = state.partial.seen;
        progress.update(
          seen,
          `loss ${(state.partial.lossSum / seen).toFixed(4)}, acc ${
            (state.partial.correct / seen).toFixed(3)
          }`,
        );
        if (measureNow && stepsThisRun === 2) {
          progress.finish();
          warnIfSlow(progress.elapsed - before);
        }
      }
      if (options.signal?.aborted) {
        await readPartial();
        progress.finish();
        tf.dispose([lossSum, correct]);
        await saveCheckpoint(options.runDir, model, optimizer, state);
        return { model, state, interrupted: true };
      }
    }
    await readPartial();
    progress.finish();
    tf.dispose([lossSum, correct]);
    const evalStart = performance.now();
    const evaluation = await evaluate(model, testSplit, {
      resize: config.resize,
      batchSize: evalBatch,
    });
    const { lossSum: epochLoss, correct: epochCorrect, seen, seconds } = state.partial;
    const record: EpochRecord = {
      epoch: epochNumber,
      loss: epochLoss / seen,
      trainAccuracy: epochCorrect / seen,
      testAccuracy: evaluation.accuracy,
      seconds,
      evalSeconds: (performance.now() - evalStart) / 1000,
      imagesPerSecond: (seen - seenBefore) / Math.max(seconds - secondsBefore, 1e-9),
    };
    state.history.push(record);
    state.batch = 0;
    state.partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
    log(format(record));
    const finished = { ...state, epoch: state.epoch + 1 };
    await saveCheckpoint(options.runDir, model, optimizer, finished);
    await writeRunFiles(options.runDir, finished);
  }
  return { model, state, interrupted: false };
}
