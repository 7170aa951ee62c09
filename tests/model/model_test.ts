import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { alexnetFeatureSide } from "../../model/networks/alexnet.ts";
import { buildModel } from "../../model/registry.ts";
import { formatSummary, summarizeModel } from "../../model/summary.ts";
import { setupBackend } from "../../backend/setup.ts";
import { SettingError } from "../../errors.ts";

await setupBackend("cpu");

Deno.test("AlexNet at 224: the book's layer shapes, a 6,400 feature vector and 46,764,746 parameters", () => {
  const model = buildModel("alexnet", { resize: 224, seed: 0 });
  const shapes = summarizeModel(model).map((row) => `${row.name} ${row.outputShape.join("x")}`);
  assertEquals(shapes, [
    "conv1 54x54x96",
    "pool1 26x26x96",
    "conv2 26x26x256",
    "pool2 12x12x256",
    "conv3 12x12x384",
    "conv4 12x12x384",
    "conv5 12x12x256",
    "pool3 5x5x256",
    "flatten 6400",
    "dense1 4096",
    "dropout1 4096",
    "dense2 4096",
    "dropout2 4096",
    "dense3 10",
  ]);
  assertEquals(model.countParams(), 46_764_746);
  model.dispose();
});

Deno.test("AlexNet follows the resize: 1×1×256 features from 67 to 98, refused below 67", () => {
  assertEquals([67, 98, 99, 224].map(alexnetFeatureSide), [1, 1, 2, 5]);
  const small = buildModel("alexnet", { resize: 67, seed: 0 });
  assertEquals(small.outputShape, [null, 10]);
  assertEquals(small.countParams(), 46_764_746 - 256 * 24 * 4096);
  small.dispose();
  const error = assertThrows(() => buildModel("alexnet", { resize: 50, seed: 0 }), SettingError);
  assertEquals([error.setting, error.value], ["resize", 50]);
  assert(
    error.message.startsWith("resize 50: alexnet needs inputs of at least 67×67"),
    error.message,
  );
  assertThrows(() => buildModel("lenet", { resize: 224, seed: 0 }), SettingError);
});

Deno.test("LeNet and its ReLU variant: 28×28 in, 61,706 parameters, book's activations and pooling", () => {
  const lenet = buildModel("lenet", { resize: 28, seed: 0 });
  const relu = buildModel("lenet-relu", { resize: 28, seed: 0 });
  assertEquals(lenet.countParams(), 61_706);
  assertEquals(relu.countParams(), 61_706);
  const lenetText = formatSummary(lenet);
  assert(
    lenetText.includes("Conv2d(6, 5×5, stride 1, same) + sigmoid") &&
      lenetText.includes("AvgPool2d(2×2"),
    lenetText,
  );
  const reluText = formatSummary(relu);
  assert(
    reluText.includes("+ relu") && reluText.includes("MaxPool2d(2×2") &&
      !reluText.includes("sigmoid"),
    reluText,
  );
  lenet.dispose();
  relu.dispose();
});

Deno.test("weights follow PyTorch's default init: U(±1/√fan_in), the same for the same seed; zeros for none", async () => {
  const first = buildModel("lenet", { resize: 28, seed: 3 });
  const again = buildModel("lenet", { resize: 28, seed: 3 });
  const other = buildModel("lenet", { resize: 28, seed: 4 });
  const dense1 = first.getLayer("dense1").getWeights()[0];
  const values = await dense1.data();
  const bound = 1 / Math.sqrt(400);
  assert(values.every((v) => Math.abs(v) <= bound), "dense1 weight outside ±1/√400");
  const spread = Math.max(...values) - Math.min(...values);
  assert(spread > 1.9 * bound, `dense1 weights do not fill ±1/√400 (spread ${spread})`);
  assertEquals(
    Array.from(await again.getLayer("dense1").getWeights()[0].data()),
    Array.from(values),
  );
  assert(
    Array.from(await other.getLayer("dense1").getWeights()[0].data()).join() !==
      Array.from(values).join(),
    "another seed gave the same weights",
  );
  const zero = buildModel("lenet", { resize: 28, seed: null });
  for (const weight of zero.weights) {
    const values = await weight.read().data();
    assert(values.every((v) => v === 0), `${weight.name}: a null seed should give zeros`);
  }
  for (const model of [first, again, other, zero]) model.dispose();
});
