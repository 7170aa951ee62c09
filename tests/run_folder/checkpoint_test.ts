import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertEquals, assertRejects, relativeError } from "../support/assert.ts";
import { resizeBatch } from "../../data/resize.ts";
import { InputError } from "../../errors.ts";
import {
  findCheckpoint,
  loadCheckpoint,
  loadCheckpointModel,
} from "../../run_folder/checkpoint.ts";
import { forward } from "../../training/forward.ts";
import type { TrainConfig } from "../../training/state.ts";
import { train } from "../../training/train.ts";
import { autoBackend } from "../support/backends.ts";
import { CHAPTER_SMALL_INPUTS } from "../support/parity_cases.ts";
import { realDataOptions, realDataset, TINY_CONFIG, tinyRun } from "../support/run_folders.ts";
import { serveDirectory } from "../support/test_data.ts";

const dataset = realDataset;
const options = realDataOptions;

const SMALL: TrainConfig = { ...TINY_CONFIG, epochs: 2, limit: 320, testLimit: 64 };

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

Deno.test({
  ...options,
  name: "a checkpoint loads back, over HTTP too, and predicts exactly as the trained model",
  fn: async () => {
    const backend = await autoBackend();
    const runDir = await Deno.makeTempDir();
    const { model } = await train({
      runDir,
      dataset: dataset!,
      backend,
      config: { ...SMALL, epochs: 1 },
    });
    const images = resizeBatch(dataset!.test.images.subarray(0, 16 * 784), 16, 28);
    const expected = await model.predict(images) as tf.Tensor;
    const loaded = await loadCheckpointModel(join(runDir, "checkpoint"));
    const server = serveDirectory(runDir);
    const viaHttp = await tf.loadLayersModel(
      `http://127.0.0.1:${server.addr.port}/checkpoint/model.json`,
    );
    await server.shutdown();
    const reference = await expected.data();
    for (const other of [loaded, viaHttp]) {
      const predicted = other.predict(images) as tf.Tensor;
      assertEquals(Array.from(await predicted.data()), Array.from(reference));
      predicted.dispose();
    }
    tf.dispose([images, expected]);
    for (const m of [model, loaded, viaHttp]) m.dispose();
    await Deno.remove(runDir, { recursive: true });
  },
});

Deno.test({
  ...options,
  name:
    "resuming after interruptions (mid epoch 1 and mid epoch 2) gives the uninterrupted run's weights exactly",
  fn: async () => {
    const backend = await autoBackend();
    const straightDir = await Deno.makeTempDir();
    const straight = await train({
      runDir: straightDir,
      dataset: dataset!,
      backend,
      config: SMALL,
    });
    const resumedDir = await Deno.makeTempDir();
    let result = undefined;
    for (const stopAt of [4, 13, Infinity]) {
      const controller = new AbortController();
      result = await train({
        runDir: resumedDir,
        dataset: dataset!,
        backend,
        config: SMALL,
        resume: stopAt === 4 ? undefined : await loadCheckpoint(resumedDir),
        signal: controller.signal,
        onStep: (state) => state.step === stopAt && controller.abort(),
      });
      assertEquals(result.interrupted, stopAt !== Infinity);
    }
    const [expected, actual] = [await weightsOf(straight.model), await weightsOf(result!.model)];
    expected.forEach((values, i) =>
      assertEquals(Array.from(actual[i]), Array.from(values), `weight ${i}`)
    );
    const figures = (r: typeof straight) =>
      r.state.history.map((e) => [e.loss, e.trainAccuracy, e.testAccuracy]);
    assertEquals(figures(result!), figures(straight));
    const metrics = (await Deno.readTextFile(join(resumedDir, "metrics.jsonl"))).trim().split("\n");
    assertEquals(metrics.length, 2);
    for (const dir of [straightDir, resumedDir]) await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  ...options,
  name: "missing and corrupt checkpoints are refused with the file named",
  fn: async () => {
    const runDir = await tinyRun({ config: { limit: 32, testLimit: 64 } });
    const checkpoint = join(runDir, "checkpoint");
    const weights = join(checkpoint, "weights.bin");
    const bytes = await Deno.readFile(weights);
    await Deno.writeFile(weights, bytes.subarray(0, 100));
    let error = await assertRejects(() => loadCheckpoint(runDir), InputError);
    assert(error.message.startsWith(`${weights}: 100 bytes`), error.message);
    await Deno.writeTextFile(join(checkpoint, "state.json"), "{ not json");
    error = await assertRejects(() => loadCheckpoint(runDir), InputError);
    assertEquals(
      error.message,
      `${join(checkpoint, "state.json")}: not valid JSON (corrupt checkpoint?)`,
    );
    const empty = await Deno.makeTempDir();
    error = await assertRejects(() => loadCheckpoint(empty), InputError);
    assert(error.message.startsWith(`${empty}: no checkpoint in this folder`), error.message);
    error = await assertRejects(() => findCheckpoint(join(empty, "nope")), InputError);
    assertEquals(error.message, `${join(empty, "nope")}: no such run folder`);
    for (const dir of [runDir, empty]) await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  ...options,
  name: "a save cut short between its renames leaves the previous checkpoint in use",
  fn: async () => {
    const runDir = await tinyRun({ config: { limit: 32, testLimit: 64 } });
    await Deno.rename(join(runDir, "checkpoint"), join(runDir, "checkpoint.previous"));
    const { state, dir } = await loadCheckpoint(runDir);
    assertEquals(dir, join(runDir, "checkpoint.previous"));
    assertEquals(state.history.length, 1);
    await Deno.remove(runDir, { recursive: true });
  },
});

for (const [name, resize] of CHAPTER_SMALL_INPUTS) {
  Deno.test({
    ...options,
    name:
      `${name}: its checkpoint (batch norms' running statistics included) loads in tfjs and predicts as evaluation does`,
    fn: async () => {
      const backend = await autoBackend();
      const runDir = await Deno.makeTempDir();
      const config = { ...TINY_CONFIG, model: name, resize, batchSize: 8, limit: 16, testLimit: 8 };
      const { model } = await train({ runDir, dataset: dataset!, backend, config });
      const moved = await Promise.all(
        model.nonTrainableWeights.map(async (w) => (await w.read().data())[0]),
      );
      // Two steps have moved each running mean away from 0 and each variance from 1.
      assert(moved.every((value) => value !== 0 && value !== 1), `running statistics ${moved}`);
      const images = resizeBatch(dataset!.test.images.subarray(0, 8 * 784), 8, resize);
      const expected = forward(model, images);
      const server = serveDirectory(runDir);
      const loaded = await tf.loadLayersModel(
        `http://127.0.0.1:${server.addr.port}/checkpoint/model.json`,
      );
      await server.shutdown();
      const predicted = loaded.predict(images) as tf.Tensor;
      const error = relativeError(
        (await predicted.data()) as Float32Array,
        (await expected.data()) as Float32Array,
      );
      assert(error <= 1e-4, `tfjs's own layers predict logits off by ${error}`);
      // What --resume loads, checked: the optimizer's state covers the trained weights alone.
      const resumed = await loadCheckpoint(runDir);
      const statistics = await weightsOf(resumed.model);
      (await weightsOf(model)).forEach((values, i) =>
        assertEquals(Array.from(statistics[i]), Array.from(values), `weight ${i}`)
      );
      tf.dispose([images, expected, predicted]);
      for (const m of [model, loaded, resumed.model]) m.dispose();
      await Deno.remove(runDir, { recursive: true });
    },
  });
}
