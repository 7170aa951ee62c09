/**
 * The messages between the main thread and a gradient worker.
 *
 * @module
 */
import type { BlasChoice } from "../../backend/wasm/blas.ts";
import type { Batch } from "../../data/batches.ts";
import type { ModelName } from "../../model/registry.ts";
import type { DropoutPlan } from "../forward.ts";
import type { MomentValues } from "../batch_statistics.ts";

/**
 * Messages to a gradient worker. A step's weights, the sum of the workers'
 * gradients and the locks that guard it are views of memory shared with the
 * main thread (allocated once): the worker reads the weights, then adds its
 * gradients into the sum, one weight at a time under that weight's lock,
 * before it replies.
 */
export type WorkerRequest =
  | {
    kind: "init";
    model: ModelName;
    resize: number;
    /** The main thread's BLAS (its path, or `none`): each worker opens its own copy of it. */
    blas: BlasChoice;
    /** The Dropout layers' rate when not the network's own (0: off, for the parity tests). */
    dropout?: number;
    /**
     * Make the shared memory (the first worker): the sum of gradients and its
     * locks, and a block for the weights when `separateWeights` (several
     * workers; a lone worker reads a step's weights from the sum before it
     * writes its gradients there, and the main thread writes the next weights
     * only after it has read that sum).
     */
    allocate?: { separateWeights: boolean };
  }
  | {
    kind: "predict";
    /** Read the weights from shared memory first (the first images of an evaluation). */
    loadWeights: boolean;
    shared: SharedBuffers;
    /** The values of the weights that are not trained (batch norms' running statistics), in order. */
    state: Float32Array[];
    images: Batch;
    resize: number;
    batchSize: number;
  }
  | {
    kind: "step";
    /** This worker's number (0 for the first): where it starts adding into the sum. */
    index: number;
    shared: SharedBuffers;
    part: Batch;
    dropout: DropoutPlan;
    /** Sizes of the micro-batches the part is computed in. */
    microBatches: number[];
  };

/**
 * The workers' shared memory, made and first written by a worker while it
 * starts, so that the first step does not pay for its fresh pages, in the
 * order of the model's trainable weights.
 */
export interface SharedBuffers {
  /** The sum of the workers' gradients of a step. */
  gradients: Float32Array[];
  /** Where the main thread writes each step's weights (the sum's memory for a lone worker). */
  weights: Float32Array[];
  /**
   * Two integers per weight: its lock (1 while a worker adds into its sum),
   * and how many workers have added so far this step (the first copies).
   */
  locks: Int32Array;
}

/** Messages from a gradient worker. */
export type WorkerReply =
  | {
    kind: "ready";
    shared?: SharedBuffers;
    /** The BLAS the worker opened (its path, or `none`). */
    blas: BlasChoice;
  }
  | {
    kind: "result";
    scaledLoss: number;
    correct: number;
    /** Each batch norm's moments over this worker's share. */
    moments: Map<string, MomentValues>;
  }
  | { kind: "classes"; classes: Uint8Array }
  | { kind: "error"; message: string };
