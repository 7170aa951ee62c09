import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { meaningfulLines, ROOT, taskArgs } from "../support/cli.ts";
import { hasRealData } from "../support/test_data.ts";
import { binaryPermissions, BUNDLE_FLAGS } from "../../compile.ts";
import { blasPathsFor } from "../../backend/wasm/blas/libraries.ts";

const permissions = (task: string) => taskArgs(task).filter((arg) => arg.startsWith("--allow-"));

Deno.test("the train and eval tasks grant the same permissions but the page's address; never -A", () => {
  // train also serves its page (--view) on the loopback address; eval serves nothing.
  const withoutPage = permissions("train").map((flag) => flag.replace("=127.0.0.1,", "="));
  assertEquals(permissions("eval"), withoutPage);
  assert(
    !permissions("train").some((flag) => flag === "-A" || flag === "--allow-all"),
    "train task has -A",
  );
  assert(
    permissions("train").includes(
      "--allow-net=127.0.0.1,fashion-mnist.s3-website.eu-central-1.amazonaws.com,ossci-datasets.s3.amazonaws.com",
    ),
    "network is not limited to the loopback address and the download hosts",
  );
});

async function run(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    ...options,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

Deno.test("deno task compile resolves the whole module graph into a binary (DENORT_BIN set to this deno)", async () => {
  // This deno binary stands in for the denort runtime, which cannot be downloaded here: the
  // result does not run as the app, but compiling proves every import resolves and is embedded.
  const output = join(await Deno.makeTempDir(), "fashion-webgpu");
  const result = await run([...taskArgs("compile"), "--output", output], {
    cwd: ROOT,
    env: { DENORT_BIN: Deno.execPath() },
  });
  assertEquals(result.code, 0, result.text);
  for (const flag of [...BUNDLE_FLAGS, ...binaryPermissions()]) {
    assert(result.text.includes(flag), `compile command lacks ${flag}: ${result.text}`);
  }
  const payload = (await Deno.stat(output)).size - (await Deno.stat(Deno.execPath())).size;
  assert(payload > 500_000 && payload < 20_000_000, `${payload} bytes embedded`);
  console.log(`embedded payload: ${(payload / 2 ** 20).toFixed(1)} MiB`);
  await Deno.remove(join(output, ".."), { recursive: true });
});

Deno.test("a binary's FFI grant is the BLAS paths of its target's OS; its other permissions are train's", () => {
  const others = permissions("train").filter((flag) => !flag.startsWith("--allow-ffi"));
  const ffi = (target: string) =>
    binaryPermissions(target).filter((flag) => flag.startsWith("--allow-ffi"));
  for (
    const target of ["x86_64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"]
  ) {
    assertEquals(
      binaryPermissions(target).filter((flag) => !flag.startsWith("--allow-ffi")),
      others,
    );
  }
  assertEquals(ffi("aarch64-unknown-linux-gnu"), [
    `--allow-ffi=${blasPathsFor("linux").join(",")}`,
  ]);
  assertEquals(ffi("x86_64-apple-darwin"), [`--allow-ffi=${blasPathsFor("darwin").join(",")}`]);
  // No standard place for a BLAS on Windows: no FFI at all.
  assertEquals(ffi("x86_64-pc-windows-msvc"), []);
});

Deno.test("deno task compile --target aarch64-apple-darwin carries the macOS BLAS paths and no others", async () => {
  // Graph check: with this Linux deno as DENORT_BIN, compile resolves and bundles the whole graph
  // and lists what it embeds, then cannot write a Mach-O binary into an ELF one. That last step
  // is the only failure allowed.
  const output = join(await Deno.makeTempDir(), "fashion-webgpu");
  const result = await run([
    ...taskArgs("compile"),
    "--target",
    "aarch64-apple-darwin",
    "--output",
    output,
  ], {
    cwd: ROOT,
    env: { DENORT_BIN: Deno.execPath() },
  });
  const command = result.text.split("\n").find((line) => line.startsWith("deno compile "));
  assert(command, result.text);
  const ffi = command.split(" ").filter((word) => word.startsWith("--allow-ffi"));
  assertEquals(ffi, [`--allow-ffi=${blasPathsFor("darwin").join(",")}`]);
  assert(!command.includes("/usr/lib"), `a Linux path in the macOS binary: ${command}`);
  assert(/Embedded Files[\s\S]*\.deno_compile_bundle_/.test(result.text), result.text);
  assert(result.code === 0 || /Writing binary bytes/.test(result.text), result.text);
  await Deno.remove(join(output, ".."), { recursive: true });
});

Deno.test({
  name:
    "the bundled app trains and evaluates (wasm binary embedded) with exactly the baked-in permissions, paths relative to the cwd",
  ignore: !hasRealData(),
  fn: async () => {
    const work = await Deno.makeTempDir();
    const bundle = join(work, "fashion_webgpu.js");
    const bundled = await run(["bundle", "--output", bundle, "fashion_webgpu.ts"], {
      cwd: ROOT,
    });
    assertEquals(bundled.code, 0, bundled.text);
    const app = (...args: string[]) =>
      run(["run", ...permissions("train"), bundle, ...args], { cwd: work });
    const trained = await app(
      "train",
      "--model",
      "lenet-relu",
      "--limit",
      "128",
      "--test-limit",
      "64",
      "--epochs",
      "1",
      "--out",
      "run",
    );
    assertEquals(trained.code, 0, trained.text);
    if (navigator.hardwareConcurrency >= 2) {
      assert(
        /each step shared by \d+ threads/.test(trained.text) &&
          !meaningfulLines(trained.text).some((line) => line.includes("error")),
        `the bundle did not start its own helper worker: ${trained.text}`,
      );
    }
    assert(
      (await Deno.stat(join(work, "run", "checkpoint", "model.json"))).isFile,
      "no checkpoint in the cwd",
    );
    const evaluated = await app("eval", "run", "--limit", "32", "--json");
    assertEquals(evaluated.code, 0, evaluated.text);
    assert(evaluated.text.includes('"count":32'), evaluated.text);
    const refused = await app("fly");
    assertEquals(refused.code, 2);
    assertEquals(meaningfulLines(refused.text), [
      "error: unknown command fly: use train, eval, view or bench (see --help)",
    ]);
    await Deno.remove(work, { recursive: true });
  },
});
