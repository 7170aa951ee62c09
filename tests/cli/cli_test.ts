import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { meaningfulLines, runTask, taskCommand } from "../support/cli.ts";
import { hasRealData } from "../support/test_data.ts";
const realData = hasRealData();

async function expectInputError(
  task: string,
  args: string[],
  expected: string | RegExp,
): Promise<void> {
  const { code, stdout, stderr } = await runTask(task, args);
  const lines = meaningfulLines(stderr);
  assertEquals(code, 2, `exit code of ${task} ${args.join(" ")}: ${stderr}`);
  assertEquals(lines.length, 1, `stderr of ${task} ${args.join(" ")} is not one line: ${stderr}`);
  const [line] = lines;
  assert(
    typeof expected === "string" ? line === `error: ${expected}` : expected.test(line),
    `unexpected message: ${line}`,
  );
  assert(!/\n\s+at /.test(stderr + stdout), "a stack trace was printed");
}

Deno.test("bad flags: one line naming the flag, exit 2", async () => {
  await expectInputError("train", ["--bogus"], "unknown flag --bogus (see --help)");
  await expectInputError("train", ["--batch", "0"], "--batch 0: must be an integer ≥ 1");
  await expectInputError("train", ["--lr=-1"], "--lr -1: must be a number > 0");
  await expectInputError(
    "train",
    ["--lr", "-1"],
    "--lr: value missing, or a negative number: write --lr=VALUE",
  );
  await expectInputError(
    "train",
    ["--resize", "50"],
    "--resize 50: alexnet needs inputs of at least 67×67 (its feature map vanishes below that)",
  );
  await expectInputError(
    "train",
    ["--model", "vgg"],
    "--model vgg: must be one of lenet, lenet-relu, alexnet, vgg11, nin, googlenet, lenet-bn, resnet18, densenet",
  );
  await expectInputError(
    "train",
    ["--model", "nin", "--resize", "100"],
    "--resize 100: nin needs inputs of at least 195×195 (its last 5×5 average pool must leave one value per class)",
  );
  await expectInputError(
    "train",
    ["--model", "lenet-bn", "--resize", "32"],
    "--resize 32: lenet-bn takes the 28×28 images as they are",
  );
  await expectInputError("train", ["--epochs", "1.5"], "--epochs 1.5: must be an integer ≥ 1");
  await expectInputError(
    "train",
    ["--backend", "metal"],
    "--backend metal: must be one of auto, webgpu, wasm, cpu",
  );
  await expectInputError(
    "eval",
    [],
    "give exactly one run folder: deno task eval RUN_DIR (see --help)",
  );
});

Deno.test("bad folders: existing --out is left untouched, unwritable --out, missing --data-dir and runs", async () => {
  const existing = await Deno.makeTempDir();
  await Deno.writeTextFile(join(existing, "keep.txt"), "precious");
  await expectInputError(
    "train",
    ["--out", existing, "--backend", "cpu"],
    /^error: --out .*: folder exists and is not empty/,
  );
  assertEquals(await Deno.readTextFile(join(existing, "keep.txt")), "precious");
  const blocker = join(existing, "keep.txt");
  await expectInputError(
    "train",
    ["--model", "lenet", "--out", join(blocker, "run"), "--backend", "cpu"],
    /^error: --out .*keep\.txt\/run: cannot write there/,
  );
  await expectInputError(
    "train",
    ["--data-dir", existing, "--backend", "cpu"],
    /^error: --data-dir .*: missing train-images/,
  );
  await expectInputError(
    "train",
    ["--resume", join(existing, "nope"), "--backend", "cpu"],
    /: no such run folder$/,
  );
  await expectInputError(
    "train",
    ["--resume", existing, "--batch", "3"],
    "--batch cannot be combined with --resume (the run keeps its own settings)",
  );
  await expectInputError("eval", [existing, "--backend", "cpu"], /: no checkpoint in this folder/);
  assertEquals([...Deno.readDirSync(existing)].map((e) => e.name), ["keep.txt"]);
  await Deno.remove(existing, { recursive: true });
});

Deno.test({
  name: "train, Ctrl-C, resume and eval as a user runs them",
  ignore: !realData,
  fn: async () => {
    const runDir = join(await Deno.makeTempDir(), "run");
    const process = taskCommand("train", [
      "--model",
      "lenet-relu",
      "--limit",
      "16000",
      "--test-limit",
      "200",
      "--batch",
      "32",
      "--epochs",
      "1",
      "--out",
      runDir,
    ]).spawn();
    const decoder = new TextDecoder();
    let stdout = "";
    const reader = process.stdout.getReader();
    while (!stdout.includes("plan:")) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += decoder.decode(value);
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // Ctrl-C in a terminal arrives twice under `deno task`: the terminal's, and a moment
    // later the copy the task runner forwards. It must still save.
    process.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      process.kill("SIGINT");
    } catch (error) {
      // A quick save may finish before the copy arrives, as it can in a terminal.
      if (!(error instanceof TypeError && /already terminated/.test(error.message))) throw error;
    }
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      stdout += decoder.decode(chunk.value);
    }
    const status = await process.status;
    await process.stderr.cancel();
    assertEquals(status.code, 130, stdout);
    assert(
      stdout.includes(`checkpoint saved. Continue with: deno task train --resume ${runDir}`),
      stdout,
    );
    const state = JSON.parse(await Deno.readTextFile(join(runDir, "checkpoint", "state.json")));
    assert(
      state.epoch === 0 && state.batch > 0 && state.batch < 500,
      `state after Ctrl-C: ${state.epoch}/${state.batch}`,
    );

    const resumed = await runTask("train", ["--resume", runDir]);
    assertEquals(resumed.code, 0, resumed.stderr);
    assert(
      resumed.stdout.includes(`resuming at epoch 1, step ${state.batch + 1} of 500`),
      resumed.stdout,
    );
    assert(
      /epoch 1, loss \d\.\d{4}, train acc 0\.\d{3}, test acc 0\.\d{3}, time/.test(resumed.stdout),
      resumed.stdout,
    );
    assertEquals(
      (await Deno.readTextFile(join(runDir, "metrics.jsonl"))).trim().split("\n").length,
      1,
    );
    assert((await Deno.readTextFile(join(runDir, "curves.svg"))).startsWith("<svg"), "no chart");

    const report = await runTask("eval", [runDir, "--limit", "100"]);
    assertEquals(report.code, 0, report.stderr);
    for (const text of ["accuracy", "T-shirt/top", "Ankle boot", "confusion matrix"]) {
      assert(report.stdout.includes(text), `eval output lacks ${text}: ${report.stdout}`);
    }
    const json = await runTask("eval", [runDir, "--limit", "100", "--json"]);
    const result = JSON.parse(json.stdout);
    assertEquals(result.count, 100);
    assertEquals(result.confusion.flat().reduce((a: number, b: number) => a + b, 0), 100);
    assertEquals(result.perClass.length, 10);
    await Deno.remove(join(runDir, ".."), { recursive: true });
  },
});
