/**
 * A disk that fills up while a run trains, on a tmpfs of a few MiB (root
 * only; skipped with a warning elsewhere): the save fails with one line
 * and exit 2, the previous checkpoint and `metrics.jsonl` stay as they
 * were, and `--resume` once there is room again ends with the weights of
 * a run that never failed.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { meaningfulLines, runTask, taskCommand } from "../support/cli.ts";
import { snapshot } from "../support/reliability/folder_snapshot.ts";
import { fillDisk, smallDisk, unmount } from "../support/reliability/small_disk.ts";
import { TINY_CONFIG } from "../support/run_folders.ts";
import { hasRealData } from "../support/test_data.ts";
import { InputError } from "../../errors.ts";
import { exists } from "../../run_folder/atomic.ts";
import { RUN_FILES, writeEvaluation, writeRunFiles } from "../../run_folder/run_files.ts";
import { initialState, type TrainConfig } from "../../training/state.ts";

/** Epochs of 2,048 images (seconds each): the disk is filled between two saves. */
const TRAIN = [
  "--model=lenet-relu",
  "--limit=2048",
  "--test-limit=300",
  "--batch=32",
  "--epochs=3",
  "--seed=11",
];
/** Resumed runs plan the threads again: the same device and threads give the same sums. */
const DEVICE = ["--backend=wasm", "--threads=2"];
const isLinux = Deno.build.os === "linux";

/** The stderr lines of a failed run but its progress lines. */
function errorLines(stderr: string): string[] {
  return meaningfulLines(stderr).filter((line) => !/^(epoch|test) \d+\/\d+ /.test(line));
}

/** The figures of each epoch in `metrics.jsonl`, without its timings. */
async function figures(runDir: string): Promise<unknown[]> {
  const text = await Deno.readTextFile(join(runDir, RUN_FILES.metrics));
  return text.trim().split("\n").map((line) => {
    const { epoch, loss, trainAccuracy, testAccuracy } = JSON.parse(line);
    return { epoch, loss, trainAccuracy, testAccuracy };
  });
}

/** Trains with `args` until `ready` holds, then fills the disk; returns the run's end and the filler. */
async function fillWhenReady(args: string[], disk: string, ready: () => Promise<boolean>) {
  const child = taskCommand("train", args).spawn();
  const text = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();
  const output = Promise.all([text(child.stdout), text(child.stderr)]);
  for (let waited = 0; !(await ready()); waited += 50) {
    if (waited > 120_000) throw new Error("the run never got there");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const filler = await fillDisk(disk);
  const [stdout, stderr] = await output;
  return { code: (await child.status).code, stdout, stderr, filler };
}

Deno.test({
  name: "a disk filled during a save: one line, exit 2, nothing lost; --resume continues exactly",
  ignore: !hasRealData() || !isLinux,
  fn: async () => {
    const reference = join(await Deno.makeTempDir(), "run");
    const trained = await runTask("train", [...TRAIN, ...DEVICE, `--out=${reference}`]);
    assertEquals(trained.code, 0, trained.stderr);
    const disk = await smallDisk("4m");
    if (!disk) return;
    try {
      const runDir = join(disk, "run");
      const saved = { before: {} as Record<string, string> };
      const failed = await fillWhenReady(
        [...TRAIN, ...DEVICE, `--out=${runDir}`],
        disk,
        async () => {
          // evaluation.json is the last file an epoch writes: epoch 1 is all on disk.
          if (!(await exists(join(runDir, RUN_FILES.evaluation)))) return false;
          const { "train.lock": _, ...files } = await snapshot(runDir);
          saved.before = files;
          return true;
        },
      );
      assertEquals(failed.code, 2, failed.stderr);
      const lines = errorLines(failed.stderr);
      assertEquals(lines.length, 1, failed.stderr);
      assert(
        /^error: .*\/run: the checkpoint could not be written \(No space left on device.*\); the previous one is intact$/
          .test(lines[0]),
        lines[0],
      );
      assertEquals(await snapshot(runDir), saved.before, "the failed save changed the run folder");
      assertEquals((await figures(runDir)).length, 1);

      const full = await runTask("train", ["--resume", runDir, ...DEVICE]);
      assertEquals(full.code, 2, full.stderr);
      assertEquals(errorLines(full.stderr).length, 1, full.stderr);
      assert(/run: (cannot write there|not enough room)/.test(full.stderr), full.stderr);
      assertEquals(await snapshot(runDir), saved.before, "a refused resume changed the run folder");

      await Deno.remove(failed.filler);
      const resumed = await runTask("train", ["--resume", runDir, ...DEVICE]);
      assertEquals(resumed.code, 0, resumed.stderr);
      assert(resumed.stdout.includes("resuming at epoch 2, step 1 of 64"), resumed.stdout);
      for (const file of ["weights.bin", "optimizer.bin"]) {
        const [ours, theirs] = await Promise.all(
          [runDir, reference].map((dir) => Deno.readFile(join(dir, "checkpoint", file))),
        );
        assert(ours.length === theirs.length && ours.every((byte, i) => byte === theirs[i]), file);
      }
      assertEquals(await figures(runDir), await figures(reference));
    } finally {
      await unmount(disk);
      await Deno.remove(join(reference, ".."), { recursive: true });
    }
  },
});

/** A run's settings, as its state holds them (nothing is trained). */
const CONFIG: TrainConfig = { ...TINY_CONFIG, epochs: 2 };

Deno.test({
  name: "metrics.jsonl, curves.svg and evaluation.json on a full disk: one line, the old ones kept",
  ignore: !isLinux,
  fn: async () => {
    const disk = await smallDisk("1m");
    if (!disk) return;
    try {
      const runDir = join(disk, "run");
      await Deno.mkdir(runDir);
      await Deno.writeTextFile(join(runDir, RUN_FILES.metrics), "old metrics\n");
      await Deno.writeTextFile(join(runDir, RUN_FILES.evaluation), "old evaluation\n");
      const state = initialState(CONFIG);
      const record = { loss: 1, trainAccuracy: 0.5, testAccuracy: 0.5, seconds: 1 };
      state.history.push({ epoch: 1, ...record, evalSeconds: 1, imagesPerSecond: 1 });
      state.epoch = 1;
      await fillDisk(disk);
      const before = await snapshot(runDir);
      let error = await assertRejects(() => writeRunFiles(runDir, state), InputError);
      assert(
        /\/metrics\.jsonl: could not be written \(No space left on device[^\n]*; the previous one is intact$/
          .test(error.message),
        error.message,
      );
      const evaluation = {
        epoch: 1,
        count: 2,
        accuracy: 0.5,
        perClass: [],
        confusion: [],
        firstPredictions: [],
      };
      error = await assertRejects(() => writeEvaluation(runDir, evaluation), InputError);
      assert(/\/evaluation\.json: could not be written \(No space left/.test(error.message));
      assertEquals(await snapshot(runDir), before, "a failed write left something behind");
    } finally {
      await unmount(disk);
    }
  },
});
