import { assertEquals } from "../support/assert.ts";
import { buildModel } from "../../model/registry.ts";
import { setupBackend } from "../../backend/setup.ts";
import {
  largestActivationBytes,
  microBatchLimit,
  planStep,
  splitEvenly,
} from "../../training/step_plan.ts";

await setupBackend("cpu");

Deno.test("AlexNet at 224, batch 128, on a 128 MiB binding limit: two micro-batches of 64", () => {
  const model = buildModel("alexnet", { resize: 224, seed: 0 });
  assertEquals(largestActivationBytes(model), 54 * 54 * 96 * 4);
  const limit = microBatchLimit(model, 128 * 2 ** 20);
  assertEquals(limit, 119);
  assertEquals(splitEvenly(128, limit), [64, 64]);
  assertEquals(splitEvenly(128, microBatchLimit(model, Infinity)), [128]);
  model.dispose();
});

Deno.test("splitEvenly: as few parts as the limit allows, sizes differing by at most one", () => {
  assertEquals(splitEvenly(10, 4), [4, 3, 3]);
  assertEquals(splitEvenly(8, 3), [3, 3, 2]);
  assertEquals(splitEvenly(5, 100), [5]);
  assertEquals(splitEvenly(1, 1), [1]);
});

Deno.test("planStep: even shares of at least minShare, one per thread, each cut to the limit", () => {
  const shape = (plan: ReturnType<typeof planStep>) =>
    plan.shares.map(({ offset, count, microBatches }) => [offset, count, microBatches]);
  assertEquals(shape(planStep({ batchSize: 128, threads: 2, microBatchLimit: 239 })), [
    [0, 64, [64]],
    [64, 64, [64]],
  ]);
  // 2 threads but a batch of 20: one share (16 is the fewest examples worth a share).
  assertEquals(shape(planStep({ batchSize: 20, threads: 2, microBatchLimit: 239 })), [
    [0, 20, [20]],
  ]);
  assertEquals(shape(planStep({ batchSize: 8, threads: 2, microBatchLimit: 3, minShare: 1 })), [
    [0, 4, [2, 2]],
    [4, 4, [2, 2]],
  ]);
  assertEquals(shape(planStep({ batchSize: 128, threads: 8, microBatchLimit: 119 })), [
    [0, 16, [16]],
    [16, 16, [16]],
    [32, 16, [16]],
    [48, 16, [16]],
    [64, 16, [16]],
    [80, 16, [16]],
    [96, 16, [16]],
    [112, 16, [16]],
  ]);
  // The last, partial batch of an epoch: 96 examples on 8 threads.
  assertEquals(planStep({ batchSize: 96, threads: 8, microBatchLimit: 119 }).shares.length, 6);
});
