import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertThrows } from "../support/assert.ts";
import { InputError } from "../../errors.ts";
import { loadCheckpoint, saveCheckpoint } from "../../run_folder/checkpoint.ts";
import { exists } from "../../run_folder/atomic.ts";
import { finiteJson } from "../../run_folder/finite_json.ts";
import { train } from "../../training/train.ts";
import { createOptimizer } from "../../training/optimizer.ts";
import { autoBackend } from "../support/backends.ts";
import { meaningfulLines, runTask, taskCommand } from "../support/cli.ts";
import { realDataOptions, realDataset, tinyRun } from "../support/run_folders.ts";
import { smallDisk, unmount } from "../support/reliability/small_disk.ts";
import { snapshot } from "../support/reliability/folder_snapshot.ts";

const dataset = realDataset;
const options = realDataOptions;

/**
 * Runs a task and checks that it failed with exit code `code` and one line
 * on stderr matching `expected` (besides the progress lines of a run).
 */
async function expectOneLine(task: string, args: string[], code: number, expected: RegExp) {
  const { code: actual, stdout, stderr } = await runTask(task, args);
  const lines = meaningfulLines(stderr).filter((line) => !/^epoch \d+\/\d+ /.test(line));
  assertEquals(actual, code, `exit code of ${task} ${args.join(" ")}: ${stderr}`);
  assertEquals(lines.length, 1, `stderr is not one line: ${stderr}`);
  assert(expected.test(lines[0]), `unexpected message: ${lines[0]}`);
  assert(!/\n\s+at /.test(stderr + stdout), "a stack trace was printed");
}

Deno.test({
  ...options,
  name: "each damaged field of a checkpoint is refused with the file and the field named",
  fn: async () => {
    const runDir = await tinyRun();
    const checkpoint = join(runDir, "checkpoint");
    const files = await snapshot(runDir);
    const stateFile = join(checkpoint, "state.json");
    const original = await Deno.readTextFile(stateFile);
    // deno-lint-ignore no-explicit-any
    type State = any;
    const cases: [(state: State) => void, RegExp][] = [
      [(s) => s.config.dataset = "cifar", /config\.dataset is "cifar", must be one of/],
      [(s) => s.config.resize = "28", /config\.resize is "28", must be an integer/],
      [(s) => s.config.model = "vgg", /config\.model is "vgg", must be one of/],
      [(s) => s.config.model = "lenet", /model\.json: modelTopology is not lenet at 28×28/],
      // A batch-norm network's state over a LeNet-ReLU's checkpoint.
      [(s) => s.config.model = "lenet-bn", /model\.json: modelTopology is not lenet-bn at 28×28/],
      [(s) => delete s.history, /history must be a list/],
      [(s) => s.history = [], /history has 0 epochs, but epoch is 1/],
      [(s) => s.partial.lossSum = null, /partial\.lossSum is null, must be a finite number/],
      [(s) => s.config.learningRate = -1, /config\.learningRate is -1, must be in/],
      [(s) => s.version = 2, /version is 2, must be 1/],
    ];
    for (const [damage, expected] of cases) {
      const state = JSON.parse(original);
      damage(state);
      await Deno.writeTextFile(stateFile, JSON.stringify(state));
      const error = await assertRejects(() => loadCheckpoint(runDir), InputError);
      assert(error.message.includes(checkpoint) && expected.test(error.message), error.message);
    }
    await Deno.writeTextFile(stateFile, original);

    const optimizerBin = join(checkpoint, "optimizer.bin");
    const bytes = await Deno.readFile(optimizerBin);
    const corrupt = bytes.slice();
    corrupt.fill(0xff, 4000, 4100);
    await Deno.writeFile(optimizerBin, corrupt);
    let error = await assertRejects(() => loadCheckpoint(runDir), InputError);
    assert(/optimizer\.bin: value \d+ is NaN/.test(error.message), error.message);
    await Deno.writeFile(optimizerBin, bytes);

    const optimizerJson = join(checkpoint, "optimizer.json");
    const optimizer = await Deno.readTextFile(optimizerJson);
    await Deno.writeTextFile(optimizerJson, JSON.stringify({ className: "Adam", weights: [] }));
    error = await assertRejects(() => loadCheckpoint(runDir), InputError);
    assert(
      /optimizer\.json: weights lists 0 weights, must list 23/.test(error.message),
      error.message,
    );
    await Deno.writeTextFile(optimizerJson, optimizer);

    const modelJson = join(checkpoint, "model.json");
    const manifest = JSON.parse(await Deno.readTextFile(modelJson));
    const good = JSON.stringify(manifest);
    manifest.weightsManifest[0].weights[1].shape = [7];
    await Deno.writeTextFile(modelJson, JSON.stringify(manifest));
    error = await assertRejects(() => loadCheckpoint(runDir), InputError);
    assert(
      /weightsManifest\[0\]\.weights\[1\] is conv1\/bias float32 \[7\]/.test(error.message),
      error.message,
    );
    await Deno.writeTextFile(modelJson, good);

    assertEquals(await snapshot(runDir), files, "a check wrote to the run folder");
    (await loadCheckpoint(runDir)).model.dispose();
    await Deno.remove(runDir, { recursive: true });
  },
});

