import { assert, assertEquals } from "../support/assert.ts";
import { grantingCommandLine, shellWord } from "../../cli/permissions/grant_line.ts";

Deno.test("shellWord quotes what a shell would split or expand, as each OS's shell reads it", () => {
  assertEquals(shellWord("/usr/lib/libopenblas.so.0", "linux"), "/usr/lib/libopenblas.so.0");
  assertEquals(shellWord("/opt/my libs/it's.so", "linux"), `'/opt/my libs/it'\\''s.so'`);
  assertEquals(
    shellWord("C:\\OpenBLAS\\bin\\libopenblas.dll", "windows"),
    "C:\\OpenBLAS\\bin\\libopenblas.dll",
  );
  assertEquals(shellWord("C:\\Program Files\\b.dll", "windows"), `"C:\\Program Files\\b.dll"`);
});

Deno.test("the granting line: FFI for the one library, the task's other permissions, its script and the arguments", () => {
  const line = grantingCommandLine("bench", "/opt/lib.so", [
    "--blas",
    "/opt/lib.so",
    "--steps",
    "3",
  ]);
  assert(line.startsWith("deno run --allow-ffi=/opt/lib.so --allow-read "), line);
  assert(line.endsWith(" bench.ts --blas /opt/lib.so --steps 3"), line);
  assertEquals(line.match(/--allow-ffi/g)?.length, 1, line);
  assert(line.includes("--allow-run=/usr/bin/python3"), line);
});
