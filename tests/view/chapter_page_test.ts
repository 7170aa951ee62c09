/**
 * Every network of the chapter in a real browser (Debian's chromium,
 * headless): a run's checkpoint, served by `deno task view`, loads with
 * tfjs in the page (GoogLeNet's padded max-pool defined by the page) and
 * classifies the first test images as `deno task eval` does.
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { assert, assertEquals, relativeError } from "../support/assert.ts";
import { findChromium, openBrowserPage } from "../support/chromium.ts";
import { runTask, taskCommand } from "../support/cli.ts";
import { realDataset, TINY_CONFIG } from "../support/run_folders.ts";
import { autoBackend } from "../support/backends.ts";
import { CHAPTER_SMALL_INPUTS } from "../support/parity_cases.ts";
import type { ModelName } from "../../model/registry.ts";
import { loadCheckpointModel } from "../../run_folder/checkpoint.ts";
import { resizeBatch } from "../../data/resize.ts";
import { forward } from "../../training/forward.ts";
import { train } from "../../training/train.ts";

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "SKIPPED: no Chromium on this machine: the chapter's page test is skipped (apt-get install chromium)",
  );
}

/** Test images classified on both sides. */
const IMAGES = 64;

/** The page's logits of the first `IMAGES` test images, from the checkpoint it serves. */
const PAGE_LOGITS = `(async () => {
  const model = await tf.loadLayersModel("/checkpoint/model.json");
  const bytes = new Uint8Array(await (await fetch("/test-images")).arrayBuffer());
  const count = new DataView(bytes.buffer).getUint32(0, true);
  const pixels = bytes.subarray(4 + count, 4 + count + ${IMAGES} * 784);
  const [, height, width] = model.inputs[0].shape;
  const logits = tf.tidy(() => {
    let x = tf.tensor4d(Float32Array.from(pixels, (p) => p / 255), [${IMAGES}, 28, 28, 1]);
    if (height !== 28) x = tf.image.resizeBilinear(x, [height, width], false, true);
    return model.predict(x);
  });
  return Array.from(await logits.data());
})()`;

/** Trains a network for two steps of 8 images; returns its run folder. */
async function shortRun(model: ModelName, resize: number): Promise<string> {
  const runDir = await Deno.makeTempDir({ prefix: `page-${model}-` });
  const config = { ...TINY_CONFIG, model, resize, batchSize: 8, limit: 16, testLimit: IMAGES };
  const result = await train({
    runDir,
    dataset: realDataset!,
    backend: await autoBackend(),
    config,
  });
  result.model.dispose();
  return runDir;
}

/** The checkpoint's logits of the first test images in this process (evaluation's forward pass). */
async function ownLogits(runDir: string, resize: number): Promise<Float32Array> {
  const model = await loadCheckpointModel(join(runDir, "checkpoint"));
  const images = resizeBatch(realDataset!.test.images.subarray(0, IMAGES * 784), IMAGES, resize);
  const logits = forward(model, images, { release: true });
  const values = (await logits.data()) as Float32Array;
  tf.dispose([images, logits]);
  model.dispose();
  return values;
}

/** Starts `deno task view RUN` and resolves to the page's address and a way to stop it. */
async function startView(runDir: string) {
  const child = taskCommand("view", [runDir]).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let printed = "";
  let url: string | undefined;
  while (!url) {
    const { value, done } = await lines.next();
    if (done) throw new Error(`view exited before printing its address: ${printed}`);
    printed += value;
    url = printed.match(/view: (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
  }
  const stop = async () => {
    child.kill("SIGINT");
    await child.status;
    await child.stderr.cancel();
    for await (const _ of lines);
  };
  return { url, stop };
}

/** Predicted classes, and how many rows' two largest logits are closer than `margin`. */
function classesOf(logits: Float32Array, margin: number) {
  const classes: number[] = [];
  let close = 0;
  for (let row = 0; row < logits.length / 10; row++) {
    const values = [...logits.subarray(row * 10, row * 10 + 10)];
    const sorted = [...values].sort((a, b) => b - a);
    if (sorted[0] - sorted[1] < margin) close++;
    classes.push(values.indexOf(sorted[0]));
  }
  return { classes, close };
}

Deno.test({
  name:
    "every chapter network's checkpoint loads in Chromium with tfjs and classifies as eval does",
  ignore: !chromium || !realDataset,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const page = await openBrowserPage(chromium!);
    try {
      for (const [model, resize] of CHAPTER_SMALL_INPUTS) {
        const runDir = await shortRun(model, resize);
        const view = await startView(runDir);
        try {
          await page.navigate(view.url);
          await page.waitFor(
            `document.getElementById("model-note").textContent.includes("after epoch 1")`,
            `${model}'s checkpoint loaded by the page`,
          );
          const browser = Float32Array.from(await page.evaluate<number[]>(PAGE_LOGITS));
          const own = await ownLogits(runDir, resize);
          const error = relativeError(browser, own);
          assert(error <= 1e-3, `${model}: the page's logits are off by ${error}`);
          // The browser's backend rounds otherwise: only near ties may be classified otherwise.
          const scale = Math.max(...own.map(Math.abs));
          const ours = classesOf(own, 1e-3 * scale);
          const theirs = classesOf(browser, 0);
          const differing = ours.classes.filter((c, i) => c !== theirs.classes[i]).length;
          assert(differing <= ours.close, `${model}: ${differing} of ${IMAGES} classes differ`);
          const evaluated = await runTask("eval", [runDir, `--limit=${IMAGES}`, "--json"]);
          assertEquals(evaluated.code, 0, evaluated.stderr);
          const { accuracy } = JSON.parse(evaluated.stdout);
          const labels = realDataset!.test.labels;
          const correct = theirs.classes.filter((c, i) => c === labels[i]).length;
          assert(
            Math.abs(correct - accuracy * IMAGES) <= ours.close,
            `${model}: the page scores ${correct}/${IMAGES}, eval ${accuracy}`,
          );
          console.log(`${model}: logits within ${error.toExponential(1)}, ${correct}/${IMAGES}`);
        } finally {
          await view.stop();
          await Deno.remove(runDir, { recursive: true });
        }
      }
    } finally {
      await page.close();
    }
  },
});
