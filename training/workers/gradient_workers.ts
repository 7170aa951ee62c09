import type * as tf from "@tensorflow/tfjs";
import type { Batch } from "../../data/batches.ts";
import type { ModelName } from "../../model/registry.ts";
import type { BackendInfo } from "../../backend/setup.ts";
import { copyFloats } from "../../backend/wasm/heap.ts";
import type { DropoutPlan } from "../forward.ts";
import { batchSlice, MIN_SHARE, type Share } from "../step_plan.ts";
// Carried into bundles, which start their workers from themselves (see workerEntry).
import "./gradient_worker.ts";
import type { WorkerReply, WorkerRequest } from "./messages.ts";
import { GRADIENT_WORKER_NAME } from "./worker_role.ts";

/** A worker's share of a step: its gradients (views of shared memory, valid until the next step) and sums. */
export interface SharedPart {
  gradients: Float32Array[];
  /** Sum of the share's losses divided by the size of the whole batch. */
  scaledLoss: number;
  correct: number;
}

/** What the workers compute on. */
export interface WorkerOptions {
  model: ModelName;
  resize: number;
  /** How many workers to start. */
  count: number;
  /** Fewest examples per share of a batch (default `MIN_SHARE`). */
  minShare?: number;
  /** Stops a start still under way: its workers end and `start` returns undefined. */
  signal?: AbortSignal;
}

/**
 * The module a worker starts from: the worker module in a source tree; in a
 * bundle or compiled binary, which carries it, the bundle itself.
 */
function workerEntry(): URL {
  const fromSource = import.meta.url.endsWith("/training/workers/gradient_workers.ts");
  return fromSource ? new URL("./gradient_worker.ts", import.meta.url) : new URL(import.meta.url);
}

function nextReply(worker: Worker): Promise<WorkerReply> {
  return new Promise((resolve) => {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      resolve({ kind: "error", message: event.message });
    };
  });
}

function expectResult(reply: WorkerReply): Extract<WorkerReply, { kind: "result" }> {
  if (reply.kind !== "result") {
    throw new Error(
      `gradient worker failed: ${reply.kind === "error" ? reply.message : reply.kind}`,
    );
  }
  return reply;
}

/**
 * Workers, each with its own copy of the model on its own wasm backend,
 * that compute the gradients of shares of a batch while the main thread
 * computes its own share: the wasm backend runs on one core, and this is
 * how a training step uses the others.
 */
export class GradientWorkers {
  private constructor(
    private readonly workers: Worker[],
    /** The weights sent to every worker, and each worker's gradients, in shared memory. */
    private readonly shared: { weights: Float32Array[]; gradients: Float32Array[][] },
    /** Fewest examples per share of a batch. */
    readonly minShare: number,
  ) {}

  /** Number of workers. */
  get count(): number {
    return this.workers.length;
  }

  /**
   * Starts `count` workers and loads the model in each. Returns undefined,
   * after closing any that started, when one cannot start or `signal` aborts.
   */
  static async start(options: WorkerOptions): Promise<GradientWorkers | undefined> {
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < options.count; i++) {
        workers.push(
          new Worker(workerEntry(), { type: "module", name: GRADIENT_WORKER_NAME }),
        );
      }
    } catch {
      workers.forEach((worker) => worker.terminate());
      return undefined;
    }
    const replies = workers.map((worker) => nextReply(worker));
    workers.forEach((worker, i) => {
      const { model, resize } = options;
      const weightsPlace = workers.length === 1 ? "gradients" : i === 0 ? "own" : "none";
      worker.postMessage({ kind: "init", model, resize, weightsPlace } satisfies WorkerRequest);
    });
    let onAbort = () => {};
    const aborted = new Promise<WorkerReply[]>((resolve) => {
      onAbort = () => resolve([]);
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
    const outcome = await Promise.race([Promise.all(replies), aborted]);
    options.signal?.removeEventListener("abort", onAbort);
    const ready = outcome.filter((reply) => reply.kind === "ready");
    const weights = ready[0]?.buffers.weights;
    if (ready.length < workers.length || weights === undefined) {
      workers.forEach((worker) => worker.terminate());
      return undefined;
    }
    const gradients = ready.map((reply) => reply.buffers.gradients);
    return new GradientWorkers(workers, { weights, gradients }, options.minShare ?? MIN_SHARE);
  }

  /**
   * Sends the current weights and the `shares` of `batch` (the plan's
   * shares after the main thread's, one per worker) to the workers.
   * Resolves once they are sent, to a function that waits for their
   * gradients (not to a promise of them, which `await` would flatten into
   * waiting now).
   */
  async dispatch(
    variables: tf.Variable[],
    batch: Batch,
    split: { shares: Share[]; dropout: DropoutPlan },
  ): Promise<() => Promise<SharedPart[]>> {
    const { shares, dropout } = split;
    const { weights, gradients } = this.shared;
    await Promise.all(variables.map((v, i) => copyFloats(v, weights[i])));
    const replies = shares.map(({ offset, count, microBatches }, i) => {
      const worker = this.workers[i];
      const reply = nextReply(worker);
      const part = batchSlice(batch, offset, count);
      const message: WorkerRequest = {
        kind: "step",
        weights,
        gradients: gradients[i],
        part: { images: part.images.slice(), labels: part.labels.slice(), count },
        dropout: { ...dropout, offset },
        microBatches,
      };
      worker.postMessage(message, {
        transfer: [
          message.part.images.buffer as ArrayBuffer,
          message.part.labels.buffer as ArrayBuffer,
        ],
      });
      return reply;
    });
    return () =>
      Promise.all(replies).then((all) =>
        all.map((reply, i) => {
          const { scaledLoss, correct } = expectResult(reply);
          return { gradients: gradients[i], scaledLoss, correct };
        })
      );
  }

  /** "N threads (main + K workers)", for headers. */
  describe(): string {
    const count = this.workers.length;
    return `${count + 1} threads (main + ${count} worker${count === 1 ? "" : "s"})`;
  }

  /** Stops the workers. */
  close(): void {
    this.workers.forEach((worker) => worker.terminate());
  }
}

/** Workers worth starting on this machine for the wasm backend: one per further core, at most 7. */
export function workerCount(): number {
  return Math.min(7, Math.max(0, (navigator.hardwareConcurrency ?? 1) - 1));
}

/**
 * Gradient workers for training on `backend`: on wasm, one per further
 * core (see {@link workerCount}); none on other backends, on one core, or
 * where the workers cannot start.
 */
export async function workersFor(
  backend: BackendInfo,
  options: Omit<WorkerOptions, "count">,
): Promise<GradientWorkers | undefined> {
  const count = workerCount();
  if (backend.name !== "wasm" || count === 0) return undefined;
  return await GradientWorkers.start({ ...options, count });
}
