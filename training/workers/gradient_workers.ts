import type * as tf from "@tensorflow/tfjs";
import type { Batch } from "../../data/batches.ts";
import type { ModelName } from "../../model/registry.ts";
import type { BackendInfo } from "../../backend/setup.ts";
import { copyFloats } from "../../backend/wasm/heap.ts";
import type { DropoutPlan } from "../forward.ts";
import { splitEvenly } from "../step_plan.ts";
import { batchSlice } from "../step.ts";
// Carried into bundles, which start their helpers from themselves (see workerEntry).
import "./gradient_worker.ts";
import { GRADIENT_WORKER_NAME } from "./worker_role.ts";

/**
 * Messages to a helper worker. A step's weights and gradients are views of
 * memory shared with the main thread (allocated once): the worker reads the
 * weights there and writes its gradients there before it replies.
 */
export type HelperRequest =
  | {
    kind: "init";
    model: ModelName;
    resize: number;
    /** Where the main thread writes each step's weights for this worker. */
    weightsPlace: WeightsPlace;
  }
  | {
    kind: "step";
    weights: Float32Array[];
    gradients: Float32Array[];
    part: Batch;
    dropout: DropoutPlan;
    /** Most examples per micro-batch. */
    microBatchLimit: number;
  };

/**
 * Where a worker reads each step's weights: "own", a block of shared
 * memory it makes for all workers (the first of several); "none", that
 * block of the first worker (the others); "gradients", the block of its own
 * gradients (a lone worker: it reads a step's weights before it writes its
 * gradients there, and the main thread writes the next weights only after
 * it has read those gradients). For AlexNet, a lone worker's 187 MB less
 * shared memory to make and write.
 */
export type WeightsPlace = "own" | "gradients" | "none";

/** A worker's share of a step: its gradients (views of shared memory, valid until the next step) and sums. */
export interface SharedPart {
  gradients: Float32Array[];
  /** Sum of the share's losses divided by the size of the whole batch. */
  scaledLoss: number;
  correct: number;
}

/**
 * A worker's shared memory, made and first written by the worker while it
 * starts (fresh pages cost about 11 µs each on a VM: AlexNet's weights and
 * gradients, 374 MB, once took 1.5 s of the first step), in the order of
 * the model's trainable weights.
 */
export interface SharedBuffers {
  /** Where the worker writes its gradients. */
  gradients: Float32Array[];
  /** Where the main thread writes the weights of each step, if this worker holds them. */
  weights?: Float32Array[];
}

/** Messages from a helper worker. */
export type HelperReply =
  | { kind: "ready"; buffers: SharedBuffers }
  | { kind: "result"; scaledLoss: number; correct: number }
  | { kind: "error"; message: string };

/** What the helpers compute on. */
export interface HelperOptions {
  model: ModelName;
  resize: number;
  /** How many workers to start. */
  count: number;
  /** Fewest examples per share of a batch (default {@link MIN_SHARE}). */
  minShare?: number;
  /** Stops a start still under way: its workers end and `start` returns undefined. */
  signal?: AbortSignal;
}

/**
 * Fewest examples worth a share of their own: each share costs a copy of the
 * weights to its worker and of the gradients back (AlexNet at 224, batch 16
 * on two threads: slower than on one; batch 32: 1.6× faster).
 */
export const MIN_SHARE = 16;

/**
 * The module a helper starts from: the worker module in a source tree; in a
 * bundle or compiled binary, which carries it, the bundle itself.
 */
function workerEntry(): URL {
  const fromSource = import.meta.url.endsWith("/training/workers/gradient_workers.ts");
  return fromSource ? new URL("./gradient_worker.ts", import.meta.url) : new URL(import.meta.url);
}

function nextReply(worker: Worker): Promise<HelperReply> {
  return new Promise((resolve) => {
    worker.onmessage = (event: MessageEvent<HelperReply>) => resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      resolve({ kind: "error", message: event.message });
    };
  });
}

function expectResult(reply: HelperReply): Extract<HelperReply, { kind: "result" }> {
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
export class GradientHelpers {
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
   * How a batch of `count` examples is shared out: as many even shares of
   * at least `minShare` examples as there are threads (main + workers).
   */
  shares(count: number): number[] {
    const threads = Math.max(1, Math.min(1 + this.count, Math.floor(count / this.minShare)));
    return splitEvenly(count, Math.ceil(count / threads));
  }

  /**
   * Starts `count` workers and loads the model in each. Returns undefined,
   * after closing any that started, when one cannot start or `signal` aborts.
   */
  static async start(options: HelperOptions): Promise<GradientHelpers | undefined> {
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
      worker.postMessage({ kind: "init", model, resize, weightsPlace } satisfies HelperRequest);
    });
    let onAbort = () => {};
    const aborted = new Promise<HelperReply[]>((resolve) => {
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
    return new GradientHelpers(workers, { weights, gradients }, options.minShare ?? MIN_SHARE);
  }

  /**
   * Sends the current weights and shares 1.. of `batch` (sizes `shares`
   * from {@link shares}, share 0 being the caller's, each split into
   * micro-batches of at most `microBatchLimit`) to the workers. Resolves once they are sent,
   * to a function that waits for their gradients (not to a promise of them,
   * which `await` would flatten into waiting now).
   */
  async dispatch(
    variables: tf.Variable[],
    batch: Batch,
    split: { shares: number[]; dropout: DropoutPlan; microBatchLimit: number },
  ): Promise<() => Promise<SharedPart[]>> {
    const { shares, dropout, microBatchLimit } = split;
    const { weights, gradients } = this.shared;
    await Promise.all(variables.map((v, i) => copyFloats(v, weights[i])));
    const replies: Promise<HelperReply>[] = [];
    let offset = shares[0];
    shares.slice(1).forEach((size, i) => {
      const worker = this.workers[i];
      replies.push(nextReply(worker));
      const part = batchSlice(batch, offset, size);
      const message: HelperRequest = {
        kind: "step",
        weights,
        gradients: gradients[i],
        part: { images: part.images.slice(), labels: part.labels.slice(), count: size },
        dropout: { ...dropout, offset },
        microBatchLimit,
      };
      worker.postMessage(message, {
        transfer: [
          message.part.images.buffer as ArrayBuffer,
          message.part.labels.buffer as ArrayBuffer,
        ],
      });
      offset += size;
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
export function helperCount(): number {
  return Math.min(7, Math.max(0, (navigator.hardwareConcurrency ?? 1) - 1));
}

/**
 * Helpers for training on `backend`: on wasm, one worker per further core
 * (see {@link helperCount}); none on other backends, on one core, or where
 * the workers cannot start.
 */
export async function helpersFor(
  backend: BackendInfo,
  options: Omit<HelperOptions, "count">,
): Promise<GradientHelpers | undefined> {
  const count = helperCount();
  if (backend.name !== "wasm" || count === 0) return undefined;
  return await GradientHelpers.start({ ...options, count });
}
