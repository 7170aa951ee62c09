import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/batches.ts";
import { resizeBatch } from "../data/resize.ts";
import { forward } from "./forward.ts";

/** The predicted classes of a batch of images (dropout off). */
export async function predictClasses(
  model: tf.LayersModel,
  batch: Batch,
  resize: number,
): Promise<Uint8Array> {
  const predicted = tf.tidy(() =>
    tf.argMax(
      forward(model, resizeBatch(batch.images, batch.count, resize), { release: true }),
      1,
    )
  );
  const classes = Uint8Array.from(await predicted.data());
  predicted.dispose();
  return classes;
}
