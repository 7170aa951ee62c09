/**
 * The dataset cache shared by two processes: both find the dataset
 * missing at once, one downloads it, the other waits for it; both succeed
 * and the cache holds one valid copy, each file fetched once.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { taskArgs } from "../support/cli.ts";
import { writeTinyDataset } from "../support/test_data.ts";
import { datasetFileNames, DATASETS } from "../../data/datasets.ts";

const CHILD = new URL("../support/reliability/open_dataset_child.ts", import.meta.url).pathname;
const FILES = datasetFileNames(DATASETS.mnist);
/** Each answer waits this long: the second process starts well within the first's download. */
const DELAY_MS = 400;

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

/** Serves the files of `dir` slowly on 127.0.0.1, counting the requests for each. */
function slowServer(dir: string, requests: Record<string, number>) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const name = new URL(request.url).pathname.slice(1);
    requests[name] = (requests[name] ?? 0) + 1;
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
    return new Response(await Deno.readFile(join(dir, name)));
  });
}

/** A process that opens the dataset with the `train` task's permissions, the cache in `cache`. */
function openingProcess(baseUrl: string, sums: Record<string, string>, cache: string) {
  const flags = taskArgs("train").filter((arg) => arg.startsWith("--"));
  return new Deno.Command(Deno.execPath(), {
    args: [...flags, CHILD, baseUrl, JSON.stringify(sums)],
    env: { XDG_CACHE_HOME: cache },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("two processes that find no dataset at once: one download, both load it", async () => {
  const source = await writeTinyDataset(await Deno.makeTempDir(), { count: 5 });
  const cache = await Deno.makeTempDir();
  const sums: Record<string, string> = {};
  for (const name of FILES) sums[name] = md5(await Deno.readFile(join(source, name)));
  const folder = join(cache, "fashion-webgpu", "mnist");
  // What a download killed earlier left: taken away by the next one.
  await Deno.mkdir(folder, { recursive: true });
  await Deno.writeTextFile(join(folder, `${FILES[0]}.partial-0123abcd`), "half a file");
  const requests: Record<string, number> = {};
  const server = slowServer(source, requests);
  try {
    const baseUrl = `http://127.0.0.1:${server.addr.port}/`;
    const runs = await Promise.all([0, 1].map(() => openingProcess(baseUrl, sums, cache)));
    const outputs = runs.map((run) => new TextDecoder().decode(run.stdout));
    runs.forEach((run, i) => {
      assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
      assert(outputs[i].includes(`loaded 5 training images from ${folder}\n`), outputs[i]);
    });
    assertEquals(
      outputs.filter((text) => text.includes("waiting for process ")).length,
      1,
      outputs.join("\n---\n"),
    );
    assertEquals(requests, Object.fromEntries(FILES.map((name) => [name, 1])));
    const left = [...Deno.readDirSync(folder)].map((entry) => entry.name).sort();
    assertEquals(left, [...FILES].sort());
    for (const name of FILES) {
      assertEquals(md5(await Deno.readFile(join(folder, name))), sums[name]);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(source, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});
