import * as tf from "@tensorflow/tfjs";
import { epochBatches } from "../data/batches.ts";
import { NUM_CLASSES, type Split } from "../data/load.ts";
import { resizeBatch } from "../data/resize.ts";
import { forward } from "./forward.ts";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  resize: number;
  /** Examples per forward pass. */
  batchSize: number;
}

/** How well a model classifies a split. */
export interface Evaluation {
  count: number;
  accuracy: number;
  /** Accuracy of each true class. */
  perClass: number[];
  /** `confusion[truth][predicted]` counts. */
  confusion: number[][];
}

/** Accuracy, per-class accuracy and confusion matrix computed from a confusion matrix. */
export function summarizeConfusion(confusion: number[][]): Evaluation {
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
  };
}

/**
 * Evaluates `model` on a split in file order (dropout off). The confusion
 * matrix accumulates on the device and is read once at the end.
 */
export async function evaluate(
  model: tf.Sequential,
  split: Split,
  options: EvaluateOptions,
): Promise<Evaluation> {
  let confusion = tf.zeros([NUM_CLASSES, NUM_CLASSES], "int32");
  for (const batch of epochBatches(split, { batchSize: options.batchSize })) {
    const next = tf.tidy(() => {
      const images = resizeBatch(batch.images, batch.count, options.resize);
      const predicted = tf.argMax(forward(model, images), 1);
      const truth = tf.tensor1d(batch.labels, "int32");
      const pairs = tf.matMul(
        tf.oneHot(truth, NUM_CLASSES).toFloat(),
        tf.oneHot(predicted, NUM_CLASSES).toFloat(),
        true,
        false,
      );
      return confusion.add(pairs.round().toInt());
    });
    confusion.dispose();
    confusion = next;
  }
  const values = await confusion.data();
  confusion.dispose();
  return summarizeConfusion(
    Array.from(
      { length: NUM_CLASSES },
      (_, row) => Array.from(values.subarray(row * NUM_CLASSES, (row + 1) * NUM_CLASSES)),
    ),
  );
}
