import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import { ROOT, taskArgs } from "./cli.ts";

Deno.test("the binary bakes in exactly the train and eval tasks' permission flags", () => {
  const permissions = (task: string) => taskArgs(task).filter((arg) => arg.startsWith("--allow-"));
  assertEquals(permissions("eval"), permissions("train"));
  assert(
    !permissions("train").some((flag) => flag === "-A" || flag === "--allow-all"),
    "train task has -A",
  );
  assert(
    permissions("train").includes(
      "--allow-net=fashion-mnist.s3-website.eu-central-1.amazonaws.com,ossci-datasets.s3.amazonaws.com",
    ),
    "network is not limited to the download hosts",
  );
});

Deno.test({
  name:
    "deno task compile resolves the whole module graph into a binary (DENORT_BIN set to this deno)",
  fn: async () => {
    // This deno binary stands in for the denort runtime, which cannot be downloaded here: the
    // result does not run as the app, but compiling proves every import resolves and is embedded.
    const output = join(await Deno.makeTempDir(), "fashion-webgpu");
    const result = await new Deno.Command(Deno.execPath(), {
      args: [...taskArgs("compile"), "--output", output],
      cwd: ROOT,
      env: { DENORT_BIN: Deno.execPath() },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 0, text);
    for (const flag of taskArgs("train").filter((arg) => arg.startsWith("--allow-"))) {
      assert(text.includes(flag), `compile command lacks ${flag}: ${text}`);
    }
    assert(text.includes("app.ts"), text);
    const payload = (await Deno.stat(output)).size - (await Deno.stat(Deno.execPath())).size;
    assert(payload > 1_000_000, `only ${payload} bytes embedded`);
    console.log(`embedded payload: ${(payload / 2 ** 20).toFixed(1)} MiB`);
    await Deno.remove(join(output, ".."), { recursive: true });
  },
});
