import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { setWebGPUKernelOptions } from "../../../backend/webgpu/tuning/kernel_options.ts";
import { convGeometry } from "../../../backend/webgpu/products/operands.ts";
import { widthGrouping } from "../../../backend/webgpu/products/width_groups.ts";
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

/**
 * The network's convolutions (see `NETWORK_CONVOLUTIONS`; the strided ones' input gradients as a
 * product and the patches added back), a small "same" one, and a strided "same" one (ResNet's
 * downsampling shape, padded at the bottom and right).
 */
const CONVOLUTIONS: ConvCase[] = [
  ...NETWORK_CONVOLUTIONS,
  { x: [6, 13, 13, 8], filter: [3, 3, 8, 12], stride: 1, pad: "same" },
  { x: [2, 12, 12, 8], filter: [3, 3, 8, 16], stride: 2, pad: "same" },
];

/**
 * A convolution case's random tensors, made on the CPU backend, and its forward kernels (plain,
 * and with bias and ReLU).
 */
async function convolutionCase(c: ConvCase, random: () => number) {
  await setupBackend("cpu");
  const x = uniformTensor(c.x, random);
  const filter = uniformTensor(c.filter, random);
  const bias = uniformTensor([c.filter[3]], random);
  const dy = uniformTensor(
    tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad).outShape,
    random,
  );
  const attrs = { strides: c.stride, pad: c.pad, dataFormat: "NHWC", dilations: 1 };
  const forward = () => [
    tf.engine().runKernel("Conv2D", { x, filter }, attrs as tf.NamedAttrMap) as tf.Tensor,
    tf.engine().runKernel(
      "FusedConv2D",
      { x, filter, bias },
      { ...attrs, activation: "relu" } as tf.NamedAttrMap,
    ) as tf.Tensor,
  ];
  return { x, filter, dy, attrs, forward, dispose: () => tf.dispose([x, filter, bias, dy]) };
}

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
      const { filter, dy, attrs, forward, dispose } = await convolutionCase(c, random);
      await compareWithCpu(`convolution x ${c.x}, filter ${c.filter}`, () => [
        ...forward(),
        tf.engine().runKernel(
          "Conv2DBackpropInput",
          { dy, filter },
          { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      ], SPLITS);
      dispose();
    }
  },
});

/**
 * Convolutions over one channel with a horizontal stride that is a multiple of 4: AlexNet's conv1
 * at 67 (one zero column added to the input), with "same" padding on every side and odd sides,
 * with a filter already 8 wide, and with stride 8 over a narrow filter.
 */
const WIDTH_GROUPED: ConvCase[] = [
  { x: [2, 67, 67, 1], filter: [11, 11, 1, 8], stride: 4, pad: "valid" },
  { x: [2, 30, 33, 1], filter: [11, 11, 1, 5], stride: 4, pad: "same" },
  { x: [3, 21, 19, 1], filter: [8, 8, 1, 4], stride: 4, pad: "same" },
  { x: [2, 40, 41, 1], filter: [5, 3, 1, 6], stride: 8, pad: "valid" },
];

Deno.test({
  ...options,
  name:
    "a convolution over one channel with stride 4 runs over groups of four columns, forward and filter gradient equal the CPU's",
  fn: async () => {
    const random = seededRandom(11);
    for (const c of WIDTH_GROUPED) {
      const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
      const grouping = widthGrouping(convGeometry(info));
      assert(grouping?.grouped.inChannels === 4, `${c.x}, ${c.filter}: not grouped`);
      const { x, dy, attrs, forward, dispose } = await convolutionCase(c, random);
      await compareWithCpu(`grouped x ${c.x}, filter ${c.filter}`, () => [
        ...forward(),
        tf.engine().runKernel(
          "Conv2DBackpropFilter",
          { x, dy },
          { ...attrs, filterShape: c.filter } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      ], [...SPLITS, () => setWebGPUKernelOptions({ splits: undefined, widthGroups: false })]);
      setWebGPUKernelOptions({ widthGroups: true });
      dispose();
    }
  },
});

Deno.test("only convolutions over one channel with a stride of 4 or 8 across are grouped", () => {
  const grouped = (x: number[], filter: number[], strides: [number, number]) =>
    widthGrouping(convGeometry(
      tf.backend_util.computeConv2DInfo(
        x as [number, number, number, number],
        filter as [number, number, number, number],
        strides,
        1,
        "valid",
      ),
    )) !== undefined;
  assert(grouped([1, 224, 224, 1], [11, 11, 1, 96], [4, 4]));
  assert(grouped([1, 224, 224, 1], [11, 11, 1, 96], [1, 4]));
  assert(!grouped([1, 28, 28, 1], [5, 5, 1, 6], [1, 1]));
  assert(!grouped([1, 28, 28, 1], [5, 5, 1, 6], [2, 2]));
  assert(!grouped([1, 54, 54, 96], [5, 5, 96, 256], [4, 4]));
  // At 224 AlexNet's conv1 reads its input as it is: 12-wide windows end at column 224.
  const conv1 = widthGrouping(convGeometry(
    tf.backend_util.computeConv2DInfo([1, 224, 224, 1], [11, 11, 1, 96], 4, 1, "valid"),
  ))!;
  assertEquals(conv1.inputPads, [[0, 0], [0, 0]]);
  assertEquals([conv1.grouped.inWidth, conv1.grouped.filterWidth, conv1.filterWidth], [56, 3, 12]);
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
