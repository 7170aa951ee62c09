import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../support/assert.ts";
import { seededRandom } from "../../data/random.ts";
import { buildModel } from "../../model/registry.ts";
import { setupBackend } from "../../backend/setup.ts";
import { hasWebGPUAdapter } from "../../backend/webgpu/setup.ts";
import { crossEntropySum, forward } from "../../training/forward.ts";

/**
 * Largest |other − cpu| relative to the largest |cpu| of each tensor. The
 * backends sum in different orders in float32, and the differences grow
 * along the backward pass: conv1's gradients, the last computed, differ by
 * 5.6e-6 to 1.05e-5 over the initial weights of seeds 11–13 (later layers
 * 2e-6 to 4e-6). 3e-5 of the tensor's scale leaves room for that; a wrong
 * index or formula is off by 1e-2 or more.
 */
const TOLERANCE = 3e-5;

/**
 * Seed of the test images. Max pooling routes each window's gradient to its
 * largest value, so two values of one window closer than the backends'
 * rounding (1e-6 relative) can route it to another place on one backend: a
 * legitimate difference as large as a bug's. The images of seed 2 had one
 * such window in pool2 once conv2 added its bias inside the fused kernel
 * (0.38317522 vs 0.38317519 on wasm, the other order on the CPU); those of
 * seed 3 have none on either backend.
 */
const IMAGE_SEED = 3;

async function logitsAndGradients(model: tf.LayersModel, images: tf.Tensor4D, labels: tf.Tensor1D) {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let logits: tf.Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    logits = tf.keep(
      forward(model, images, { training: { dropout: { seed: 5, batchSize: 4, offset: 0 } } }),
    );
    return crossEntropySum(logits, labels).div(4) as tf.Scalar;
  }, variables);
  const out: Record<string, Float32Array> = { logits: (await logits!.data()) as Float32Array };
  out.loss = (await value.data()) as Float32Array;
  for (const [name, gradient] of Object.entries(grads)) {
    out[name] = (await gradient.data()) as Float32Array;
  }
  tf.dispose([logits!, value, ...Object.values(grads)]);
  return out;
}

const noAdapter = !(await hasWebGPUAdapter());

for (const backend of ["webgpu", "wasm"] as const) {
  Deno.test({
    name:
      `AlexNet at 67: ${backend} forward and gradients equal the CPU backend's (relative error ≤ ${TOLERANCE})`,
    ignore: backend === "webgpu" && noAdapter,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await setupBackend("cpu");
      const model = buildModel("alexnet", { resize: 67, seed: 11 });
      const random = seededRandom(IMAGE_SEED);
      const images = tf.tensor4d(Float32Array.from({ length: 4 * 67 * 67 }, () => random()), [
        4,
        67,
        67,
        1,
      ]);
      const labels = tf.tensor1d([3, 1, 4, 1], "int32");
      const cpu = await logitsAndGradients(model, images, labels);
      await setupBackend(backend);
      const other = await logitsAndGradients(model, images, labels);
      const errors = Object.keys(cpu).map((name) =>
        [name, relativeError(other[name], cpu[name])] as const
      );
      const bad = errors.filter(([, error]) => !(error <= TOLERANCE));
      assert(
        bad.length === 0,
        `over tolerance: ${bad.map(([n, e]) => `${n} ${e.toExponential(2)}`).join(", ")}`,
      );
      console.log(
        `worst relative error: ${Math.max(...errors.map(([, e]) => e)).toExponential(2)}`,
      );
      tf.dispose([images, labels]);
      model.dispose();
      await setupBackend("cpu");
    },
  });
}
