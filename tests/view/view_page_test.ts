/**
 * The training page in a real browser (Debian's chromium, headless):
 * during a short LeNet run it shows the header, its curves gain points as
 * epochs end, the confusion matrix covers the test images, the model it
 * loads predicts what `deno task eval` predicts, and it classifies a
 * drawing made with the mouse.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { findChromium, openBrowserPage } from "../support/chromium.ts";
import { ROOT, runTask, taskCommand } from "../support/cli.ts";
import { hasRealData } from "../support/test_data.ts";

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "SKIPPED: no Chromium on this machine: the page test is skipped (apt-get install chromium)",
  );
}

/** Where the test leaves the page's screenshot, for a person to look at. */
const SCREENSHOT = join(ROOT, "test-artifacts", "view_page.png");

const EPOCHS = 3;
const TEST_IMAGES = 500;

Deno.test({
  name: "train --view: a live page in Chromium (header, growing curves, confusion, try it)",
  ignore: !chromium || !hasRealData(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const runDir = await Deno.makeTempDir({ prefix: "view-run-" });
    const page = await openBrowserPage(chromium!);
    // Epochs of 20,000 images last seconds: the page, loaded meanwhile, sees them end one by one.
    const training = taskCommand("train", [
      "--model=lenet-relu",
      `--epochs=${EPOCHS}`,
      "--limit=20000",
      `--test-limit=${TEST_IMAGES}`,
      "--view",
      `--out=${runDir}/run`,
    ]).spawn();
    const lines = training.stdout.pipeThrough(new TextDecoderStream()).values();
    let url: string | undefined;
    let printed = "";
    while (!url) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`train exited before printing the page's address: ${printed}`);
      printed += value;
      url = printed.match(/view: (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
    }
    // Keep reading, so that the process never blocks on a full pipe.
    const rest = (async () => {
      for await (const chunk of lines) printed += chunk;
    })();
    const stderr = training.stderr.pipeTo(new WritableStream());
    try {
      await page.navigate(url);
      const header = await page.waitFor<string>(
        `document.getElementById("run").textContent`,
        "the run's header",
      );
      assert(header.includes("lenet-relu at 28×28"), header);
      const lines = await page.evaluate<string>(`document.getElementById("lines").textContent`);
      assert(lines.includes("device:") && lines.includes("plan:"), lines);
      const points =
        `document.querySelectorAll('#curves circle[data-series="testAccuracy"]').length`;
      const first = await page.evaluate<number>(points);
      assert(first < EPOCHS, `the page opened after the run ended (${first} points)`);
      const counts = [first];
      while (counts.at(-1)! < EPOCHS) {
        counts.push(
          await page.waitFor<number>(
            `(${points}) > ${counts.at(-1)} && (${points})`,
            `epoch ${counts.at(-1)! + 1}'s point`,
          ),
        );
      }
      const sum = await page.waitFor<string>(
        `document.getElementById("evaluated").textContent.startsWith("epoch ${EPOCHS}") && document.getElementById("confusion").dataset.sum`,
        "the last epoch's confusion matrix",
      );
      assertEquals(Number(sum), TEST_IMAGES);
      await page.waitFor(
        `document.getElementById("model-note").textContent.includes("after epoch ${EPOCHS}")`,
        "the last checkpoint loaded in the browser",
      );
      await page.evaluate(`document.querySelector('#grid figure[data-index="7"]').click()`);
      const predicted = await page.waitFor<string>(
        `document.getElementById("prediction").dataset.source?.startsWith("test image 7") && document.getElementById("prediction").dataset.class`,
        "the prediction of test image 7",
      );
      // A drawing: a vertical bar, like a pair of trousers, made with the mouse.
      const box = await page.evaluate<{ x: number; y: number; width: number; height: number }>(
        `JSON.parse(JSON.stringify(document.getElementById("drawing").getBoundingClientRect()))`,
      );
      await page.evaluate(`document.getElementById("drawing").scrollIntoView()`);
      const moved = await page.evaluate<{ x: number; y: number; width: number; height: number }>(
        `JSON.parse(JSON.stringify(document.getElementById("drawing").getBoundingClientRect()))`,
      );
      assert(box.width > 0, "the drawing canvas is not shown");
      const middle = moved.x + moved.width / 2;
      await page.drag(
        Array.from({ length: 12 }, (_, i) => [middle, moved.y + moved.height * (0.15 + 0.06 * i)]),
      );
      const drawn = await page.waitFor<number[]>(
        `document.getElementById("prediction").dataset.source === "drawing" &&
          [...document.querySelectorAll("#probabilities tr")].map((row) => parseFloat(row.lastChild.textContent))`,
        "the drawing's class probabilities",
      );
      assertEquals(drawn.length, 10);
      const total = drawn.reduce((a, b) => a + b, 0);
      assert(Math.abs(total - 100) < 1, `probabilities sum to ${total}%`);
      await Deno.mkdir(join(ROOT, "test-artifacts"), { recursive: true });
      await Deno.writeFile(SCREENSHOT, await page.screenshot());
      console.log(`curves' points as seen: ${counts.join(" → ")}; screenshot: ${SCREENSHOT}`);

      training.kill("SIGINT");
      assertEquals((await training.status).code, 0);
      await rest;
      assert(printed.includes("training finished"), printed);
      const evaluated = await runTask("eval", [
        `${runDir}/run`,
        `--limit=${TEST_IMAGES}`,
        "--json",
      ]);
      assertEquals(evaluated.code, 0, evaluated.stderr);
      const { firstPredictions } = JSON.parse(evaluated.stdout);
      assertEquals(Number(predicted), firstPredictions[7]);
    } finally {
      await page.close();
      try {
        training.kill("SIGKILL");
      } catch {
        // Already ended.
      }
      await stderr.catch(() => {});
      await Deno.remove(runDir, { recursive: true });
    }
  },
});
