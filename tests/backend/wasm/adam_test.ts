import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { createOptimizer } from "../../../training/optimizer.ts";

const SHAPES = [[11, 11, 1, 96], [96], [257, 33], [5]];

function randomValues(random: () => number, shape: number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: size }, () => random() * 2 - 1);
}

/**
 * Runs `steps` updates of `optimizer` from the same weights and gradients
 * (seeded) and returns, as arrays, a convolution and a product computed with
 * the weights before each step, the final weights, then the moments.
 */
async function run(optimizer: tf.Optimizer, steps: number, shareFirst = false) {
  const random = seededRandom(7);
  const variables = SHAPES.map((shape) =>
    tf.variable(tf.tensor(randomValues(random, shape), shape))
  );
  const sharing = shareFirst ? variables[0].clone() : undefined;
  const before = sharing ? await sharing.data() : undefined;
  const image = tf.tensor(randomValues(random, [2, 15, 15, 1]), [2, 15, 15, 1]) as tf.Tensor4D;
  const rows = tf.tensor(randomValues(random, [3, 257]), [3, 257]);
  const outputs: Float32Array[] = [];
  for (let step = 0; step < steps; step++) {
    // XNNPACK keeps packed copies of weights: these must see every update.
    const conv = tf.conv2d(image, variables[0] as tf.Variable<tf.Rank.R4>, 4, "valid");
    const product = tf.matMul(rows, variables[2]);
    outputs.push(...(await Promise.all([conv.data(), product.data()])) as Float32Array[]);
    tf.dispose([conv, product]);
    const gradients: tf.NamedTensorMap = {};
    variables.forEach((variable, i) => {
      gradients[variable.name] = tf.tensor(randomValues(random, SHAPES[i]), SHAPES[i]);
    });
    optimizer.applyGradients(gradients);
    tf.dispose(Object.values(gradients));
  }
  if (sharing) {
    assertEquals(await sharing.data(), before, "a tensor sharing a weight's memory changed");
  }
  const weights = await optimizer.getWeights();
  const values = [
    ...outputs,
    ...(await Promise.all(variables.map((v) => v.data()))),
    ...(await Promise.all(weights.map((w) => w.tensor.data()))),
  ];
  tf.dispose([...variables, image, rows, ...(sharing ? [sharing] : [])]);
  return { values, names: weights.map((w) => w.name.replace(/^\d+/, "")) };
}

Deno.test({
  name:
    "Adam's one-pass update on wasm gives exactly tfjs's Adam values (weights, moments, β powers, outputs of XNNPACK kernels using the weights) over 3 steps",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await setupBackend("wasm");
    const stock = await run(tf.train.adam(0.01, 0.9, 0.999, 1e-8), 3);
    const fused = await run(createOptimizer("adam", 0.01), 3);
    assertEquals(fused.names.slice(0, stock.names.length), stock.names);
    stock.values.forEach((expected, i) => {
      assertEquals(fused.values[i], expected, `tensor ${i} differs`);
    });
    const shared = await run(createOptimizer("adam", 0.01), 3, true);
    stock.values.forEach((expected, i) => {
      assertEquals(shared.values[i], expected, `tensor ${i} differs when a weight is shared`);
    });
    const initial = randomValues(seededRandom(7), SHAPES[0]);
    assert(
      stock.values[0].every((value, i) => value !== initial[i]),
      "the updates changed nothing",
    );
  },
});
