import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { releaseGradientsEarly } from "../../../training/layers/backprop_release.ts";
import { uniformTensor } from "../../support/test_data.ts";

const LAYERS = 6;
const ROWS = 64;
const WIDTH = 256;

/**
 * The gradients of a chain of dense ReLU layers, and the bytes of tensors
 * alive when the backward pass reaches the first layer's output (through
 * an identity op that reads `tf.memory()` in its gradient, which passes
 * its output's gradient on as it is: a tensor that must not be released).
 */
async function chainGradients(release: boolean): Promise<{ grads: number[][]; bytes: number }> {
  const random = seededRandom(5);
  const input = uniformTensor([ROWS, WIDTH], random);
  const weights = Array.from(
    { length: LAYERS },
    () => tf.variable(uniformTensor([WIDTH, WIDTH], random)),
  );
  let bytes = 0;
  const probe = tf.customGrad((x, save) => {
    (save as tf.GradSaveFunc)([]);
    return {
      value: (x as tf.Tensor).clone(),
      gradFunc: (dy: tf.Tensor) => {
        bytes = tf.memory().numBytes;
        return dy;
      },
    };
  });
  const { grads } = tf.variableGrads(() => {
    let h = probe(tf.matMul(input, weights[0]));
    for (const w of weights.slice(1)) h = tf.relu(tf.matMul(h, w));
    const loss = tf.sum(h) as tf.Scalar;
    if (release) releaseGradientsEarly();
    return loss;
  }, weights);
  const values = await Promise.all(
    weights.map(async (w) => Array.from(await grads[w.name].data())),
  );
  tf.dispose([input, ...weights, ...Object.values(grads)]);
  return { grads: values, bytes };
}

Deno.test("releasing early frees each op's gradients and saved tensors, and leaves the gradients as they were", async () => {
  await setupBackend("cpu");
  const kept = await chainGradients(false);
  const released = await chainGradients(true);
  assertEquals(released.grads, kept.grads);
  // Past the first layer, each of the other five keeps at least its output's
  // gradient and one saved activation of ROWS × WIDTH floats.
  const activation = ROWS * WIDTH * 4;
  assert(
    released.bytes <= kept.bytes - 2 * (LAYERS - 1) * activation,
    `${released.bytes} bytes alive with early release against ${kept.bytes} without`,
  );
});
