import { assertEquals } from "../../support/assert.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { chooseBlas } from "../../../backend/wasm/blas.ts";
import { GradientWorkers } from "../../../training/workers/gradient_workers.ts";
import { BLAS_RUNS } from "../../support/blas_choices.ts";

Deno.test({
  name: "gradient workers open the main thread's BLAS: the last library installed, then none",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await setupBackend("wasm");
    // The last library of auto's search installed here: one that auto would not pick first.
    const named = BLAS_RUNS.filter((run) => run.choice !== "none").at(-1)?.choice;
    for (const choice of [...(named ? [named] : []), "none"]) {
      chooseBlas(choice);
      const workers = await GradientWorkers.start({ model: "lenet", resize: 28, count: 1 });
      workers?.close();
      assertEquals(workers?.blas, choice);
    }
    chooseBlas("auto");
  },
});
