import { assertEquals } from "../support/assert.ts";
import { buildModel } from "../../model/registry.ts";
import { setupBackend } from "../../backend/setup.ts";
import { largestActivationBytes, microBatchLimit, splitEvenly } from "../../training/step_plan.ts";

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
