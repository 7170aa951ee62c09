import { assert, assertEquals } from "../../../support/assert.ts";
import { taskArgs } from "../../../support/cli.ts";
import { BLAS_LIBRARIES, candidateLibraries } from "../../../../backend/wasm/blas/libraries.ts";

const ffiPaths = (task: string) =>
  taskArgs(task).find((arg) => arg.startsWith("--allow-ffi="))?.slice("--allow-ffi=".length)
    .split(",");

Deno.test("the tasks grant FFI for exactly the BLAS libraries searched, in their order", () => {
  const paths = BLAS_LIBRARIES.map((library) => library.path);
  for (const task of ["train", "eval", "bench", "test"]) assertEquals(ffiPaths(task), paths, task);
  // Never the whole of FFI, nor libc: only the libraries' own paths.
  assert(paths.every((path) => !/libc\.so|\/libc\b/.test(path)), paths.join());
});

Deno.test("auto's search on each OS: Debian's OpenBLAS, then BLIS, then Fedora and Arch; Accelerate on macOS", () => {
  const paths = (os: string, arch: string) => candidateLibraries(os, arch).map((l) => l.path);
  const linux = paths("linux", "x86_64");
  assertEquals(linux.slice(0, 4), [
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/blis-pthread/libblis.so.4",
  ]);
  assertEquals(linux.slice(-4), [
    "/usr/lib64/libopenblasp.so.0",
    "/usr/lib64/libopenblaso.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
  ]);
  assert(!linux.some((path) => path.includes("aarch64")), "aarch64 paths on x86_64");
  assert(paths("linux", "aarch64")[0].startsWith("/usr/lib/aarch64-linux-gnu/openblas-pthread/"));
  assertEquals(paths("darwin", "aarch64"), [
    "/System/Library/Frameworks/Accelerate.framework/Accelerate",
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  ]);
  assertEquals(paths("darwin", "x86_64")[1], "/usr/local/opt/openblas/lib/libopenblas.dylib");
  assertEquals(paths("windows", "x86_64"), []);
});
