/**
 * A lock file: one process at a time holds it. What holds it is an
 * exclusive advisory lock of the operating system on the open file
 * (`flock` on Linux and macOS, `LockFileEx` on Windows), which the system
 * releases when the process ends, however it ends (a SIGKILL, a crash):
 * a lock left behind by a process that is gone is free to take, with no
 * process table to ask (Deno lets a task read `/proc` only with
 * `--allow-all`, and signal a pid only with `--allow-run`). The file names
 * its holder for people and messages; the holder removes it when done.
 *
 * @module
 */

/** The process that holds a lock, as its file names it. */
export interface LockHolder {
  pid: number;
  /** The machine's name; absent where this process may not read it. */
  host?: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
}

/** A lock this process holds. */
export interface LockFile {
  path: string;
  /** Removes the lock file and lets it go; more calls do nothing. */
  release(): void;
}

/** The lock is held by another process (or another part of this one). */
export class LockHeldError extends Error {
  constructor(
    readonly path: string,
    /** Undefined when its file does not name it (being written; on Windows, unreadable). */
    readonly holder: LockHolder | undefined,
  ) {
    super(`${path}: held by ${describeHolder(holder)}`);
    this.name = "LockHeldError";
  }
}

/** Options of {@link takeLock}. */
export interface TakeLockOptions {
  /** Told, with what the file said, when a lock left by a process that is gone is taken. */
  onTakeover?: (holder: LockHolder | undefined) => void;
  /** When given, a held lock is waited for (this is told who holds it) instead of refused. */
  onWait?: (holder: LockHolder | undefined) => void;
}

/** "process 1234 on HOST since TIME", for messages. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "a process that does not name itself in the file";
  return `process ${holder.pid} on ${holder.host ?? "an unknown host"} since ${holder.since}`;
}

/**
 * Takes the lock at `path` (creating its file), or throws a
 * {@link LockHeldError} naming the holder (unless `onWait`). Errors of the
 * file system (a full disk, no such folder) are thrown as they come.
 */
export async function takeLock(path: string, options: TakeLockOptions = {}): Promise<LockFile> {
  while (true) {
    const file = await Deno.open(path, { read: true, write: true, create: true });
    try {
      if (!(await file.tryLock(true))) {
        const holder = await readSettledHolder(file);
        if (!options.onWait) throw new LockHeldError(path, holder);
        options.onWait(holder);
        await file.lock(true);
      }
      if (await isStillAt(file, path)) return await hold(file, path, options);
    } catch (error) {
      file.close();
      throw error;
    }
    // Locked a file its holder removed on release: the lock is the one at `path` now.
    file.close();
  }
}

/** Writes this process into the locked file; says so when it named a holder that is gone. */
async function hold(file: Deno.FsFile, path: string, options: TakeLockOptions): Promise<LockFile> {
  const left = await readText(file);
  try {
    await file.truncate(0);
    await writeAll(file, JSON.stringify(thisProcess()) + "\n");
  } catch (error) {
    // A full disk: no half-written lock stays behind.
    await Deno.remove(path).catch(() => {});
    throw error;
  }
  if (left.trim() !== "") options.onTakeover?.(parseHolder(left));
  const state = { held: true };
  const release = () => {
    if (!state.held) return;
    state.held = false;
    globalThis.removeEventListener("unload", release);
    // Removed while still held: a process waiting on this file then finds it gone from `path`
    // (see isStillAt) and takes the next one, which nobody removes under it.
    try {
      if (isSameFile(file.statSync(), Deno.statSync(path))) Deno.removeSync(path);
    } catch {
      // Deleted by hand, or not removable: a file left behind is taken over by the next taker.
    } finally {
      file.close();
    }
  };
  // `Deno.exit` (the end of a command, a second Ctrl-C) runs no `finally`: the file goes anyway.
  globalThis.addEventListener("unload", release);
  return { path, release };
}

function thisProcess(): LockHolder {
  const mayName = Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted";
  return {
    pid: Deno.pid,
    ...(mayName ? { host: Deno.hostname() } : {}),
    since: new Date().toISOString(),
  };
}

/** True when `path` is the file `file` has open (not removed or replaced since). */
async function isStillAt(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    return isSameFile(await file.stat(), await Deno.stat(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function isSameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

/**
 * How long a holder that took the lock a moment ago is given to write its
 * name: up to a second, as a loaded machine can pause it between the two.
 */
const NAMING_TRIES = 50;
const NAMING_PAUSE_MS = 20;

/**
 * The holder the locked file names. A holder writes its name just after it
 * takes the lock, so an empty file is read again for a moment before the
 * holder is called unnamed.
 */
async function readSettledHolder(file: Deno.FsFile): Promise<LockHolder | undefined> {
  for (let attempt = 1;; attempt++) {
    const holder = await readHolder(file);
    if (holder || attempt === NAMING_TRIES) return holder;
    await new Promise((resolve) => setTimeout(resolve, NAMING_PAUSE_MS));
  }
}

async function readHolder(file: Deno.FsFile): Promise<LockHolder | undefined> {
  // Windows keeps a locked file's bytes from other processes: the holder stays unnamed there.
  return parseHolder(await readText(file).catch(() => ""));
}

/** The file's first bytes as text (a holder's line is far shorter); read on the open file. */
async function readText(file: Deno.FsFile): Promise<string> {
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(4096);
  const read = await file.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, read ?? 0));
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text);
    return Number.isSafeInteger(holder?.pid) && typeof holder.since === "string"
      ? holder
      : undefined;
  } catch {
    return undefined;
  }
}

async function writeAll(file: Deno.FsFile, text: string): Promise<void> {
  await file.seek(0, Deno.SeekMode.Start);
  const bytes = new TextEncoder().encode(text);
  for (let written = 0; written < bytes.length;) {
    written += await file.write(bytes.subarray(written));
  }
  await file.sync();
}