Deno.test("numbers JSON cannot hold are never written as null", () => {
  assertEquals(finiteJson({ a: 1.5, b: [2] }), '{"a":1.5,"b":[2]}');
  for (const bad of [NaN, Infinity, -Infinity]) {
    assertThrows(() => finiteJson({ loss: bad }), Error);
  }
});

Deno.test({
  ...options,
  name: "a run folder that is a file, and a missing one: one line, exit 2, for eval and resume",
  fn: async () => {
    const file = join(await Deno.makeTempDir(), "notes.txt");
    await Deno.writeTextFile(file, "not a run");
    await expectOneLine("eval", [file], 2, /notes\.txt: not a folder$/);
    await expectOneLine("train", ["--resume", file], 2, /notes\.txt: not a folder$/);
    await expectOneLine("train", ["--resume", `${file}.nope`], 2, /no such run folder$/);
    assertEquals(await Deno.readTextFile(file), "not a run");
    await Deno.remove(join(file, ".."), { recursive: true });
  },
});

Deno.test({
  ...options,
  name: "a diverging run stops with one line and exit 3 and saves nothing",
  fn: async () => {
    const runDir = join(await Deno.makeTempDir(), "run");
    await expectOneLine(
      "train",
      [
        "--model",
        "lenet-relu",
        "--lr",
        "1e30",
        "--limit",
        "640",
        "--batch",
        "32",
        "--epochs",
        "1",
        "--out",
        runDir,
      ],
      3,
      /^error: training diverged: .* (loss is (NaN|Infinity)|holds values that are not finite).*--lr\)$/,
    );
    const names = [...Deno.readDirSync(runDir)].map((entry) => entry.name);
    assert(!names.includes("checkpoint") && !names.includes("metrics.jsonl"), `${names}`);
    assert(!names.includes("train.lock"), "an error left the run folder locked");
    await Deno.remove(join(runDir, ".."), { recursive: true });
  },
});

Deno.test({
  ...options,
  name: "resume repairs a run folder left by a kill at any moment of a save",
  fn: async () => {
    const runDir = await tinyRun();
    const checkpoint = join(runDir, "checkpoint");
    const expected = await snapshot(runDir);
    const resumeAgain = async () => {
      const resume = await loadCheckpoint(runDir);
      const result = await train({
        runDir,
        dataset: dataset!,
        backend: await autoBackend(),
        resume,
      });
      result.model.dispose();
    };
    // Killed while writing a fresh checkpoint, and while replacing a file atomically.
    await Deno.mkdir(join(runDir, ".checkpoint.tmp-0123abcd"));
    await Deno.writeTextFile(join(runDir, ".checkpoint.tmp-0123abcd", "model.json"), "{");
    await Deno.writeTextFile(join(runDir, ".metrics.jsonl.tmp-89abcdef"), "half");
    // Killed between the checkpoint's swap and the metrics write: the metrics lag an epoch.
    await Deno.writeTextFile(join(runDir, "metrics.jsonl"), "");
    await Deno.remove(join(runDir, "curves.svg"));
    await resumeAgain();
    assertEquals(await snapshot(runDir), expected);
    // Killed between the two renames of a save: only checkpoint.previous holds the checkpoint.
    await Deno.rename(checkpoint, join(runDir, "checkpoint.previous"));
    await resumeAgain();
    assertEquals(await snapshot(runDir), expected);
    // Killed after both renames, before the previous one was removed.
    await Deno.copyFile(join(checkpoint, "state.json"), join(runDir, "stale.json"));
    await Deno.mkdir(join(runDir, "checkpoint.previous"));
    await Deno.rename(
      join(runDir, "stale.json"),
      join(runDir, "checkpoint.previous", "state.json"),
    );
    await resumeAgain();
    assertEquals(await snapshot(runDir), expected);
    await Deno.remove(runDir, { recursive: true });
  },
});

