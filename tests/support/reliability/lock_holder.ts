/**
 * A second process for the lock tests:
 *
 *     lock_holder.ts hold PATH        takes the lock, prints "held", waits to be killed
 *     lock_holder.ts exit PATH        takes the lock, prints "held", ends with Deno.exit(0)
 *     lock_holder.ts count PATH N     N times: waits for the lock, adds 1 to PATH.count, lets go
 */
import { takeLock } from "../../../lock/lock_file.ts";

const [mode, path, times] = Deno.args;

if (mode === "count") {
  const counter = `${path}.count`;
  for (let i = 0; i < Number(times); i++) {
    const lock = await takeLock(path, { onWait: () => {} });
    const value = Number(await Deno.readTextFile(counter).catch(() => "0"));
    // A read and a write apart: without the lock, another process's update is lost in between.
    await new Promise((resolve) => setTimeout(resolve, 2));
    await Deno.writeTextFile(counter, String(value + 1));
    lock.release();
  }
} else {
  await takeLock(path);
  console.log("held");
  if (mode === "exit") Deno.exit(0);
  // A timer keeps the process alive (a promise alone would not) until it is killed.
  setInterval(() => {}, 60_000);
}
