/**
 * The command line that runs a command again with FFI granted for one
 * library: what `--blas PATH` prints when the permission does not cover
 * PATH, ready to copy.
 *
 * @module
 */
import { taskPermissions, taskScript } from "./task_permissions.ts";

/**
 * A word as the shell reads it back: quoted where it holds anything but
 * plain characters, in single quotes for POSIX shells, in double quotes on
 * Windows (cmd.exe knows no others; a backslash is plain there).
 */
export function shellWord(word: string, os: string = Deno.build.os): string {
  if (os === "windows") {
    return /^[\w@%+=:,.\\/-]+$/.test(word) ? word : `"${word.replaceAll('"', '\\"')}"`;
  }
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * `deno run --allow-ffi=PATH …` with the task's other permissions, its
 * script and the command's arguments as given.
 */
export function grantingCommandLine(task: string, path: string, args: string[]): string {
  const others = taskPermissions(task).filter((flag) => !flag.startsWith("--allow-ffi"));
  return ["deno", "run", `--allow-ffi=${path}`, ...others, taskScript(task), ...args]
    .map((word) => shellWord(word))
    .join(" ");
}
