/**
 * Worker entry of `GradientWorkers`: holds a copy of the model on its
 * own wasm backend (one more CPU core) and returns the gradients of the
 * share of each batch it is sent. It serves only in a thread started with
 * the workers' name, so that a bundle, which carries it, can be its own
 * worker.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { buildModel } from "../../model/registry.ts";
import { setupWasm } from "../../backend/wasm/setup.ts";
import { heapViews, type WasmHeap } from "../../backend/wasm/heap.ts";
import type { SharedBuffers, WorkerReply, WorkerRequest } from "./messages.ts";
import { sharedFloats } from "./shared_floats.ts";
import { partGradients, trainableVariables } from "../gradients.ts";
import { isGradientWorker } from "./worker_role.ts";

/** The worker's global scope (Deno types `self` as a window). */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<WorkerRequest>) => void;
  postMessage: (message: WorkerReply) => void;
};

let context: { model: tf.Sequential; resize: number; weightsSeen: boolean } | undefined;

/**
 * Sets the model's weights to a step's. For the first step, when no kernel
 * has seen them yet, they are written in place into the memory the
 * initial zeros already hold (no fresh pages on the first step). Later steps assign fresh tensors: tfjs's wasm kernels keep
 * XNNPACK operators, with the weights packed, for as long as a weight
 * tensor lives, and would not see values changed in place.
 */
function setWeights(variables: tf.Variable[], weights: Float32Array[]): void {
  if (!context!.weightsSeen) {
    const heap = tf.backend() as unknown as WasmHeap;
    heapViews(heap, variables).forEach((view, i) => view.set(weights[i]));
    context!.weightsSeen = true;
    return;
  }
  variables.forEach((variable, i) => {
    const value = tf.tensor(weights[i], variable.shape);
    variable.assign(value);
    value.dispose();
  });
}

/** Locks of `locks` (two integers per weight: the lock, then the count), taken and given back. */
function lock(locks: Int32Array, weight: number): void {
  while (Atomics.compareExchange(locks, 2 * weight, 0, 1) !== 0) {
    Atomics.wait(locks, 2 * weight, 1);
  }
}

function unlock(locks: Int32Array, weight: number): void {
  Atomics.store(locks, 2 * weight, 0);
  Atomics.notify(locks, 2 * weight, 1);
}

/**
 * Adds this worker's gradients into the shared sum, each weight under its
 * own lock (the first worker to get there copies). Workers start at
 * different weights, so they rarely wait for each other.
 */
function addIntoSum(gradients: tf.Tensor[], shared: SharedBuffers, start: number): void {
  const heap = tf.backend() as unknown as WasmHeap;
  const views = heapViews(heap, gradients);
  for (let k = 0; k < views.length; k++) {
    const i = (start + k) % views.length;
    const [source, target] = [views[i], shared.gradients[i]];
    lock(shared.locks, i);
    if (shared.locks[2 * i + 1]++ === 0) {
      target.set(source);
    } else {
      for (let j = 0; j < source.length; j++) target[j] += source[j];
    }
    unlock(shared.locks, i);
  }
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  if (request.kind === "init") {
    await setupWasm();
    const model = buildModel(request.model, { resize: request.resize, seed: null });
    context = { model, resize: request.resize, weightsSeen: false };
    if (!request.allocate) return { kind: "ready" };
    const sizes = trainableVariables(model).map((variable) => variable.size);
    const gradients = sharedFloats(sizes);
    const weights = request.allocate.separateWeights ? sharedFloats(sizes) : gradients;
    const locks = new Int32Array(new SharedArrayBuffer(8 * sizes.length));
    return { kind: "ready", shared: { gradients, weights, locks } };
  }
  setWeights(trainableVariables(context!.model), request.shared.weights);
  const part = partGradients(context!, request.part, request);
  addIntoSum(part.gradients, request.shared, request.index);
  const [scaledLoss, correct] = await Promise.all([part.scaledLoss.data(), part.correct.data()]);
  tf.dispose([...part.gradients, part.scaledLoss, part.correct]);
  return { kind: "result", scaledLoss: scaledLoss[0], correct: correct[0] };
}

if (isGradientWorker()) {
  scope.onmessage = async (event) => {
    try {
      scope.postMessage(await handle(event.data));
    } catch (error) {
      scope.postMessage({ kind: "error", message: String(error) });
    }
  };
}
