import * as tf from "@tensorflow/tfjs";
import { assert, assertClose, assertEquals } from "../support/assert.ts";
import { setupBackend } from "../../backend/setup.ts";
import { DROPOUT_MASK, type DropoutMaskAttrs } from "../../backend/dropout_mask.ts";
import { buildModel } from "../../model/registry.ts";
import { forward } from "../../training/forward.ts";
import { hasAdapter } from "../support/backends.ts";

async function mask(attrs: DropoutMaskAttrs): Promise<Float32Array> {
  const tensor = tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap);
  const values = (await (tensor as tf.Tensor).data()) as Float32Array;
  (tensor as tf.Tensor).dispose();
  return values;
}

Deno.test({
  name: "a dropout mask is the same on every backend, and a share's rows are the whole batch's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const attrs = { shape: [6, 37], seed: 5, offset: 3, rate: 0.5 };
    const masks: Float32Array[] = [];
    for (const backend of ["cpu", "wasm", ...(hasAdapter ? ["webgpu" as const] : [])] as const) {
      await setupBackend(backend);
      masks.push(await mask(attrs));
    }
    for (const other of masks.slice(1)) assertEquals(Array.from(other), Array.from(masks[0]));
    const whole = await mask({ ...attrs, shape: [9, 37], offset: 0 });
    assertEquals(Array.from(masks[0]), Array.from(whole.subarray(3 * 37)));
    const anotherLayer = await mask({ ...attrs, seed: 6 });
    assert(anotherLayer.some((value, i) => value !== masks[0][i]), "another seed, the same mask");
  },
});

Deno.test("dropout keeps 1 − rate of the units, scaled by 1 / (1 − rate), independently", async () => {
  await setupBackend("cpu");
  const count = 512 * 4096;
  for (const rate of [0.1, 0.5, 0.9]) {
    const values = await mask({ shape: [512, 4096], seed: 11, offset: 0, rate });
    const scale = Math.fround(1 / (1 - rate));
    let kept = 0;
    let pairs = 0;
    for (let i = 0; i < count; i++) {
      assert(values[i] === 0 || values[i] === scale, `value ${values[i]} at rate ${rate}`);
      if (values[i] !== 0) {
        kept++;
        if (i > 0 && values[i - 1] !== 0) pairs++;
      }
    }
    // Binomial: the standard deviation of the kept fraction is √(p(1 − p)/n) ≤ 3.5e-4 here;
    // 5 of them allow for chance, not for a biased generator.
    const tolerance = 5 * Math.sqrt(rate * (1 - rate) / count);
    assertClose(kept / count, 1 - rate, tolerance, `kept fraction at rate ${rate}`);
    assertClose(pairs / (count - 1), (1 - rate) ** 2, 2 * tolerance, `neighbours kept together`);
    // Inverted dropout: the mask's mean is 1, so a layer's expected output does not change.
    assertClose((kept * scale) / count, 1, 5 * tolerance / (1 - rate), `mean at rate ${rate}`);
  }
});

Deno.test("without a dropout plan (evaluation) dropout is the identity: AlexNet's output equals predict", async () => {
  await setupBackend("cpu");
  const model = buildModel("alexnet", { resize: 67, seed: 2 });
  const images = tf.randomUniform([2, 67, 67, 1], 0, 1, "float32", 3) as tf.Tensor4D;
  const ours = await forward(model, images).data();
  const predicted = model.predict(images) as tf.Tensor;
  const theirs = await predicted.data();
  ours.forEach((value, i) => assertClose(value, theirs[i], 1e-5 * Math.abs(theirs[i]) + 1e-6));
  const trained = await forward(model, images, {
    training: { dropout: { seed: 1, batchSize: 2, offset: 0 } },
  }).data();
  assert(trained.some((value, i) => Math.abs(value - ours[i]) > 1e-4), "dropout changed nothing");
  tf.dispose([images, predicted]);
  model.dispose();
});
