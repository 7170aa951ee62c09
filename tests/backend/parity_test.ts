import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../support/assert.ts";
import { seededRandom } from "../../data/random.ts";
import { buildModel, type ModelName } from "../../model/registry.ts";
import { setupBackend } from "../../backend/setup.ts";
import { forEachBlas } from "../support/blas_choices.ts";
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
      forward(model, images, {
        training: { dropout: { seed: 5, batchSize: labels.size, offset: 0 } },
      }),
    );
    return crossEntropySum(logits, labels).div(labels.size) as tf.Scalar;
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

/**
 * The biases of the layers a batch norm reads: they have no gradient at
 * all (the batch norm removes any shift), and what is computed for them is
 * rounding (1e-9 where others are 1e-1), whose relative error means nothing.
 */
function biasesBeforeBatchNorms(model: tf.LayersModel): string[] {
  return model.layers.filter((layer) =>
    layer.outboundNodes.some((node) => node.outboundLayer.getClassName() === "BatchNormalization")
  ).flatMap((layer) => layer.trainableWeights.filter((w) => w.originalName.endsWith("/bias")))
    .map((weight) => (weight.read() as tf.Variable).name);
}

/**
 * Holds `other`'s logits and gradients to the CPU backend's (biases a batch
 * norm reads excepted: they must have none at all), printing the worst.
 */
function checkAgainstCpu(
  label: string,
  model: tf.LayersModel,
  cpu: Record<string, Float32Array>,
  other: Record<string, Float32Array>,
): void {
  const noise = biasesBeforeBatchNorms(model);
  const largest = (values: Float32Array) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const top = Math.max(...Object.values(cpu).map(largest));
  for (const key of noise) {
    assert(largest(cpu[key]) <= 1e-5 * top, `${key}: a gradient where none should be`);
  }
  const errors = Object.keys(cpu).filter((key) => !noise.includes(key)).map((key) =>
    [key, relativeError(other[key], cpu[key])] as const
  );
  console.log(
    [...errors].filter(([n]) => !n.includes("/bias")).sort((a, b) => b[1] - a[1]).slice(0, 12)
      .map(([n, e]) => `${n} ${e.toExponential(1)}`).join(", "),
  );
  const bad = errors.filter(([, error]) => !(error <= TOLERANCE));
  assert(
    bad.length === 0,
    `${label}: over tolerance: ${bad.map(([n, e]) => `${n} ${e.toExponential(2)}`).join(", ")}`,
  );
  console.log(
    `${label}: worst relative error ${Math.max(...errors.map(([, e]) => e)).toExponential(2)}`,
  );
}

/**
 * AlexNet at 67 (with every BLAS installed and none on wasm), LeNet with batch norms (over maps, and over dense layers
 * with the sigmoid) and GoogLeNet at 32 (1×1 convolutions,
 * concatenations, −∞-padded pools, a padded strided stem). ResNet-18 and
 * DenseNet are left to their layers' own tests and to the PyTorch parity
 * test: with batch norms over a few values at their last maps, one ReLU
 * whose input lies within the backends' rounding of 0 moves every earlier
 * gradient by 1e-3 to 1e-1 (measured at 32 and at 64), a difference as
 * large as a bug's.
 */
const CASES: { model: ModelName; resize: number; seed: number }[] = [
  { model: "alexnet", resize: 67, seed: 11 },
  { model: "lenet-bn", resize: 28, seed: 11 },
  { model: "googlenet", resize: 32, seed: 11 },
];

for (const backend of ["webgpu", "wasm"] as const) {
  for (const { model: name, resize, seed } of CASES) {
    Deno.test({
      name:
        `${name} at ${resize}: ${backend} forward and gradients equal the CPU backend's (relative error ≤ ${TOLERANCE})`,
      ignore: backend === "webgpu" && noAdapter,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        await setupBackend("cpu");
        const model = buildModel(name, { resize, seed });
        const random = seededRandom(IMAGE_SEED);
        const pixels = Float32Array.from({ length: 8 * resize * resize }, () => random());
        const images = tf.tensor4d(pixels, [8, resize, resize, 1]);
        const labels = tf.tensor1d([3, 1, 4, 1, 5, 9, 2, 6], "int32");
        const cpu = await logitsAndGradients(model, images, labels);
        const compare = async (label: string) => {
          await setupBackend(backend);
          checkAgainstCpu(label, model, cpu, await logitsAndGradients(model, images, labels));
        };
        // The CPU's values once (the slow part), then each way the wasm products can run.
        if (backend === "wasm" && name === "alexnet") {
          await forEachBlas(({ label }) => compare(`wasm, ${label}`));
        } else await compare(backend);
        tf.dispose([images, labels]);
        model.dispose();
        await setupBackend("cpu");
      },
    });
  }
}
