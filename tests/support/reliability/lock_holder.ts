/**
 * A second process for the lock tests:
 *
 *     lock_holder.ts hold PATH        takes the lock, prints "held", waits to be killed
 *     lock_holder.ts exit PATH        takes the lock, prints "held", ends with Deno.exit(0)
 *     lock_holder.ts count PATH N     N times: waits for the lock, adds 1 to PATH.count, lets go
 *     lock_holder.ts late PATH        locks PATH's file, prints "held", names itself 100 ms
 *                                     later (as a holder caught between the two steps), holds
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
} else if (mode === "late") {
  const file = await Deno.open(path, { write: true, create: true });
  await file.lock(true);
  console.log("held");
  await new Promise((resolve) => setTimeout(resolve, 100));
  const holder = { pid: Deno.pid, since: new Date().toISOString() };
  await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  setInterval(() => {}, 60_000);
} else {
  await takeLock(path);
  console.log("held");
  if (mode === "exit") Deno.exit(0);
  // A timer keeps the process alive (a promise alone would not) until it is killed.
  setInterval(() => {}, 60_000);
}
