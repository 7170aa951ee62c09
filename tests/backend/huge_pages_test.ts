import { adviseHugePages } from "../../backend/huge_pages.ts";
import { assertEquals } from "../support/assert.ts";
import { ROOT } from "../support/cli.ts";

Deno.test("without the FFI permission, huge pages are not advised and nothing fails", () => {
  assertEquals(adviseHugePages(new ArrayBuffer(2 ** 23)), false);
});

Deno.test({
  name: "with --allow-ffi, the wasm heap and shared floats are marked for huge pages",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "tests/backend/huge_pages_probe.ts"],
      cwd: ROOT,
      // The tasks' glibc setting would mark the shared floats by itself.
      env: { GLIBC_TUNABLES: "" },
      stderr: "inherit",
    }).output();
    assertEquals(output.code, 0);
    const { setting, ...marks } = JSON.parse(new TextDecoder().decode(output.stdout));
    if (setting === undefined || setting === "never") {
      console.warn(`SKIPPED: transparent huge pages are ${setting ?? "absent"} on this machine`);
      return;
    }
    assertEquals(marks, { heap: true, shared: true });
  },
});
