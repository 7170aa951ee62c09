import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { setWebGPUKernelOptions } from "../../../backend/webgpu/kernel_options.ts";
import { createOptimizer } from "../../../training/optimizer.ts";
import { hasAdapter } from "../../support/backends.ts";
import { uniformTensor } from "../../support/test_data.ts";
import { type ConvCase, NETWORK_CONVOLUTIONS } from "../../support/conv_cases.ts";

const options = { ignore: !hasAdapter, sanitizeOps: false, sanitizeResources: false };

/** Runs `kernels` on the CPU backend and on WebGPU and fails where they differ by more than 1e-4. */
async function compareWithCpu(
  what: string,
  kernels: () => tf.Tensor[],
  variants: (() => void)[] = [() => {}],
): Promise<void> {
  await setupBackend("cpu");
  const expected = await Promise.all(kernels().map((t) => t.data()));
  await setupBackend("webgpu");
  for (const [v, variant] of variants.entries()) {
    variant();
    const actual = await Promise.all(kernels().map((t) => t.data()));
    actual.forEach((values, i) => {
      const error = relativeError(values, expected[i]);
      assert(error <= 1e-4, `${what}, variant ${v}, output ${i}: relative error ${error}`);
    });
  }
  setWebGPUKernelOptions({ splits: undefined });
  await setupBackend("cpu");
}

/** The network's convolutions (see `NETWORK_CONVOLUTIONS`) and a small "same" one. */
const CONVOLUTIONS: ConvCase[] = [
  ...NETWORK_CONVOLUTIONS,
  { x: [6, 13, 13, 8], filter: [3, 3, 8, 12], stride: 1, pad: "same" },
];

/** The product unsplit, then with every long reduction cut in 3. */
const SPLITS = [
  () => setWebGPUKernelOptions({ splits: undefined }),
  () => setWebGPUKernelOptions({ splits: 3 }),
];

Deno.test({
  ...options,
  name:
    "WebGPU convolution as a generated product (plain, and with bias and ReLU) and its input gradient equal the CPU's",
  fn: async () => {
    const random = seededRandom(5);
    for (const c of CONVOLUTIONS) {
      await setupBackend("cpu");
      const x = uniformTensor(c.x, random);
      const filter = uniformTensor(c.filter, random);
      const bias = uniformTensor([c.filter[3]], random);
      const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad)
        .outShape;
      const dy = uniformTensor(outShape, random);
      const attrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC", dilations: 1 };
      await compareWithCpu(`convolution x ${c.x}, filter ${c.filter}`, () => [
        tf.engine().runKernel("Conv2D", { x, filter }, attrs as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel(
          "FusedConv2D",
          { x, filter, bias },
          { ...attrs, activation: "relu" } as tf.NamedAttrMap,
        ) as tf.Tensor,
        tf.engine().runKernel(
          "Conv2DBackpropInput",
          { dy, filter },
          { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      ], SPLITS);
      tf.dispose([x, filter, bias, dy]);
    }
  },
});

Deno.test({
  ...options,
  name:
    "WebGPU matrix products as generated products (every transpose, fused bias and ReLU, odd sizes) equal the CPU's",
  fn: async () => {
    const random = seededRandom(7);
    for (const [rows, inner, columns] of [[4, 256, 4096], [5, 7, 9], [16, 64, 48], [8, 4096, 10]]) {
      for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false]]) {
        await setupBackend("cpu");
        const a = uniformTensor(transposeA ? [inner, rows] : [rows, inner], random);
        const b = uniformTensor(transposeB ? [columns, inner] : [inner, columns], random);
        const bias = uniformTensor([columns], random);
        const attrs = { transposeA, transposeB };
        await compareWithCpu(`${rows}×${inner}×${columns}, ${transposeA}, ${transposeB}`, () => [
          tf.engine().runKernel("BatchMatMul", { a, b }, attrs) as tf.Tensor,
          tf.engine().runKernel("_FusedMatMul", { a, b, bias }, {
            ...attrs,
            activation: "relu",
          }) as tf.Tensor,
        ], SPLITS);
        tf.dispose([a, b, bias]);
      }
    }
  },
});

Deno.test({
  ...options,
  name: "a product of a tensor cast from int32 (whose WebGPU buffer stays int32) equals the CPU's",
  fn: async () => {
    const labels = [3, 1, 4, 1, 5, 9, 2, 6];
    await compareWithCpu("one-hot counts", () => [
      tf.matMul(
        tf.oneHot(tf.tensor1d(labels, "int32"), 10).toFloat(),
        tf.oneHot(tf.tensor1d(labels.map((label) => (label * 3) % 10), "int32"), 10).toFloat(),
        true,
        false,
      ),
    ]);
  },
});

Deno.test({
  ...options,
  name: "Adam's three-pass update on WebGPU gives the CPU backend's weights over 3 steps",
  fn: async () => {
    const weights: Float32Array[][] = [];
    for (const backend of ["cpu", "webgpu"] as const) {
      await setupBackend(backend);
      const random = seededRandom(9);
      const value = tf.variable(uniformTensor([3, 5], random), true, `adam_${backend}`);
      const optimizer = createOptimizer("adam", 0.01);
      const steps: Float32Array[] = [];
      for (let step = 0; step < 3; step++) {
        const gradient = uniformTensor([3, 5], random);
        optimizer.applyGradients({ [value.name]: gradient });
        gradient.dispose();
        steps.push((await value.data()) as Float32Array);
      }
      weights.push(steps);
      optimizer.dispose();
      value.dispose();
    }
    const [cpu, webgpu] = weights;
    cpu.forEach((expected, step) => {
      const error = relativeError(webgpu[step], expected);
      assert(error <= 1e-6, `step ${step}: relative error ${error}`);
    });
  },
});
