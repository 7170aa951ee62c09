import * as tf from "@tensorflow/tfjs";
import { assertClose, assertEquals } from "../support/assert.ts";
import { DATASETS } from "../../data/datasets.ts";
import { loadDataset } from "../../data/load.ts";
import { bilinearWeights, resizeBatch } from "../../data/resize.ts";
import { gatherBatch } from "../../data/batches.ts";
import { hasRealData, REAL_DATA_DIR } from "../support/test_data.ts";
import { testOnBackends } from "../support/backends.ts";

interface ResizeReference {
  indices: number[];
  cases: {
    size: number;
    positions: [number, number][];
    images: { index: number; sum: number; values: number[] }[];
  }[];
}

const reference: ResizeReference = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/resize_reference.json", import.meta.url)),
);

Deno.test("bilinear weights: rows sum to 1, identity at the same size, edges clamped", () => {
  const weights = bilinearWeights(28, 67);
  for (let row = 0; row < 67; row++) {
    const sum = weights.subarray(row * 28, row * 28 + 28).reduce((a, b) => a + b, 0);
    assertClose(sum, 1, 1e-6, `row ${row}`);
  }
  assertEquals(weights[0], 1);
  assertEquals(weights[66 * 28 + 27], 1);
  const identity = bilinearWeights(28, 28);
  for (let i = 0; i < 28; i++) assertEquals(identity[i * 28 + i], 1);
});

if (hasRealData()) {
  const dataset = await loadDataset(DATASETS["fashion-mnist"], REAL_DATA_DIR);
  const batch = gatherBatch(dataset.train, reference.indices);
  testOnBackends("resize matches PyTorch's F.interpolate at 67 and 224 within 1e-5", async () => {
    for (const { size, positions, images } of reference.cases) {
      const resized = resizeBatch(batch.images, batch.count, size);
      assertEquals(resized.shape, [batch.count, size, size, 1]);
      const values = await resized.data() as Float32Array;
      resized.dispose();
      images.forEach((image, k) => {
        const offset = k * size * size;
        positions.forEach(([row, col], p) => {
          assertClose(
            values[offset + row * size + col],
            image.values[p],
            1e-5,
            `image ${image.index} at ${size} (${row}, ${col})`,
          );
        });
        const sum = values.subarray(offset, offset + size * size).reduce((a, b) => a + b, 0);
        assertClose(
          sum / (size * size),
          image.sum / (size * size),
          1e-5,
          `mean of image ${image.index} at ${size}`,
        );
      });
    }
  });
  testOnBackends("resize to 28 only scales to [0, 1] and leaks no tensor", async () => {
    const before = tf.memory().numTensors;
    const resized = resizeBatch(batch.images, batch.count, 28);
    const values = await resized.data() as Float32Array;
    resized.dispose();
    assertEquals(tf.memory().numTensors, before);
    assertEquals(
      Array.from(values.subarray(0, 784)),
      Array.from(batch.images.subarray(0, 784), (v) => Math.fround(v / 255)),
    );
  });
}
