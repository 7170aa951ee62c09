import { setupBackend } from "../../backend/setup.ts";
import { type BlasChoice, BlasError, chooseBlas } from "../../backend/wasm/blas.ts";
import { candidateLibraries } from "../../backend/wasm/blas/libraries.ts";

/** One way the wasm products can run: a BLAS library installed here, or none. */
export interface BlasRun {
  /** The library's name and version, or `none`. */
  label: string;
  choice: BlasChoice;
}

/** Each library of `auto`'s search that opens here, by its path, then `none`. */
function findBlasRuns(): BlasRun[] {
  const runs: BlasRun[] = [];
  for (const { path } of candidateLibraries()) {
    try {
      runs.push({ label: chooseBlas(path)!.name, choice: path });
    } catch (error) {
      if (!(error instanceof BlasError)) throw error;
    }
  }
  chooseBlas("auto");
  return [...runs, { label: "none", choice: "none" }];
}

/** The BLAS runs of this machine: every installed library, then XNNPACK alone. */
export const BLAS_RUNS = findBlasRuns();

if (!BLAS_RUNS.some((run) => run.label.startsWith("BLIS"))) {
  console.warn(
    "SKIPPED: BLIS not installed: the wasm kernels are not tested with it (apt-get install libblis4-pthread)",
  );
}
if (!BLAS_RUNS.some((run) => run.label.startsWith("OpenBLAS"))) {
  console.warn(
    "SKIPPED: OpenBLAS not installed: the wasm kernels are not tested with it (apt-get install libopenblas0-pthread)",
  );
}

/**
 * Runs `fn` once per BLAS run of this machine, that run's BLAS chosen, and
 * leaves `auto`'s choice behind.
 */
export async function forEachBlas(fn: (run: BlasRun) => Promise<void>): Promise<void> {
  try {
    for (const run of BLAS_RUNS) {
      chooseBlas(run.choice);
      await fn(run);
    }
  } finally {
    chooseBlas("auto");
  }
}

/**
 * Registers one `Deno.test` per BLAS run of this machine on the wasm
 * backend (`[wasm, OpenBLAS]`, `[wasm, BLIS]`, `[wasm, none]`), as
 * `testOnBackends` does per backend.
 */
export function testOnEachBlas(name: string, fn: () => Promise<void>): void {
  for (const run of BLAS_RUNS) {
    Deno.test({
      name: `${name} [wasm, ${run.label}]`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        await setupBackend("wasm");
        chooseBlas(run.choice);
        try {
          await fn();
        } finally {
          chooseBlas("auto");
        }
      },
    });
  }
}
