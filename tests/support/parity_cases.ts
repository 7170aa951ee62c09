import type * as tf from "@tensorflow/tfjs";
import type { ModelName } from "../../model/registry.ts";
import { buildModel } from "../../model/registry.ts";

/** One comparison of training with PyTorch's (see tests/fixtures/make_parity_reference.py). */
export interface ParityCase {
  model: ModelName;
  resize: number;
  batch: number;
  /** Adam steps on the first batches of the training set, in file order. */
  steps: number;
  seed: number;
}

/**
 * AlexNet at 67 (the cheapest input it takes, the resize included) and
 * LeNet-ReLU (a flatten of a 5×5 map: the layout of the first dense layer).
 */
export const PARITY_CASES: ParityCase[] = [
  { model: "alexnet", resize: 67, batch: 32, steps: 6, seed: 21 },
  { model: "lenet-relu", resize: 28, batch: 256, steps: 10, seed: 22 },
];

/** Every how many values of a weight the fixture samples one after the last step. */
export const SAMPLES_PER_WEIGHT = 16;

/** The network of a case, dropout off (PyTorch's side has none). */
export function buildParityModel(parityCase: ParityCase): tf.Sequential {
  const { model, resize, seed } = parityCase;
  return buildModel(model, { resize, seed, dropout: 0 });
}

/** Evenly spaced indices of `size` values, `SAMPLES_PER_WEIGHT` of them at most. */
export function sampleIndices(size: number): number[] {
  const count = Math.min(size, SAMPLES_PER_WEIGHT);
  return Array.from({ length: count }, (_, i) => Math.floor((i * size) / count));
}

/** The sum of all initial weights in float64, in order: tells whether both sides started alike. */
export async function weightChecksum(model: tf.Sequential): Promise<number> {
  let sum = 0;
  for (const weight of model.trainableWeights) {
    for (const value of await weight.read().data()) sum += value;
  }
  return sum;
}
