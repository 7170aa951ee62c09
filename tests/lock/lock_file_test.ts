/**
 * The lock file: one holder at a time, across processes; a holder killed
 * with SIGKILL leaves a lock that is taken over with its name; `Deno.exit`
 * and `release` remove the file.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { LockHeldError, type LockHolder, takeLock } from "../../lock/lock_file.ts";

const HOLDER = new URL("../support/reliability/lock_holder.ts", import.meta.url).pathname;

function holderProcess(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-sys=hostname", HOLDER, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Resolves once the child has printed "held"; the rest of its stdout is left to drain. */
async function untilHeld(child: Deno.ChildProcess): Promise<void> {
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("held\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the holder ended before taking the lock: ${text}`);
    text += value;
  }
  lines.releaseLock();
}

/**
 * Starts a holder of `path` in `mode`, checks that taking the lock is
 * refused with that process named, then kills it with SIGKILL; its pid.
 */
async function refusedThenKilled(mode: "hold" | "late", path: string): Promise<number> {
  const child = holderProcess([mode, path]);
  await untilHeld(child);
  const error = await assertRejects(() => takeLock(path), LockHeldError);
  assertEquals(error.holder?.pid, child.pid);
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel().catch(() => {});
  return child.pid;
}

async function withFolder(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lock-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a held lock is refused with its holder named; release removes the file", async () => {
  await withFolder(async (dir) => {
    const path = join(dir, "x.lock");
    const lock = await takeLock(path);
    const holder: LockHolder = JSON.parse(await Deno.readTextFile(path));
    assertEquals(holder.pid, Deno.pid);
    assertEquals(holder.host, Deno.hostname());
    const error = await assertRejects(() => takeLock(path), LockHeldError);
    assertEquals(error.holder, holder);
    lock.release();
    lock.release();
    assertEquals([...Deno.readDirSync(dir)], []);
    (await takeLock(path)).release();
  });
});

Deno.test("racing takers in one process: exactly one wins", async () => {
  await withFolder(async (dir) => {
    const path = join(dir, "x.lock");
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => takeLock(path)));
    const won = results.filter((result) => result.status === "fulfilled");
    assertEquals(won.length, 1, results.map((result) => result.status).join(","));
    (won[0] as PromiseFulfilledResult<{ release(): void }>).value.release();
  });
});

Deno.test("another process holds it; killed with SIGKILL, its lock is taken over, named", async () => {
  await withFolder(async (dir) => {
    const path = join(dir, "x.lock");
    const pid = await refusedThenKilled("hold", path);
    const left: (LockHolder | undefined)[] = [];
    const lock = await takeLock(path, { onTakeover: (holder) => left.push(holder) });
    assertEquals(left.map((holder) => holder?.pid), [pid]);
    assertEquals(JSON.parse(await Deno.readTextFile(path)).pid, Deno.pid);
    lock.release();
  });
});

Deno.test("a holder that has not yet named itself is read again until it has", async () => {
  await withFolder(async (dir) => {
    const path = join(dir, "x.lock");
    await refusedThenKilled("late", path);
  });
});

Deno.test("Deno.exit releases the lock: no file is left", async () => {
  await withFolder(async (dir) => {
    const path = join(dir, "x.lock");
    const child = holderProcess(["exit", path]);
    await untilHeld(child);
    assertEquals((await child.status).code, 0);
    await child.stdout.cancel().catch(() => {});
    assertEquals([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("three processes taking turns 20 times each lose no update", async () => {
  await withFolder(async (dir) => {
    const path = join(dir, "x.lock");
    const children = [0, 1, 2].map(() => holderProcess(["count", path, "20"]));
    const codes = await Promise.all(children.map(async (child) => (await child.status).code));
    await Promise.all(children.map((child) => child.stdout.cancel().catch(() => {})));
    assertEquals(codes, [0, 0, 0]);
    assertEquals(await Deno.readTextFile(`${path}.count`), "60");
    assert(!Deno.readDirSync(dir).some((entry) => entry.name === "x.lock"), "lock left behind");
  });
});
