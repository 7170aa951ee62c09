import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../../support/assert.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { gpuReport, reportMarkdown } from "../../../bench/gpu_report.ts";
import { networkCases } from "../../../bench/gpu_report_cases.ts";
import { defineModel, MODEL_NAMES, MODELS } from "../../../model/registry.ts";
import { networkConvolutions } from "../../../model/workload.ts";
import { hasAdapter } from "../../support/backends.ts";

/** The largest kernel call run on the CPU backend, in GFLOP. */
const CPU_GFLOP = 0.01;

/** AlexNet's kernel calls and variants as the report has always measured them. */
const ALEXNET_CASES = [
  "conv1 forward (bias, ReLU): tfjs, product, product, one float per load",
  "conv1 filter gradient: tfjs, tiled (previous), product, product, one float per load, product, 2 splits",
  "pool1 max-pool gradient: tfjs",
  ...[2, 3, 4, 5].flatMap((i) => [
    `conv${i} forward (bias, ReLU): tfjs, product`,
    `conv${i} input gradient: tfjs, tfjs-tiled, convolution`,
    `conv${i} filter gradient: tfjs, tiled (previous), product, product, 2 splits`,
    ...(i === 2 || i === 5 ? [`pool${i === 2 ? 2 : 3} max-pool gradient: tfjs`] : []),
  ]),
  ...[1, 2, 3].flatMap((i) =>
    ["x·W", "xᵀ·dy", "dy·Wᵀ"].map((kernel) => `dense${i} ${kernel}: tfjs, product`)
  ),
];

Deno.test("the GPU report measures AlexNet's kernel calls as it always has", async () => {
  await setupBackend("cpu");
  const { cases, inputs } = networkCases("alexnet", 67, 2, [2]);
  const listed = cases.map((c) =>
    `${c.layer} ${c.kernel}: ${c.variants.map(([v]) => v).join(", ")}`
  );
  tf.dispose(inputs);
  assertEquals(listed, ALEXNET_CASES);
});

Deno.test("the GPU report's kernel calls of every network run, each convolution's and dense layer's", async () => {
  await setupBackend("cpu");
  for (const name of MODEL_NAMES) {
    const resize = MODELS[name].minResize;
    const { cases, inputs } = networkCases(name, resize, 1, [2]);
    const count = (kernel: RegExp) => cases.filter((c) => kernel.test(c.kernel)).length;
    const convolutions = networkConvolutions(name, resize).length;
    assertEquals(count(/^forward/), convolutions, `${name}: forward passes`);
    assertEquals(count(/^filter gradient$/), convolutions, `${name}: filter gradients`);
    // The first convolution reads the images: no gradient flows to them.
    assertEquals(count(/^input gradient$/), convolutions - 1, `${name}: input gradients`);
    const layers = defineModel(name, { resize, seed: null }).layers.map((l) => l.getClassName());
    const dense = layers.filter((kind) => kind === "Dense").length;
    assertEquals(count(/^(x·W|xᵀ·dy|dy·Wᵀ)$/), 3 * dense, `${name}: dense products`);
    const pools = layers.filter((kind) => /MaxPooling2D$/.test(kind)).length;
    assertEquals(count(/^max-pool gradient$/), pools, `${name}: max-pool gradients`);
    // tfjs's CPU backend takes seconds for a larger filter gradient: the small calls are run.
    for (const kase of cases.filter((c) => c.gflop <= CPU_GFLOP)) {
      const outputs = kase.run();
      const finite = outputs.every((t) => t.dataSync().every(Number.isFinite));
      tf.dispose(outputs);
      assert(finite, `${name} ${kase.layer} ${kase.kernel}: values that are not finite`);
    }
    tf.dispose(inputs);
  }
});

Deno.test({
  name: "the GPU report of a network other than AlexNet: every variant runs and agrees with tfjs's",
  ignore: !hasAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await setupBackend("webgpu");
    const report = await gpuReport({
      backend,
      model: "lenet-relu",
      resize: 28,
      batchSize: 4,
      repeats: 1,
      splits: [2],
      referenceSide: 64,
    });
    const failed = report.rows.filter((row) => row.failure);
    assertEquals(failed.map((row) => `${row.layer} ${row.kernel} ${row.variant}`), []);
    for (const row of report.rows) {
      assert(row.error <= 1e-3, `${row.layer} ${row.kernel} ${row.variant}: error ${row.error}`);
    }
    assertEquals(
      new Set(report.rows.map((row) => row.layer)),
      new Set([
        "reference",
        ...networkConvolutions("lenet-relu", 28).map((conv) => conv.name),
        "pool1",
        "pool2",
        "dense1",
        "dense2",
        "dense3",
        "all",
      ]),
    );
    assert(reportMarkdown(report).includes("- LeNet-ReLU at 28, 4 examples per kernel call"));
    await setupBackend("cpu");
  },
});
