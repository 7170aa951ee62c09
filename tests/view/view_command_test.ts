/**
 * `deno task view RUN_DIR` on a finished run: the feed's snapshot holds
 * the run's history and last evaluation, the checkpoint is served for the
 * browser, a request addressed to another name gets 421, and Ctrl-C ends
 * it with code 0.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { runTask, taskCommand } from "../support/cli.ts";
import { hasRealData } from "../support/test_data.ts";
import { rawRequest } from "../support/reliability/raw_http.ts";

/** The first line of the spawned command's stdout that matches `pattern`, and the rest unread. */
async function firstMatch(stream: ReadableStream<Uint8Array>, pattern: RegExp) {
  const chunks = stream.pipeThrough(new TextDecoderStream()).values();
  let text = "";
  while (true) {
    const { value, done } = await chunks.next();
    if (done) throw new Error(`no ${pattern} in: ${text}`);
    text += value;
    const match = text.match(pattern);
    if (match) return { match: match[1], rest: chunks };
  }
}

Deno.test({
  name: "deno task view serves a finished run's history, evaluation and checkpoint",
  ignore: !hasRealData(),
  sanitizeResources: false,
  fn: async () => {
    const runDir = await Deno.makeTempDir({ prefix: "view-command-" });
    const run = `${runDir}/run`;
    const trained = await runTask("train", [
      "--model=lenet-relu",
      "--epochs=2",
      "--limit=1000",
      "--test-limit=200",
      `--out=${run}`,
    ]);
    assertEquals(trained.code, 0, trained.stderr);
    const view = taskCommand("view", [run]).spawn();
    const stderr = view.stderr.pipeTo(new WritableStream());
    try {
      const { match: url, rest } = await firstMatch(view.stdout, /view: (http:\/\/\S+\/)/);
      const events = await fetch(`${url}events`);
      const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n\n")) text += (await reader.read()).value;
      await reader.cancel();
      const first = JSON.parse(text.slice("data: ".length, text.indexOf("\n\n")));
      assertEquals(first.type, "snapshot");
      assertEquals(first.snapshot.history.length, 2);
      assertEquals(first.snapshot.status, "finished");
      const { evaluation } = first.snapshot;
      assertEquals(evaluation.epoch, 2);
      assertEquals(evaluation.confusion.flat().reduce((a: number, b: number) => a + b, 0), 200);
      const model = await fetch(`${url}checkpoint/model.json`);
      assertEquals(model.status, 200);
      assert((await model.json()).weightsManifest[0].paths[0] === "weights.bin");
      const missing = await fetch(`${url}checkpoint/optimizer.bin`);
      assertEquals(missing.status, 404, "only the files a browser loads are served");
      await missing.body?.cancel();
      const port = Number(new URL(url).port);
      for (const path of ["/", "/events", "/checkpoint/weights.bin"]) {
        const forged = await rawRequest(port, path, ["Host: rebound.example"]);
        assertEquals([forged.status, forged.body], [421, ""], `${path} with a forged Host`);
      }
      view.kill("SIGINT");
      assertEquals((await view.status).code, 0);
      for await (const _ of rest) { /* drain */ }
    } finally {
      try {
        view.kill("SIGKILL");
      } catch {
        // Already ended.
      }
      await stderr.catch(() => {});
      await Deno.remove(runDir, { recursive: true });
    }
  },
});
