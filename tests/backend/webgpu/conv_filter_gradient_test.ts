import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { DEFAULT_TILING, reductionSplit } from "../../../backend/webgpu/products/generator.ts";
import { setWebGPUKernelOptions } from "../../../backend/webgpu/tuning/kernel_options.ts";
import { hasAdapter } from "../../support/backends.ts";
import { uniformTensor } from "../../support/test_data.ts";
import { type ConvCase, NETWORK_CONVOLUTIONS } from "../../support/conv_cases.ts";

/**
 * The network's convolutions (see `NETWORK_CONVOLUTIONS`), and AlexNet's conv1 at 224 for a batch
 * of 32 (8 of its filters: the CPU backend is slow), whose 93,312-term sums lavapipe got wrong in
 * one piece (relative error 0.69). The first and the last three split their reduction into partial
 * sums (2, 8, 3 and 90 of them), the others do not.
 */
const CASES: ConvCase[] = [
  ...NETWORK_CONVOLUTIONS,
  { x: [16, 99, 99, 1], filter: [11, 11, 1, 96], stride: 4, pad: "valid" },
  { x: [20, 13, 13, 5], filter: [3, 3, 5, 70], stride: 1, pad: "same" },
  { x: [32, 224, 224, 1], filter: [11, 11, 1, 8], stride: 4, pad: "valid" },
];

/** The split target of the kernel options' default. */
const TARGET = { workgroups: 2048, minDepth: 1024 };

Deno.test("the filter gradient's reduction is split only where its tiles are too few workgroups", () => {
  const splitOf = (c: ConvCase) => {
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
    const terms = info.batchSize * info.outHeight * info.outWidth;
    const split = reductionSplit(
      {
        rows: info.filterHeight * info.filterWidth * info.inChannels,
        columns: info.outChannels,
        terms,
      },
      DEFAULT_TILING,
      TARGET,
    );
    assert(split.depth % 16 === 0, `depth ${split.depth} is not a multiple of 16`);
    assert(
      split.splits * split.depth >= terms && (split.splits - 1) * split.depth < terms,
      `${JSON.stringify(split)} does not cover ${terms} terms`,
    );
    return split.splits;
  };
  assertEquals(CASES.map(splitOf), [2, 1, 1, 1, 1, 1, 8, 3, 90]);
  const alexNetConv1 = reductionSplit(
    { rows: 121, columns: 96, terms: 128 * 54 * 54 },
    DEFAULT_TILING,
    TARGET,
  );
  assertEquals(alexNetConv1, { splits: 359, depth: 1040 });
  assertEquals(
    reductionSplit({ rows: 3456, columns: 384, terms: 128 * 12 * 12 }, DEFAULT_TILING, TARGET)
      .splits,
    7,
  );
});

function filterGradientOf(x: tf.Tensor4D, dy: tf.Tensor4D, c: ConvCase): tf.Tensor {
  return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
    strides: c.stride,
    pad: c.pad,
    dataFormat: "NHWC",
    filterShape: c.filter,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

Deno.test({
  name:
    "the WebGPU filter gradient (generated product, and the previous tiled kernel) equals the CPU backend's (relative error ≤ 1e-4)",
  ignore: !hasAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const random = seededRandom(4);
    const uniform = (shape: number[]) => uniformTensor(shape, random);
    for (const c of CASES) {
      await setupBackend("cpu");
      const x = uniform(c.x) as tf.Tensor4D;
      const dy = uniform(
        tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad).outShape,
      ) as tf.Tensor4D;
      const expected = await filterGradientOf(x, dy, c).data();
      await setupBackend("webgpu");
      for (const filterGradient of ["product", "tiled"] as const) {
        setWebGPUKernelOptions({ filterGradient });
        const actual = await filterGradientOf(x, dy, c).data();
        const error = relativeError(actual, expected);
        assert(
          error <= 1e-4,
          `${filterGradient}: x ${c.x}, filter ${c.filter}: relative error ${error}`,
        );
      }
      setWebGPUKernelOptions({ filterGradient: "product" });
      tf.dispose([x, dy]);
    }
    await setupBackend("cpu");
  },
});
