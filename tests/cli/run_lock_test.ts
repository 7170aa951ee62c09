/**
 * One writer per run folder, with real processes: while `train` runs, a
 * second `train --resume` exits 2 naming it, `eval` and `view` read the
 * folder as usual; once it is killed with SIGKILL, `--resume` takes its
 * lock over with a line that says so, and leaves no lock behind.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { meaningfulLines, runTask, taskCommand } from "../support/cli.ts";
import { hasRealData } from "../support/test_data.ts";

/** Epochs of 512 images: about half a second each, far more than the test lets it run. */
const TRAIN = ["--model=lenet-relu", "--limit=512", "--test-limit=300", "--batch=32"];

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 100) {
    if (waited > 120_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** `deno task view RUN`: the history its first event shows, then Ctrl-C. */
async function viewHistory(runDir: string): Promise<number> {
  const view = taskCommand("view", [runDir]).spawn();
  const stderr = view.stderr.pipeTo(new WritableStream());
  const lines = view.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/view: (\S+)/.test(text)) text += (await lines.read()).value ?? "";
  const events = await fetch(`${text.match(/view: (\S+)/)![1]}events`);
  const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
  let data = "";
  while (!data.includes("\n\n")) data += (await reader.read()).value;
  await reader.cancel();
  view.kill("SIGINT");
  assertEquals((await view.status).code, 0);
  await lines.cancel();
  await stderr;
  return JSON.parse(data.slice("data: ".length, data.indexOf("\n\n"))).snapshot.history.length;
}

Deno.test({
  name:
    "one writer per run folder: a second is refused by name, readers read, a killed one's lock is taken over",
  ignore: !hasRealData(),
  fn: async () => {
    const parent = await Deno.makeTempDir({ prefix: "run-lock-" });
    const runDir = join(parent, "run");
    const lockFile = join(runDir, "train.lock");
    const first = taskCommand("train", [...TRAIN, "--epochs=400", `--out=${runDir}`]).spawn();
    // Read and dropped: a closed pipe would end the run at its next line.
    const drained = Promise.all(
      [first.stdout, first.stderr].map((stream) => stream.pipeTo(new WritableStream())),
    );
    const ended = { yet: false };
    const status = first.status.then((status) => (ended.yet = true, status));
    try {
      await until(() => exists(join(runDir, "checkpoint", "state.json")), "a first checkpoint");
      const holder = JSON.parse(await Deno.readTextFile(lockFile));
      assertEquals(holder.pid, first.pid);

      const second = await runTask("train", ["--resume", runDir]);
      assertEquals(second.code, 2, second.stderr);
      const lines = meaningfulLines(second.stderr);
      assertEquals(lines.length, 1, second.stderr);
      assert(
        lines[0].startsWith(`error: ${runDir}: process ${first.pid} on ${holder.host} since `) &&
          lines[0].endsWith(`is training this run (one writer at a time; ${lockFile})`),
        lines[0],
      );
      const again = await runTask("train", [...TRAIN, `--out=${runDir}`]);
      assertEquals(again.code, 2, again.stderr);

      const report = await runTask("eval", [runDir, "--limit=100"]);
      assertEquals(report.code, 0, report.stderr);
      assert(report.stdout.includes("confusion matrix"), report.stdout);
      assert((await viewHistory(runDir)) >= 1, "the page shows no epoch");
      assert(
        !ended.yet,
        "the first run ended before the readers were done: the test proves nothing",
      );
      assertEquals(JSON.parse(await Deno.readTextFile(lockFile)).pid, first.pid);
    } finally {
      first.kill("SIGKILL");
      await status;
      await drained;
    }

    assert(await exists(lockFile), "SIGKILL leaves its lock file");
    const { epoch } = JSON.parse(await Deno.readTextFile(join(runDir, "checkpoint", "state.json")));
    const resumed = await runTask("train", ["--resume", runDir, `--epochs=${epoch + 1}`]);
    assertEquals(resumed.code, 0, resumed.stderr);
    assert(
      resumed.stdout.includes(
        `${lockFile}: taken over from process ${first.pid} on `,
      ) && resumed.stdout.includes(", which no longer runs\n"),
      resumed.stdout,
    );
    assert(!(await exists(lockFile)), "the lock outlived the run");
    await Deno.remove(parent, { recursive: true });
  },
});

Deno.test({
  name: "a new run killed before its first save: --out the same folder takes its lock over",
  ignore: !hasRealData(),
  fn: async () => {
    const parent = await Deno.makeTempDir({ prefix: "run-lock-" });
    const runDir = join(parent, "run");
    // An epoch of 20,000 images lasts many seconds: the kill comes long before its save.
    const first = taskCommand("train", [...TRAIN, "--limit=20000", `--out=${runDir}`]).spawn();
    const stderr = first.stderr.pipeTo(new WritableStream());
    const lines = first.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\nplan: ")) text += (await lines.read()).value ?? "";
    first.kill("SIGKILL");
    await first.status;
    await lines.cancel();
    await stderr;
    assertEquals([...Deno.readDirSync(runDir)].map((entry) => entry.name), ["train.lock"]);
    const again = await runTask("train", [...TRAIN, "--limit=64", "--epochs=1", `--out=${runDir}`]);
    assertEquals(again.code, 0, again.stderr);
    assert(again.stdout.includes(`taken over from process ${first.pid} on `), again.stdout);
    assert(!(await exists(join(runDir, "train.lock"))), "the lock outlived the run");
    await Deno.remove(parent, { recursive: true });
  },
});
