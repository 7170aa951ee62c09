import { assert, assertEquals } from "../support/assert.ts";
import { batchCount, epochBatches, shuffledOrder } from "../../data/batches.ts";
import type { Split } from "../../data/load.ts";

function syntheticSplit(count: number): Split {
  const images = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) images.fill(i % 256, i * 784, (i + 1) * 784);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count };
}

Deno.test("the same seed and epoch give the same order; other epochs or seeds another", () => {
  const order = Array.from(shuffledOrder(1000, 7, 0));
  assertEquals(Array.from(shuffledOrder(1000, 7, 0)), order);
  assert(Array.from(shuffledOrder(1000, 7, 1)).join() !== order.join(), "epoch 1 repeats epoch 0");
  assert(Array.from(shuffledOrder(1000, 8, 0)).join() !== order.join(), "seed 8 repeats seed 7");
  assertEquals([...order].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert(
    order.slice(0, 20).join() !== Array.from({ length: 20 }, (_, i) => i).join(),
    "not shuffled",
  );
});

Deno.test("training batches visit every example once, the last partial batch kept", () => {
  const split = syntheticSplit(10);
  const batches = [...epochBatches(split, { batchSize: 4, shuffle: { seed: 1, epoch: 0 } })];
  assertEquals(batches.map((b) => b.count), [4, 4, 2]);
  assertEquals(batchCount(10, 4), 3);
  const seen = batches.flatMap((b) => Array.from({ length: b.count }, (_, i) => b.images[i * 784]));
  assertEquals([...seen].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  const labels = batches.flatMap((b) => Array.from(b.labels));
  assertEquals(labels, seen.map((pixel) => pixel % 10));
});

Deno.test("test batches come in file order; startBatch resumes inside an epoch", () => {
  const split = syntheticSplit(7);
  const batches = [...epochBatches(split, { batchSize: 3 })];
  assertEquals(batches.flatMap((b) => Array.from(b.labels)), [0, 1, 2, 3, 4, 5, 6]);
  const shuffle = { seed: 3, epoch: 2 };
  const all = [...epochBatches(split, { batchSize: 3, shuffle })];
  const resumed = [...epochBatches(split, { batchSize: 3, shuffle, startBatch: 1 })];
  assertEquals(
    resumed.map((b) => Array.from(b.labels)),
    all.slice(1).map((b) => Array.from(b.labels)),
  );
});
