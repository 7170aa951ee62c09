/**
 * A `train` process of the soak, watched for the moments a kill is timed
 * from: the plan line (training starts), each epoch's first evaluation
 * line, and each save's fresh checkpoint folder appearing in the run
 * folder.
 *
 * @module
 */
import { FRESH_PREFIX } from "../../run_folder/checkpoint.ts";
import { readTask, ROOT } from "../deno_task.ts";

/** What the process has reached so far. */
export interface Marks {
  /** Milliseconds after the start when the plan line came (training begins). */
  plan?: number;
  /** Epochs whose evaluation has begun. */
  evaluations: number;
  /** Saves begun (fresh checkpoint folders made). */
  saves: number;
  /** The process has ended. */
  ended: boolean;
}

/** A running `deno task train`, its output kept and its moments counted. */
export class WatchedRun {
  readonly marks: Marks = { evaluations: 0, saves: 0, ended: false };
  readonly started = performance.now();
  stdout = "";
  stderr = "";
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #changed = new Set<() => void>();
  #evaluated = new Set<string>();
  #watcher: Deno.FsWatcher;

  /** Starts `train` with `args` in the repository root, watching `runDir` (which must exist). */
  static async start(args: string[], runDir: string): Promise<WatchedRun> {
    const task = await readTask("train");
    const command = new Deno.Command(Deno.execPath(), {
      args: [...task.args, ...args],
      cwd: ROOT,
      env: task.env,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    });
    return new WatchedRun(command.spawn(), runDir);
  }

  private constructor(child: Deno.ChildProcess, runDir: string) {
    this.#child = child;
    this.#watcher = Deno.watchFs(runDir, { recursive: false });
    void this.#watchSaves();
    const reading = Promise.all([
      this.#read(child.stdout, (text) => this.#onStdout(text)),
      this.#read(child.stderr, (text) => this.#onStderr(text)),
    ]);
    this.status = child.status.then(async (status) => {
      await reading;
      this.#watcher.close();
      this.marks.ended = true;
      this.#notify();
      return status;
    });
  }

  /** Resolves true once `reached(marks)` holds, false if the process ends first. */
  until(reached: (marks: Marks) => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (!reached(this.marks) && !this.marks.ended) return;
        this.#changed.delete(check);
        resolve(reached(this.marks));
      };
      this.#changed.add(check);
      check();
    });
  }

  /** SIGKILL, unless it has ended already. */
  kill(): void {
    if (!this.marks.ended) this.#child.kill("SIGKILL");
  }

  async #read(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) onText(text);
  }

  #onStdout(text: string): void {
    this.stdout += text;
    if (this.marks.plan === undefined && /^plan: /m.test(this.stdout)) {
      this.marks.plan = performance.now() - this.started;
    }
    this.#notify();
  }

  #onStderr(text: string): void {
    this.stderr += text;
    // An epoch's evaluation prints its first line at its first batch: `test 3/10 …`.
    for (const [label] of text.matchAll(/^test \d+\/\d+/gm)) this.#evaluated.add(label);
    this.marks.evaluations = this.#evaluated.size;
    this.#notify();
  }

  async #watchSaves(): Promise<void> {
    const seen = new Set<string>();
    for await (const event of this.#watcher) {
      for (const path of event.paths) {
        const name = path.slice(path.lastIndexOf("/") + 1);
        if (name.startsWith(FRESH_PREFIX)) seen.add(name);
      }
      this.marks.saves = seen.size;
      this.#notify();
    }
  }

  #notify(): void {
    for (const check of [...this.#changed]) check();
  }
}
