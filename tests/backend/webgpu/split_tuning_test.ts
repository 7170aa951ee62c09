import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertEquals, relativeError } from "../../support/assert.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { filterGradientProduct } from "../../../backend/webgpu/convolution/conv_filter_gradient.ts";
import { convGeometry } from "../../../backend/webgpu/products/operands.ts";
import { productSplit } from "../../../backend/webgpu/products/run.ts";
import {
  productSizesKey,
  setWebGPUKernelOptions,
  webgpuKernelOptions,
} from "../../../backend/webgpu/tuning/kernel_options.ts";
import {
  describeSplitTuning,
  tuneSplits,
  tuneSplitsForSteps,
} from "../../../backend/webgpu/tuning/split_tuning.ts";
import { hasAdapter } from "../../support/backends.ts";
import { seededRandom } from "../../../data/random.ts";
import { uniformTensor } from "../../support/test_data.ts";

/** LeNet's conv1 filter gradient for 32 examples: 25,088 terms, worth splitting; conv2's 3,200. */
const MICRO_BATCH = 32;

Deno.test({
  name:
    "split tuning times each filter gradient's split counts, runs the fastest, keeps it per adapter",
  ignore: !hasAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await setupBackend("webgpu");
    const cacheFile = join(await Deno.makeTempDir(), "split_tuning.json");
    const options = {
      adapter: backend.adapter!,
      device: backend.device!,
      model: "lenet-relu" as const,
      resize: 28,
      microBatches: [MICRO_BATCH, MICRO_BATCH],
      cacheFile,
      repeats: 2,
    };
    try {
      const first = await tuneSplits(options);
      assertEquals(first.cached, false);
      assertEquals(first.layers.map((layer) => layer.layer), ["conv1", "conv2"]);
      for (const layer of first.layers) {
        assertEquals(layer.examples, MICRO_BATCH);
        assert(layer.tried.length >= 2, `${layer.layer}: tried ${JSON.stringify(layer.tried)}`);
        assertEquals([layer.targetSplits, layer.targetMilliseconds], layer.tried[0]);
        const fastest = Math.min(...layer.tried.map(([, ms]) => ms));
        assertEquals(layer.milliseconds, fastest);
        assertEquals(first.splits[layer.product], layer.splits);
      }
      // conv1: the target's 24 partial sums first, then 64 (63 in whole slices), 32, … until fewer only lose.
      assertEquals(first.layers[0].tried.slice(0, 2).map(([count]) => count), [24, 63]);

      // The products now run with the measured counts, and still compute the filter gradient.
      const conv1 = tf.backend_util.computeConv2DInfo(
        [MICRO_BATCH, 28, 28, 1],
        [5, 5, 1, 6],
        1,
        1,
        2,
      );
      const { spec } = filterGradientProduct(convGeometry(conv1));
      assertEquals(webgpuKernelOptions().measuredSplits, first.splits);
      assertEquals(productSplit(spec).splits, first.splits[productSizesKey(spec)]);
      const random = seededRandom(3);
      const x = uniformTensor([MICRO_BATCH, 28, 28, 1], random);
      const dy = uniformTensor(conv1.outShape, random);
      const filterGradient = () =>
        (tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
          strides: 1,
          pad: 2,
          dataFormat: "NHWC",
          dilations: 1,
          filterShape: [5, 5, 1, 6],
        } as unknown as tf.NamedAttrMap) as tf.Tensor).data();
      const actual = await filterGradient();
      setWebGPUKernelOptions({ filterGradient: "tfjs" });
      const expected = await filterGradient();
      setWebGPUKernelOptions({ filterGradient: "product" });
      assert(relativeError(actual, expected) <= 1e-4, `error ${relativeError(actual, expected)}`);

      const again = await tuneSplits(options);
      assertEquals(again.cached, true);
      assertEquals([again.splits, again.date], [first.splits, first.date]);
      assert(describeSplitTuning(again).includes("--recalibrate"), describeSplitTuning(again));
      const remeasured = await tuneSplits({ ...options, recalibrate: true });
      assertEquals(remeasured.cached, false);
      const other = await tuneSplits({ ...options, model: "lenet" });
      assertEquals(other.cached, false);
      assertEquals(Object.keys(JSON.parse(await Deno.readTextFile(cacheFile))).length, 2);

      // What a run's header gets: a line on a hardware adapter, nothing on a software one.
      const step = {
        model: "lenet-relu" as const,
        resize: 28,
        microBatches: [MICRO_BATCH],
        cacheFile,
      };
      const line = await tuneSplitsForSteps({ ...backend, software: false }, step);
      assert(line?.startsWith("split-K of the filter gradients") && line.includes("conv1"), line);
      assertEquals(await tuneSplitsForSteps({ ...backend, software: true }, step), undefined);
    } finally {
      setWebGPUKernelOptions({ measuredSplits: undefined, filterGradient: "product" });
      await Deno.remove(join(cacheFile, ".."), { recursive: true });
    }
  },
});
