import { IMAGE_SIZE, type Split } from "./load.ts";
import { mixSeed, seededRandom } from "./random.ts";

/** A batch of examples copied out of a split, still uint8. */
export interface Batch {
  /** `count × 28 × 28` pixels. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** Options of {@link epochBatches}. */
export interface EpochBatchOptions {
  batchSize: number;
  /** Shuffle with this seed and epoch (a fresh order every epoch); file order when absent. */
  shuffle?: { seed: number; epoch: number };
  /** Skip the batches before this one (to resume inside an epoch). */
  startBatch?: number;
}

/**
 * The order in which an epoch visits a split's examples: a Fisher–Yates
 * shuffle driven by a generator seeded from `(seed, epoch)`, so the same seed
 * and epoch always give the same order.
 */
export function shuffledOrder(
  count: number,
  seed: number,
  epoch: number,
): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const random = seededRandom(mixSeed(seed, epoch));
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Copies the examples at `indices` out of a split into one batch. */
export function gatherBatch(split: Split, indices: ArrayLike<number>): Batch {
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i];
    images.set(
      split.images.subarray(source * pixels, (source + 1) * pixels),
      i * pixels,
    );
    labels[i] = split.labels[source];
  }
  return { images, labels, count: indices.length };
}

/** How many batches an epoch over `count` examples has (the last partial one included). */
export function batchCount(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize);
}

/**
 * The batches of one epoch over a split: shuffled when `shuffle` is given,
 * in file order otherwise; the last partial batch is kept.
 */
export function* epochBatches(
  split: Split,
  options: EpochBatchOptions,
): Generator<Batch> {
  const { batchSize, shuffle, startBatch = 0 } = options;
  const order = shuffle ? shuffledOrder(split.count, shuffle.seed, shuffle.epoch) : undefined;
  for (let start = startBatch * batchSize; start < split.count; start += batchSize) {
    const end = Math.min(start + batchSize, split.count);
    if (order) {
      yield gatherBatch(split, order.subarray(start, end));
    } else {
      const pixels = IMAGE_SIZE * IMAGE_SIZE;
      yield {
        images: split.images.subarray(start * pixels, end * pixels),
        labels: split.labels.subarray(start, end),
        count: end - start,
      };
    }
  }
}
