import { assert, assertEquals } from "../../support/assert.ts";
import type { ModelName } from "../../../model/registry.ts";
import { networkSize } from "../../../model/workload.ts";
import {
  estimatePeakBytes,
  type Machine,
  MOST_THREADS,
  planThreads,
} from "../../../training/workers/thread_plan.ts";

const GB = 1e9;

function workload(model: ModelName, resize: number) {
  return { ...networkSize(model, resize), batchSize: 128 };
}

/**
 * Peak resident memory of `deno task train --model M --resize R --threads T
 * --limit 512 --test-limit 512 --epochs 1` on the development machine
 * (wasm, OpenBLAS), by `/usr/bin/time -v` (its maximum resident set size,
 * KiB, times 1024).
 */
const MEASURED: [ModelName, number, number, number][] = [
  ["alexnet", 224, 1, 1889884],
  ["alexnet", 224, 2, 2321472],
  ["alexnet", 224, 4, 3077928],
  ["alexnet", 224, 8, 4303728],
  ["alexnet", 96, 1, 824180],
  ["alexnet", 96, 4, 1628876],
  ["lenet-relu", 28, 1, 408504],
  ["lenet-relu", 28, 4, 459032],
];

/** The estimate's constants are fitted to these peaks; within 12% of each. */
const ESTIMATE_TOLERANCE = 0.12;

Deno.test(`the estimated peak memory is within ${ESTIMATE_TOLERANCE * 100}% of measured peaks`, () => {
  for (const [model, resize, threads, kib] of MEASURED) {
    const measured = kib * 1024;
    const estimate = estimatePeakBytes(workload(model, resize), threads);
    const error = estimate / measured - 1;
    assert(
      Math.abs(error) <= ESTIMATE_TOLERANCE,
      `${model} at ${resize}, ${threads} threads: estimated ${(estimate / GB).toFixed(2)} GB, ` +
        `measured ${(measured / GB).toFixed(2)} GB`,
    );
  }
});

Deno.test("the estimate grows with the threads and the network", () => {
  const alexnet = workload("alexnet", 224);
  for (let threads = 2; threads <= MOST_THREADS; threads++) {
    assert(estimatePeakBytes(alexnet, threads) > estimatePeakBytes(alexnet, threads - 1));
  }
  assert(estimatePeakBytes(alexnet, 1) > estimatePeakBytes(workload("alexnet", 96), 1));
});

/** Simulated machines: cores and available memory, AlexNet at 224, batch 128. */
const MACHINES: { machine: Machine; threads: number; reason: RegExp }[] = [
  { machine: { cores: 2, availableBytes: 24 * GB }, threads: 2, reason: /limited by cores/ },
  { machine: { cores: 8, availableBytes: 8 * GB }, threads: 8, reason: /limited by cores/ },
  { machine: { cores: 16, availableBytes: 16 * GB }, threads: 8, reason: /at most 8 threads/ },
  { machine: { cores: 4, availableBytes: 4 * GB }, threads: 4, reason: /limited by cores/ },
  { machine: { cores: 8, availableBytes: 4 * GB }, threads: 4, reason: /limited by memory/ },
  { machine: { cores: 8, availableBytes: 3 * GB }, threads: 2, reason: /limited by memory/ },
  { machine: { cores: 4, availableBytes: 2 * GB }, threads: 1, reason: /may not fit/ },
  { machine: { cores: 4, availableBytes: undefined }, threads: 4, reason: /memory unknown/ },
];

for (const { machine, threads, reason } of MACHINES) {
  const memory = machine.availableBytes === undefined
    ? "unknown memory"
    : `${machine.availableBytes / GB} GB`;
  Deno.test(`AlexNet at 224 on ${machine.cores} cores and ${memory}: ${threads} thread${threads === 1 ? "" : "s"}`, () => {
    const alexnet = workload("alexnet", 224);
    const plan = planThreads(machine, alexnet);
    assertEquals(plan.threads, threads, plan.reason);
    assert(reason.test(plan.reason), plan.reason);
    assertEquals(plan.peakBytes, estimatePeakBytes(alexnet, threads));
    const budget = 0.8 * (machine.availableBytes ?? Infinity);
    // The most threads whose planned peak fits 80% of the memory, within the cores.
    if (threads > 1) assert(plan.peakBytes <= budget);
    if (threads < Math.min(machine.cores, MOST_THREADS)) {
      assert(estimatePeakBytes(alexnet, threads + 1) > budget);
    }
  });
}

Deno.test("--threads overrides the plan and keeps the reason's figures", () => {
  const plan = planThreads({ cores: 2, availableBytes: 24 * GB }, workload("alexnet", 224), 8);
  assertEquals(plan.threads, 8);
  assert(plan.reason.startsWith("--threads 8 (2 cores, 24.0 GB available)"), plan.reason);
});

Deno.test("LeNet takes every core up to 8 on a small machine", () => {
  const plan = planThreads({ cores: 8, availableBytes: 2 * GB }, workload("lenet-relu", 28));
  assertEquals(plan.threads, 8);
});
