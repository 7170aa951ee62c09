import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { meaningfulLines, ROOT, taskArgs } from "../support/cli.ts";
import { BLAS_RUNS } from "../support/blas_choices.ts";
import { hasRealData } from "../support/test_data.ts";

/** Runs a task's script with its flags, FFI granted for `ffi` alone (none when empty). */
async function runWithFfi(task: string, ffi: string[], args: string[]) {
  const flags = taskArgs(task).flatMap((arg) =>
    !arg.startsWith("--allow-ffi") ? [arg] : ffi.length > 0 ? [`--allow-ffi=${ffi.join(",")}`] : []
  );
  return await run([...flags, ...args]);
}

async function run(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Expects exit code 2 and one line on stderr matching `expected`, without a stack trace. */
function expectOneLine(result: Awaited<ReturnType<typeof run>>, expected: RegExp): string {
  const lines = meaningfulLines(result.stderr);
  assertEquals(result.code, 2, result.stderr);
  assertEquals(lines.length, 1, `not one line: ${result.stderr}`);
  assert(expected.test(lines[0]), `unexpected message: ${lines[0]}`);
  assert(!/\n\s+at /.test(result.stderr + result.stdout), "a stack trace was printed");
  return lines[0];
}

/** The first of these libraries that exists here, for the library without `cblas_sgemm`. */
const ZLIB = ["/lib/x86_64-linux-gnu/libz.so.1", "/lib/aarch64-linux-gnu/libz.so.1"].find(
  (path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  },
);

const installed = BLAS_RUNS.filter((run) => run.choice !== "none");

Deno.test("bad --blas values on train, eval and bench: one line each, exit 2", async () => {
  const instead =
    "give OpenBLAS's, BLIS's or Accelerate's path, or auto to search the usual places";
  const ffi = taskArgs("train").find((arg) => arg.startsWith("--allow-ffi="))!.slice(12).split(",");
  const train = (...args: string[]) => runWithFfi("train", ffi, args);
  expectOneLine(
    await train("--blas", "/nonexistent/libblas.so"),
    /^error: --blas \/nonexistent\/libblas\.so: no such file \(give OpenBLAS/,
  );
  expectOneLine(
    await train("--blas", "deno.json"),
    new RegExp(`^error: --blas ${join(ROOT, "deno.json")}: not a shared library; ${instead}$`),
  );
  // A folder, whatever it might be granted, is no library either.
  expectOneLine(
    await train("--blas", "tests"),
    new RegExp(`^error: --blas ${join(ROOT, "tests")}: not a shared library; ${instead}$`),
  );
  expectOneLine(await train("--blas="), /^error: --blas: value missing/);
  if (ZLIB) {
    const result = await runWithFfi("train", [ZLIB], ["--blas", ZLIB]);
    expectOneLine(
      result,
      new RegExp(`^error: --blas ${ZLIB}: has no cblas_sgemm, so no CBLAS; ${instead}$`),
    );
  }
  expectOneLine(
    await runWithFfi("bench", ffi, ["--blas", "/nonexistent/x.dylib"]),
    /^error: --blas \/nonexistent\/x\.dylib: no such file/,
  );
  // The file behind Debian's symlink: a real CBLAS that the tasks do not grant.
  const link = installed.find((run) => Deno.lstatSync(run.choice).isSymlink)?.choice;
  if (!link) return;
  const real = Deno.realPathSync(link);
  const refused = await runWithFfi("eval", ffi, ["--blas", real, "some-run"]);
  const line = expectOneLine(
    refused,
    /^error: --blas \S+: the FFI permission does not cover it; run instead: deno run --allow-ffi=/,
  );
  assert(line.endsWith(`eval.ts --blas ${real} some-run`), line);
  // The line works as printed: train's, asked only for the model's summary.
  const trainLine = expectOneLine(
    await train("--blas", real, "--model", "lenet", "--summary"),
    /run instead: /,
  );
  const granted = await run(trainLine.split("run instead: deno ")[1].split(" "));
  assertEquals(granted.code, 0, granted.stderr);
  assert(/total [\d,]+ parameters/.test(granted.stdout), granted.stdout);
});

Deno.test({
  name:
    "train's header: with only BLIS granted, auto finds BLIS; with no BLAS, the products stay on XNNPACK",
  ignore: !hasRealData(),
  fn: async () => {
    const blis = installed.find((run) => run.label === "BLIS")?.choice;
    const work = await Deno.makeTempDir();
    const tiny = ["--model", "lenet-relu", "--limit", "64", "--test-limit", "32", "--epochs", "1"];
    const header = async (ffi: string[], out: string) => {
      const result = await runWithFfi("train", ffi, [
        ...tiny,
        "--backend",
        "wasm",
        "--out",
        join(work, out),
      ]);
      assertEquals(result.code, 0, result.stderr);
      return result.stdout.split("\n")[0];
    };
    if (blis) {
      assertEquals(
        await header([blis], "blis"),
        `device: tfjs wasm backend (XNNPACK, SIMD; matrix products on BLIS, ${blis}, found by --blas auto)`,
      );
    } else console.warn("SKIPPED: BLIS not installed (apt-get install libblis4-pthread)");
    assertEquals(
      await header([], "none"),
      "device: tfjs wasm backend (XNNPACK, SIMD; matrix products on XNNPACK: --blas auto found no BLAS, see docs/troubleshooting.md)",
    );
    await Deno.remove(work, { recursive: true });
  },
});
