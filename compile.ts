/**
 * Builds the standalone binary `dist/fashion-webgpu` (or one for `--target`)
 * from `fashion_webgpu.ts` with `deno compile --bundle`, baking in the
 * permission flags of the `train` task in deno.json, with FFI granted only
 * for the BLAS libraries of the target's OS (a macOS binary gets the macOS
 * paths and no others; see `backend/wasm/blas/libraries.ts`).
 *
 *     deno task compile [--target TARGET] [--output PATH]
 *
 * @module
 */
import { blasPathsFor } from "./backend/wasm/blas/libraries.ts";
import { defineCommand, HELP_FLAG, textFlag } from "./cli/flags.ts";
import { runMain } from "./cli/run_main.ts";
import { taskPermissions } from "./cli/permissions/task_permissions.ts";

/**
 * Embed one tree-shaken bundle instead of the npm packages' whole folders
 * (hundreds of MiB of tfjs builds, source maps and types). Not minified:
 * Deno swaps in its own `require` by matching the bundler's helper, which
 * minified names (such as `$a`) can escape, and tfjs then fails to start
 * ("Dynamic require of node:util is not supported").
 */
export const BUNDLE_FLAGS = ["--bundle"];

/** The OS of a target triple (`aarch64-apple-darwin`: darwin), or this machine's without one. */
export function targetOs(target?: string): string {
  if (target === undefined) return Deno.build.os;
  if (target.includes("apple-darwin")) return "darwin";
  if (target.includes("windows")) return "windows";
  return "linux";
}

/**
 * The permission flags the binary gets: the `train` task's, with its FFI
 * grant narrowed to the BLAS paths of the target's OS (none where it has
 * none: Windows).
 */
export function binaryPermissions(target?: string): string[] {
  const paths = blasPathsFor(targetOs(target));
  const ffi = paths.length > 0 ? [`--allow-ffi=${paths.join(",")}`] : [];
  return taskPermissions("train").flatMap((flag) => flag.startsWith("--allow-ffi=") ? ffi : [flag]);
}

const FLAGS = {
  target: textFlag({
    placeholder: "TARGET",
    help: "e.g. x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu,\n" +
      "x86_64-apple-darwin, aarch64-apple-darwin, x86_64-pc-windows-msvc",
  }),
  output: textFlag({
    placeholder: "PATH",
    help: "where to write the binary",
    defaultText: "dist/fashion-webgpu, or dist/fashion-webgpu-TARGET with --target",
  }),
  help: HELP_FLAG,
};

/** The `compile` command. */
export const compileCommand = defineCommand({
  summary: `Build the standalone binary with deno compile.

Usage: deno task compile [--target TARGET] [--output PATH]`,
  flags: FLAGS,
  notes: `deno compile downloads its denort runtime once per target; offline, point DENORT_BIN at a
denort binary for the target.`,
  run: async ({ values }) => {
    const output = values.output ??
      `dist/fashion-webgpu${values.target ? `-${values.target}` : ""}`;
    const compileArgs = [
      "compile",
      ...BUNDLE_FLAGS,
      ...binaryPermissions(values.target),
      ...(values.target ? ["--target", values.target] : []),
      "--output",
      output,
      "fashion_webgpu.ts",
    ];
    console.log(`deno ${compileArgs.join(" ")}`);
    const { code } = await new Deno.Command("deno", { args: compileArgs }).spawn().status;
    return code;
  },
});

if (import.meta.main) await runMain(() => compileCommand.run(Deno.args));
