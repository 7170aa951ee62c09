/**
 * How many threads share a step on the wasm backend: one per core, but no
 * more than the machine's available memory holds, each worker needing its
 * own copy of the weights and their gradients (see {@link estimatePeakBytes}).
 *
 * @module
 */

/** What the plan depends on, of the machine. */
export interface Machine {
  cores: number;
  /** Memory available to this process, in bytes (the system's, or a cgroup's limit). */
  availableBytes: number | undefined;
}

/** What the plan depends on, of the network and the batch. */
export interface Workload {
  /** Trainable parameters. */
  parameters: number;
  /** Bytes of the activations one example keeps for the backward pass (roughly all of them). */
  activationBytesPerExample: number;
  batchSize: number;
}

/** The chosen number of threads, the memory they are expected to take, and why. */
export interface ThreadPlan {
  threads: number;
  peakBytes: number;
  reason: string;
}

/** Most threads worth starting: beyond, shares of a batch of 128 get too small (16 examples). */
export const MOST_THREADS = 8;

/** Share of the available memory a run may plan to take (the rest for the system and slack). */
const MEMORY_SHARE = 0.8;

/**
 * The constants of {@link estimatePeakBytes}, fitted by least squares to
 * the peaks measured with `/usr/bin/time -v` (AlexNet at 224 with 1, 2, 4
 * and 8 threads, at 96 with 1 and 4, LeNet-ReLU with 1 and 4: see the
 * test), rounded. Bytes that do not grow with the network: Deno, V8's
 * heap, tfjs's wasm module and the dataset for the main thread; an
 * isolate with tfjs for each worker.
 */
const MAIN_BASE = 352 * 2 ** 20;
const WORKER_BASE = 43 * 2 ** 20;
/** The main thread's copies of the weights: weights, gradients, Adam's two moments, transients. */
const MAIN_WEIGHT_COPIES = 5.4;
/** A worker's: its weights, and transients of the gradients it adds to the shared sum. */
const WORKER_WEIGHT_COPIES = 1.4;
/** The batch's activations, shared among the threads, and the backward pass's gradients of them. */
const ACTIVATION_COPIES = 1.3;

/**
 * The peak resident memory of a step shared by `threads` threads: the
 * main thread's base and copies of the weights, each worker's, the
 * batch's activations (each thread keeps its share's), and the shared
 * memory of the workers (the sum of the gradients, and with more than one
 * worker a copy of the weights they all read).
 */
export function estimatePeakBytes(work: Workload, threads: number): number {
  const weights = work.parameters * 4;
  const share = Math.ceil(work.batchSize / threads);
  const activations = ACTIVATION_COPIES * threads * share * work.activationBytesPerExample;
  const workers = threads - 1;
  const shared = (workers > 0 ? weights : 0) + (workers > 1 ? weights : 0);
  return MAIN_BASE + MAIN_WEIGHT_COPIES * weights + activations + shared +
    workers * (WORKER_BASE + WORKER_WEIGHT_COPIES * weights);
}

function gigabytes(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/**
 * The most threads (up to the cores, at most {@link MOST_THREADS}) whose
 * planned peak fits in {@link MEMORY_SHARE} of the available memory, or
 * `requested` threads when given (`--threads`).
 */
export function planThreads(
  machine: Machine,
  work: Workload,
  requested?: number,
): ThreadPlan {
  const cores = `${machine.cores} core${machine.cores === 1 ? "" : "s"}`;
  const memory = machine.availableBytes === undefined
    ? "memory unknown"
    : `${gigabytes(machine.availableBytes)} available`;
  if (requested !== undefined) {
    return {
      threads: requested,
      peakBytes: estimatePeakBytes(work, requested),
      reason: `--threads ${requested} (${cores}, ${memory})`,
    };
  }
  const budget = machine.availableBytes === undefined
    ? Infinity
    : machine.availableBytes * MEMORY_SHARE;
  let threads = Math.max(1, Math.min(machine.cores, MOST_THREADS));
  const coresAllow = threads;
  while (threads > 1 && estimatePeakBytes(work, threads) > budget) threads--;
  const peakBytes = estimatePeakBytes(work, threads);
  const limitedBy = peakBytes > budget
    ? "even one thread may not fit in memory"
    : threads < coresAllow
    ? "limited by memory"
    : machine.cores > MOST_THREADS
    ? `at most ${MOST_THREADS} threads`
    : "limited by cores";
  return { threads, peakBytes, reason: `${cores}, ${memory}: ${limitedBy}` };
}

/** The smaller of two limits, either of which may be unknown. */
function smaller(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** A cgroup's memory limit minus its use, where this process runs in a limited one (Linux). */
function cgroupAvailable(): number | undefined {
  const read = (path: string) => {
    try {
      return Deno.readTextFileSync(path).trim();
    } catch {
      return undefined;
    }
  };
  for (
    const [limitFile, usageFile] of [
      ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"],
      [
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.usage_in_bytes",
      ],
    ]
  ) {
    const limit = Number(read(limitFile));
    // "max", or a v1 limit near 2^63, means none.
    if (!Number.isFinite(limit) || limit >= 2 ** 60) continue;
    return limit - (Number(read(usageFile)) || 0);
  }
  return undefined;
}

/**
 * This machine: its cores, and the memory available to this process
 * (`Deno.systemMemoryInfo`, which needs `--allow-sys=systemMemoryInfo`,
 * and a cgroup's limit where there is one).
 */
export function thisMachine(): Machine {
  let system: number | undefined;
  try {
    system = Deno.systemMemoryInfo().available;
  } catch {
    system = undefined;
  }
  return {
    cores: navigator.hardwareConcurrency ?? 1,
    availableBytes: smaller(system, cgroupAvailable()),
  };
}
