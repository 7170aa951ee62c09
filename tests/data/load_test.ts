import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { DATASETS } from "../../data/datasets.ts";
import { loadDataset } from "../../data/load.ts";
import { openDataset } from "../../data/source.ts";
import { InputError, SettingError } from "../../errors.ts";
import {
  encodeIdx,
  gzip,
  hasRealData,
  REAL_DATA_DIR,
  writeTinyDataset,
} from "../support/test_data.ts";

const FASHION = DATASETS["fashion-mnist"];

function histogram(labels: Uint8Array): number[] {
  const counts = new Array(10).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

Deno.test({
  name: "real Fashion-MNIST: counts, label histograms and first labels",
  ignore: !hasRealData(),
  fn: async () => {
    const dataset = await loadDataset(FASHION, REAL_DATA_DIR);
    assertEquals(dataset.train.count, 60000);
    assertEquals(dataset.test.count, 10000);
    assertEquals(dataset.train.images.length, 60000 * 28 * 28);
    assertEquals(dataset.test.images.length, 10000 * 28 * 28);
    assertEquals(histogram(dataset.train.labels), new Array(10).fill(6000));
    assertEquals(histogram(dataset.test.labels), new Array(10).fill(1000));
    assertEquals(Array.from(dataset.train.labels.subarray(0, 10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assertEquals(Array.from(dataset.test.labels.subarray(0, 10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  },
});

Deno.test({
  name: "openDataset finds Debian's package when no dataDir is given",
  ignore: !hasRealData(),
  fn: async () => {
    const emptyCache = await Deno.makeTempDir();
    const previous = Deno.env.get("XDG_CACHE_HOME");
    Deno.env.set("XDG_CACHE_HOME", emptyCache);
    try {
      const dataset = await openDataset({ download: false });
      assertEquals(dataset.dir, REAL_DATA_DIR);
    } finally {
      if (previous === undefined) Deno.env.delete("XDG_CACHE_HOME");
      else Deno.env.set("XDG_CACHE_HOME", previous);
      await Deno.remove(emptyCache, { recursive: true });
    }
  },
});

async function expectDatasetError(dir: string, pattern: RegExp): Promise<void> {
  const error = await assertRejects(() => loadDataset(FASHION, dir), InputError);
  assert(pattern.test(error.message), `unexpected message: ${error.message}`);
  await Deno.remove(dir, { recursive: true });
}

Deno.test("a tiny synthetic dataset loads", async () => {
  const dir = await writeTinyDataset(await Deno.makeTempDir(), { count: 3 });
  const dataset = await loadDataset(FASHION, dir);
  assertEquals(dataset.train.count, 3);
  assertEquals(Array.from(dataset.test.labels), [0, 1, 2]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("image and label counts that differ are rejected, naming both files", async () => {
  const dir = await writeTinyDataset(await Deno.makeTempDir(), { count: 3, labels: [1, 2] });
  await expectDatasetError(
    dir,
    /train-labels-idx1-ubyte\.gz: 2 labels for 3 images in .*train-images/,
  );
});

Deno.test("labels outside 0..9 are rejected", async () => {
  const dir = await writeTinyDataset(await Deno.makeTempDir(), { count: 3, labels: [1, 12, 3] });
  await expectDatasetError(dir, /labels-idx1-ubyte\.gz: label 12 at index 1 is outside 0\.\.9/);
});

Deno.test("images that are not 28×28 are rejected", async () => {
  const dir = await writeTinyDataset(await Deno.makeTempDir(), { imageSide: 32 });
  await expectDatasetError(dir, /images-idx3-ubyte\.gz: images must be N×28×28, found 4×32×32/);
});

Deno.test("labels of the wrong element type are rejected", async () => {
  const dir = await writeTinyDataset(await Deno.makeTempDir(), { count: 2 });
  await Deno.writeFile(
    join(dir, "t10k-labels-idx1-ubyte.gz"),
    await gzip(encodeIdx("int32", [2], [1, 2])),
  );
  await expectDatasetError(dir, /t10k-labels-idx1-ubyte\.gz: labels must be .*found int32/);
});

Deno.test("a dataDir without the files names the folder and the missing files", async () => {
  const dir = await Deno.makeTempDir();
  const error = await assertRejects(() => openDataset({ dataDir: dir }), SettingError);
  assertEquals(
    error.message,
    `dataDir ${dir}: missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz`,
  );
  await Deno.remove(dir);
});
