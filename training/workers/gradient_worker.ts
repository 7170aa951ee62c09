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
import { epochBatches } from "../../data/batches.ts";
import { blas, chooseBlas, workerBlasChoice } from "../../backend/wasm/blas.ts";
import type { GradientSink } from "../layers/dense.ts";
import { partGradients, trainableVariables } from "../gradients.ts";
import { predictClasses } from "../predict.ts";
import { isGradientWorker } from "./worker_role.ts";
import { momentValues } from "../batch_statistics.ts";

/** The worker's global scope (Deno types `self` as a window). */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<WorkerRequest>) => void;
  postMessage: (message: WorkerReply) => void;
};

let context: { model: tf.LayersModel; resize: number; weightsSeen: boolean } | undefined;

/**
 * Sets the model's weights to a step's. For the first step, when no kernel
 * has seen them yet, they are written in place into the memory the
 * initial zeros already hold (no fresh pages on the first step). Later
 * steps write the dense layers' kernels in place too where the BLAS
 * computes their products (it reads them afresh on every call), and assign
 * fresh tensors to the other weights: tfjs's wasm kernels keep XNNPACK
 * operators, with the weights packed, for as long as a weight tensor
 * lives, and would not see values changed in place. A fresh tensor for a
 * dense kernel would hold the heap's high-water mark a whole copy of it
 * higher (105 MB for AlexNet's first dense layer at 224).
 */
function setWeights(variables: tf.Variable[], weights: Float32Array[]): void {
  const heap = tf.backend() as unknown as WasmHeap;
  const inPlace = (variable: tf.Variable) =>
    !context!.weightsSeen || (variable.rank === 2 && blas() !== undefined);
  const written = variables.filter(inPlace);
  heapViews(heap, written).forEach((view, i) => view.set(weights[variables.indexOf(written[i])]));
  variables.forEach((variable, i) => {
    if (inPlace(variable)) return;
    const value = tf.tensor(weights[i], variable.shape);
    variable.assign(value);
    value.dispose();
  });
  context!.weightsSeen = true;
}

/** Sets the weights that are not trained (the batch norms' running statistics) to `values`. */
function setState(model: tf.LayersModel, values: Float32Array[]): void {
  model.nonTrainableWeights.forEach((weight, i) => {
    const value = tf.tensor(values[i], weight.shape as number[]);
    (weight.read() as tf.Variable).assign(value);
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
 * Adds into the shared sum of weight `i`'s gradients under its lock: the
 * first to get there each step writes over it, the others add.
 */
function addToSum(
  shared: SharedBuffers,
  i: number,
  write: (target: Float32Array, accumulate: boolean) => void,
): void {
  lock(shared.locks, i);
  try {
    write(shared.gradients[i], shared.locks[2 * i + 1]++ > 0);
  } finally {
    unlock(shared.locks, i);
  }
}

/**
 * Adds this worker's gradients (those not already in the sum) into the
 * shared sum. Workers start at different weights, so they rarely wait for
 * each other.
 */
function addIntoSum(gradients: (tf.Tensor | undefined)[], shared: SharedBuffers, start: number) {
  const heap = tf.backend() as unknown as WasmHeap;
  const present = gradients.flatMap((gradient, i) => gradient ? [i] : []);
  const views = heapViews(heap, present.map((i) => gradients[i]!));
  for (let k = 0; k < present.length; k++) {
    const at = (start + k) % present.length;
    const source = views[at];
    addToSum(shared, present[at], (target, accumulate) => {
      if (!accumulate) target.set(source);
      else for (let j = 0; j < source.length; j++) target[j] += source[j];
    });
  }
}

/**
 * The sink of a worker's dense layers' weight gradients: written by the
 * BLAS straight into the shared sum, so that the worker's heap never holds
 * them. Without a BLAS there is none.
 */
function sharedSink(variables: tf.Variable[], shared: SharedBuffers): GradientSink | undefined {
  if (!blas()) return undefined;
  const index = new Map(variables.map((variable, i) => [variable, i]));
  return {
    takes: (weight) => weight.rank === 2 && index.has(weight),
    add: (weight, write) => addToSum(shared, index.get(weight)!, write),
  };
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  if (request.kind === "init") {
    chooseBlas(request.blas);
    await setupWasm();
    const { resize, dropout } = request;
    const model = buildModel(request.model, { resize, seed: null, dropout });
    context = { model, resize: request.resize, weightsSeen: false };
    const blas = workerBlasChoice();
    if (!request.allocate) return { kind: "ready", blas };
    const sizes = trainableVariables(model).map((variable) => variable.size);
    const gradients = sharedFloats(sizes);
    const weights = request.allocate.separateWeights ? sharedFloats(sizes) : gradients;
    const locks = new Int32Array(new SharedArrayBuffer(8 * sizes.length));
    return { kind: "ready", shared: { gradients, weights, locks }, blas };
  }
  if (request.kind === "predict") {
    if (request.loadWeights) {
      setWeights(trainableVariables(context!.model), request.shared.weights);
      setState(context!.model, request.state);
    }
    const classes = new Uint8Array(request.images.count);
    let at = 0;
    for (const batch of epochBatches(request.images, { batchSize: request.batchSize })) {
      classes.set(await predictClasses(context!.model, batch, request.resize), at);
      at += batch.count;
    }
    return { kind: "classes", classes };
  }
  const variables = trainableVariables(context!.model);
  setWeights(variables, request.shared.weights);
  const sink = sharedSink(variables, request.shared);
  const part = partGradients(context!, request.part, { ...request, sink });
  addIntoSum(part.gradients, request.shared, request.index);
  const [scaledLoss, correct] = await Promise.all([part.scaledLoss.data(), part.correct.data()]);
  const moments = await momentValues(part.moments);
  tf.dispose([
    ...part.gradients.flatMap((gradient) => gradient ? [gradient] : []),
    part.scaledLoss,
    part.correct,
  ]);
  return { kind: "result", scaledLoss: scaledLoss[0], correct: correct[0], moments };
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
