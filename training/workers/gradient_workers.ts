import type * as tf from "@tensorflow/tfjs";
import type { Batch } from "../../data/batches.ts";
import type { ModelName } from "../../model/registry.ts";
import type { BackendInfo } from "../../backend/setup.ts";
import { type BlasChoice, workerBlasChoice } from "../../backend/wasm/blas.ts";
import { copyFloats } from "../../backend/wasm/heap.ts";
import type { DropoutPlan } from "../forward.ts";
import type { MomentValues } from "../batch_statistics.ts";
import { trainableVariables } from "../gradients.ts";
import { batchSlice, MIN_SHARE, type Share } from "../step_plan.ts";
// Carried into bundles, which start their workers from themselves (see workerEntry).
import "./gradient_worker.ts";
import type { SharedBuffers, WorkerReply, WorkerRequest } from "./messages.ts";
import { GRADIENT_WORKER_NAME } from "./worker_role.ts";

/** What the workers computed of a step: the sum of their gradients, and their shares' sums. */
export interface WorkersPart {
  /** Views of shared memory, valid until the next step. */
  gradients: Float32Array[];
  /** Sum of the shares' losses divided by the size of the whole batch. */
  scaledLoss: number;
  correct: number;
  /** Each batch norm's moments over each worker's share. */
  moments: Map<string, MomentValues[]>;
}

/** What the workers compute on. */
export interface WorkerOptions {
  model: ModelName;
  resize: number;
  /** The Dropout layers' rate when not the network's own (see `NetworkOptions`). */
  dropout?: number;
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
    /** The weights sent to every worker, the sum of their gradients and its locks. */
    private readonly shared: SharedBuffers,
    /** Fewest examples per share of a batch. */
    readonly minShare: number,
    /** The BLAS the workers opened, as the main thread told them: its path, or `none`. */
    readonly blas: BlasChoice,
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
      const { model, resize, dropout } = options;
      const allocate = i === 0 ? { separateWeights: workers.length > 1 } : undefined;
      const blas = workerBlasChoice();
      worker.postMessage(
        { kind: "init", model, resize, blas, dropout, allocate } satisfies WorkerRequest,
      );
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
    const shared = ready[0]?.shared;
    if (ready.length < workers.length || shared === undefined) {
      workers.forEach((worker) => worker.terminate());
      return undefined;
    }
    return new GradientWorkers(workers, shared, options.minShare ?? MIN_SHARE, ready[0].blas);
  }

  /**
   * Sends the current weights and the `shares` of `batch` (the plan's
   * shares after the main thread's, one per worker) to the workers.
   * Resolves once they are sent, to a function that waits for the sum of
   * their gradients (not to a promise of it, which `await` would flatten
   * into waiting now).
   */
  async dispatch(
    variables: tf.Variable[],
    batch: Batch,
    split: { shares: Share[]; dropout: DropoutPlan },
  ): Promise<() => Promise<WorkersPart>> {
    const { shares, dropout } = split;
    const { shared } = this;
    await Promise.all(variables.map((v, i) => copyFloats(v, shared.weights[i])));
    // No worker is adding now: the counts restart without their locks.
    for (let i = 1; i < shared.locks.length; i += 2) shared.locks[i] = 0;
    const replies = shares.map(({ offset, count, microBatches }, i) => {
      const worker = this.workers[i];
      const reply = nextReply(worker);
      const part = batchSlice(batch, offset, count);
      const message: WorkerRequest = {
        kind: "step",
        index: i,
        shared,
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
      Promise.all(replies).then((all) => {
        const results = all.map(expectResult);
        const moments = new Map<string, MomentValues[]>();
        for (const result of results) {
          for (const [layer, values] of result.moments) {
            moments.set(layer, [...(moments.get(layer) ?? []), values]);
          }
        }
        return {
          gradients: shared.gradients,
          scaledLoss: results.reduce((sum, r) => sum + r.scaledLoss, 0),
          correct: results.reduce((sum, r) => sum + r.correct, 0),
          moments,
        };
      });
  }

  /**
   * Copies the model's weights to the workers for an evaluation and returns a
   * function that classifies images: it cuts them among the workers, at
   * most `batchSize` each, and resolves to each worker's classes in order.
   */
  async predictor(
    model: tf.LayersModel,
    options: { resize: number; batchSize: number },
  ): Promise<(images: Batch) => Promise<Uint8Array[]>> {
    const { shared } = this;
    const variables = trainableVariables(model);
    await Promise.all(variables.map((v, i) => copyFloats(v, shared.weights[i])));
    const state = await Promise.all(
      model.nonTrainableWeights.map(async (weight) =>
        Float32Array.from(await weight.read().data() as Float32Array)
      ),
    );
    const loaded = new Set<number>();
    return (images) =>
      Promise.all(
        this.workers.map((worker, i) => {
          const start = i * options.batchSize;
          const count = Math.min(options.batchSize, images.count - start);
          if (count <= 0) return Promise.resolve(new Uint8Array());
          const reply = nextReply(worker);
          const part = batchSlice(images, start, count);
          const message: WorkerRequest = {
            kind: "predict",
            loadWeights: !loaded.has(i),
            shared,
            state,
            images: { images: part.images.slice(), labels: part.labels.slice(), count },
            resize: options.resize,
            batchSize: options.batchSize,
          };
          loaded.add(i);
          worker.postMessage(message, { transfer: [message.images.images.buffer as ArrayBuffer] });
          return reply.then((answer) => {
            if (answer.kind !== "classes") {
              throw new Error(
                `gradient worker failed: ${answer.kind === "error" ? answer.message : answer.kind}`,
              );
            }
            return answer.classes;
          });
        }),
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

/**
 * Gradient workers for a step shared by `threads` threads on `backend`: on
 * wasm, `threads − 1` workers; none on other backends, for one thread, or
 * where the workers cannot start.
 */
export async function workersFor(
  backend: BackendInfo,
  options: Omit<WorkerOptions, "count"> & { threads: number },
): Promise<GradientWorkers | undefined> {
  const { threads, ...rest } = options;
  if (backend.name !== "wasm" || threads <= 1) return undefined;
  return await GradientWorkers.start({ ...rest, count: threads - 1 });
}