Deno.test({
  ...options,
  name: "SIGTERM finishes the step, saves a checkpoint and exits 143; --resume continues",
  ignore: options.ignore || Deno.build.os === "windows",
  fn: async () => {
    const runDir = join(await Deno.makeTempDir(), "run");
    const process = taskCommand("train", [
      "--model",
      "lenet-relu",
      "--limit",
      "16000",
      "--test-limit",
      "100",
      "--batch",
      "32",
      "--epochs",
      "1",
      "--out",
      runDir,
    ]).spawn();
    const reader = process.stdout.getReader();
    let stdout = "";
    while (!stdout.includes("plan:")) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += new TextDecoder().decode(value);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    process.kill("SIGTERM");
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      stdout += new TextDecoder().decode(chunk.value);
    }
    const status = await process.status;
    await process.stderr.cancel();
    assertEquals(status.code, 143, stdout);
    assert(stdout.includes("checkpoint saved. Continue with:"), stdout);
    assert(!(await exists(join(runDir, "train.lock"))), "SIGTERM left the run folder locked");
    const { state, model } = await loadCheckpoint(runDir);
    model.dispose();
    assert(state.batch > 0 && state.epoch === 0, `state ${state.epoch}/${state.batch}`);
    const resumed = await runTask("train", ["--resume", runDir]);
    assertEquals(resumed.code, 0, resumed.stderr);
    await Deno.remove(join(runDir, ".."), { recursive: true });
  },
});

Deno.test({
  ...options,
  name: "--resume with --summary prints the run's model and trains nothing",
  fn: async () => {
    const runDir = await tinyRun();
    const before = await snapshot(runDir);
    const { code, stdout } = await runTask("model", ["--resume", runDir]);
    assertEquals(code, 0);
    assert(stdout.includes("conv1") && stdout.includes("61,706"), stdout);
    assertEquals(await snapshot(runDir), before);
    await Deno.remove(runDir, { recursive: true });
  },
});

Deno.test({
  ...options,
  name:
    "a full or read-only disk is one line before any training, and a failed save keeps the previous checkpoint",
  ignore: options.ignore || Deno.build.os !== "linux",
  fn: async () => {
    const small = await smallDisk("1m");
    if (!small) return;
    try {
      await expectOneLine(
        "train",
        ["--model", "lenet-relu", "--limit", "64", "--epochs", "1", "--out", join(small, "run")],
        2,
        /run: not enough room for a checkpoint \(about 2 MiB\)$/,
      );
    } finally {
      await unmount(small);
    }

    const disk = await smallDisk("3m");
    if (!disk) return;
    try {
      const runDir = await tinyRun({ parent: disk });
      const before = await snapshot(runDir);
      const { model, optimizerWeights, state } = await loadCheckpoint(runDir);
      const optimizer = createOptimizer("adam", 0.001);
      await optimizer.setWeights(optimizerWeights);
      // The disk holds the checkpoint (0.7 MiB) and the filler, but not a second checkpoint.
      await Deno.writeFile(join(disk, "filler"), new Uint8Array(2_000_000));
      const error = await assertRejects(
        () => saveCheckpoint(runDir, model, optimizer, state),
        InputError,
      );
      assert(
        /the checkpoint could not be written .*; the previous one is intact$/.test(error.message),
        error.message,
      );
      assertEquals(await snapshot(runDir), before);
      model.dispose();
      await Deno.remove(join(disk, "filler"));

      await new Deno.Command("mount", { args: ["-o", "remount,ro", disk] }).output();
      await expectOneLine(
        "train",
        ["--resume", runDir, "--epochs", "2"],
        2,
        /run: cannot write there \(Read-only file system/,
      );
      assertEquals(await snapshot(runDir), before);
    } finally {
      await unmount(disk);
    }
  },
});
