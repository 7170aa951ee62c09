/**
 * The soak's short form: four SIGKILLs of `train`, one in each phase
 * (starting, steps, evaluation, a save), each followed by `--resume`; the
 * run ends byte-identical to an uninterrupted one. `deno task soak` runs
 * the long form.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { hasRealData } from "../support/test_data.ts";
import { formatResult, runSoak } from "../../tools/kill_soak.ts";

Deno.test({
  name: "soak, short form: 4 SIGKILLs at random moments, resumed, end byte-identical",
  ignore: !hasRealData(),
  fn: async () => {
    // A new seed each time, printed: a failure is replayed with `deno task soak --seed N --cycles 4`.
    const seed = Math.floor(Math.random() * 2 ** 31);
    const lines: string[] = [];
    const result = await runSoak({
      cycles: 4,
      seed,
      limit: 512,
      testLimit: 300,
      log: (line) => lines.push(line),
    });
    console.log([...lines, formatResult(result)].join("\n"));
    assertEquals(result.differences, [], formatResult(result));
    assertEquals(result.kills, { start: 1, step: 1, evaluation: 1, save: 1 });
    assert(result.takeovers >= 1, "no resume took over a killed process's lock");
  },
});
