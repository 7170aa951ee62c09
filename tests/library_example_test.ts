import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { assert, assertEquals } from "./support/assert.ts";
import { ROOT } from "./support/cli.ts";
import { hasRealData } from "./support/test_data.ts";

/** The README's library example, importing this checkout's `mod.ts`. */
function readmeExample(): string {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const section = readme.split(/^## /m).find((part) => part.startsWith("Library"));
  const code = section?.match(/```ts\n([\s\S]*?)```/)?.[1];
  assert(code, "README.md's Library section has no ts example");
  assert(code.includes('from "./mod.ts"'), "the example does not import ./mod.ts");
  return code.replace('from "./mod.ts"', `from "${pathToFileURL(join(ROOT, "mod.ts")).href}"`);
}

Deno.test({
  name: "the README's library example runs against mod.ts and trains a model that learns",
  ignore: !hasRealData(),
  async fn() {
    const work = await Deno.makeTempDir();
    const script = join(work, "example.ts");
    await Deno.writeTextFile(script, readmeExample());
    const output = await new Deno.Command(Deno.execPath(), {
      // The project's deno.json maps the npm packages, as a user's own would.
      args: [
        "run",
        `--config=${join(ROOT, "deno.json")}`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-net",
        script,
      ],
      cwd: work,
      env: { XDG_CACHE_HOME: join(work, "cache") },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    const accuracy = Number(stdout.match(/test accuracy ([\d.]+)/)?.[1]);
    // One epoch of LeNet-ReLU reaches about 0.78 (chance is 0.1).
    assert(accuracy > 0.6, `example printed: ${stdout}`);
    const saved = [...Deno.readDirSync(join(work, "runs", "mine"))].map((entry) => entry.name);
    assert(saved.includes("checkpoint") && saved.includes("metrics.jsonl"), `${saved}`);
    await Deno.remove(work, { recursive: true });
  },
});
