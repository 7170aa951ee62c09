/**
 * The messages between the main thread and a gradient worker.
 *
 * @module
 */
import type { Batch } from "../../data/batches.ts";
import type { ModelName } from "../../model/registry.ts";
import type { DropoutPlan } from "../forward.ts";

/**
 * Messages to a gradient worker. A step's weights and gradients are views of
 * memory shared with the main thread (allocated once): the worker reads the
 * weights there and writes its gradients there before it replies.
 */
export type WorkerRequest =
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
    /** Sizes of the micro-batches the part is computed in. */
    microBatches: number[];
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

/**
 * A worker's shared memory, made and first written by the worker while it
 * starts, so that the first step does not pay for its fresh pages (AlexNet's
 * weights and gradients: 374 MB), in the order of the model's trainable
 * weights.
 */
export interface SharedBuffers {
  /** Where the worker writes its gradients. */
  gradients: Float32Array[];
  /** Where the main thread writes the weights of each step, if this worker holds them. */
  weights?: Float32Array[];
}

/** Messages from a gradient worker. */
export type WorkerReply =
  | { kind: "ready"; buffers: SharedBuffers }
  | { kind: "result"; scaledLoss: number; correct: number }
  | { kind: "error"; message: string };
