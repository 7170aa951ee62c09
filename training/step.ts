import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/batches.ts";
import { addFloats } from "../backend/wasm/heap.ts";
import { addInto, type GradientContext, partGradients, trainableVariables } from "./gradients.ts";
import { batchSlice, planStep } from "./step_plan.ts";
import type { GradientWorkers } from "./workers/gradient_workers.ts";
import { mergeMoments, momentTensors, updateRunningStatistics } from "./batch_statistics.ts";

/** What a training step needs besides the batch. */
export interface StepContext extends GradientContext {
  optimizer: tf.Optimizer;
  /** Most examples per micro-batch (see `microBatchLimit`). */
  microBatchLimit: number;
  /** Workers that compute the gradients of shares of each batch in parallel (wasm backend). */
  workers?: GradientWorkers;
}

/** Device-side results of one step, to be accumulated and disposed by the caller. */
export interface StepResult {
  /** Sum of the per-example losses of the batch. */
  lossSum: tf.Scalar;
  /** Number of examples classified correctly (before the update). */
  correct: tf.Scalar;
}

/**
 * One optimisation step on a batch: the mean softmax cross-entropy over
 * the whole batch, its gradients accumulated over the shares and
 * micro-batches of {@link planStep} (so the update equals the full
 * batch's, dropout masks included), the workers' shares computed in
 * parallel; then one optimizer update, and one update of the batch norms'
 * running statistics from the whole batch's moments (see
 * `batch_statistics.ts`).
 */
export async function trainStep(
  context: StepContext,
  batch: Batch,
  dropoutSeed: number,
): Promise<StepResult> {
  const { model, optimizer, workers } = context;
  const variables = trainableVariables(model);
  const { shares } = planStep({
    batchSize: batch.count,
    threads: 1 + (workers?.count ?? 0),
    microBatchLimit: context.microBatchLimit,
    minShare: workers?.minShare,
  });
  const dropout = { seed: dropoutSeed, batchSize: batch.count, offset: 0 };
  const collect = shares.length > 1
    ? await workers!.dispatch(variables, batch, { shares: shares.slice(1), dropout })
    : undefined;
  const own = partGradients(context, batchSlice(batch, 0, shares[0].count), {
    dropout,
    microBatches: shares[0].microBatches,
  });
  // Without a sink, every gradient is there.
  let gradients = own.gradients as tf.Tensor[];
  let { scaledLoss, correct } = own;
  const moments = own.moments;
  if (collect) {
    const others = await collect();
    gradients = gradients.map((gradient, i) => addFloats(gradient, others.gradients[i]));
    scaledLoss = addInto(scaledLoss, tf.scalar(others.scaledLoss));
    correct = addInto(correct, tf.scalar(others.correct, "int32"));
    for (const [layer, parts] of others.moments) {
      moments.set(layer, mergeMoments([moments.get(layer)!, ...parts.map(momentTensors)]));
    }
  }
  updateRunningStatistics(model, moments);
  const named: tf.NamedTensorMap = {};
  variables.forEach((variable, i) => named[variable.name] = gradients[i]);
  optimizer.applyGradients(named);
  tf.dispose(gradients);
  const lossSum = scaledLoss.mul(batch.count) as tf.Scalar;
  scaledLoss.dispose();
  return { lossSum, correct };
}
