import type * as tf from "@tensorflow/tfjs";
import { epochBatches } from "../data/batches.ts";
import { NUM_CLASSES, type Split } from "../data/load.ts";
import { predictClasses } from "./predict.ts";
import { batchSlice } from "./step_plan.ts";
import type { GradientWorkers } from "./workers/gradient_workers.ts";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  resize: number;
  /** Examples per forward pass. */
  batchSize: number;
  /** Workers that classify shares of the split in parallel (wasm): each gets the model's weights. */
  workers?: GradientWorkers;
  /** Called after each round of forward passes with the images done, the split's size and the accuracy so far. */
  onProgress?: (done: number, total: number, accuracy: number) => void;
}

/** How well a model classifies a split. */
export interface Evaluation {
  count: number;
  accuracy: number;
  /** Accuracy of each true class. */
  perClass: number[];
  /** `confusion[truth][predicted]` counts. */
  confusion: number[][];
  /** The predicted classes of the split's first {@link FIRST_PREDICTIONS} examples (for a page to show). */
  firstPredictions: number[];
}

/** How many predictions {@link Evaluation.firstPredictions} keeps. */
export const FIRST_PREDICTIONS = 48;

/** Accuracy, per-class accuracy and confusion matrix computed from a confusion matrix. */
export function summarizeConfusion(
  confusion: number[][],
  firstPredictions: number[] = [],
): Evaluation {
  const count = confusion.flat().reduce((a, b) => a + b, 0);
  const correct = confusion.reduce((sum, row, i) => sum + row[i], 0);
  const perClass = confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? 0 : row[i] / total;
  });
  return {
    count,
    accuracy: count === 0 ? 0 : correct / count,
    perClass,
    confusion,
    firstPredictions,
  };
}

/**
 * Evaluates `model` on a split in file order (dropout off), in rounds of
 * one forward pass per thread: the main thread's and, with `workers`, each
 * worker's on the next images.
 */
export async function evaluate(
  model: tf.LayersModel,
  split: Split,
  options: EvaluateOptions,
): Promise<Evaluation> {
  const { batchSize, workers } = options;
  const confusion = Array.from({ length: NUM_CLASSES }, () => new Array(NUM_CLASSES).fill(0));
  const predictions = workers
    ? await workers.predictor(model, {
      resize: options.resize,
      batchSize,
    })
    : undefined;
  const round = batchSize * (1 + (workers?.count ?? 0));
  let done = 0;
  let correct = 0;
  const firstPredictions: number[] = [];
  for (const chunk of epochBatches(split, { batchSize: round })) {
    const own = Math.min(batchSize, chunk.count);
    const others = predictions?.(batchSlice(chunk, own, chunk.count - own));
    const classes = [await predictClasses(model, batchSlice(chunk, 0, own), options.resize)];
    if (others) classes.push(...await others);
    let at = 0;
    for (const part of classes) {
      for (const predicted of part) {
        if (firstPredictions.length < FIRST_PREDICTIONS) firstPredictions.push(predicted);
        const truth = chunk.labels[at++];
        confusion[truth][predicted]++;
        if (truth === predicted) correct++;
      }
    }
    done += chunk.count;
    options.onProgress?.(done, split.count, correct / done);
    // The wasm and cpu backends compute synchronously: let the event loop run (Ctrl-C, pages).
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return summarizeConfusion(confusion, firstPredictions);
}
