import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { calibrate, chooseBackend } from "../../backend/auto_choice.ts";
import { hasAdapter } from "../support/backends.ts";

Deno.test({
  name: "auto picks wasm on a machine whose only WebGPU adapter is software, and says why",
  ignore: !hasAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    const info = adapter!.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    if (!info.isFallbackAdapter) {
      console.warn("SKIPPED: this machine has a hardware adapter; the software case is not here");
      return;
    }
    const choice = await chooseBackend({ model: "lenet-relu", resize: 28, threads: 2 });
    assertEquals(choice.backend, "wasm");
    assert(/^wasm × 2 threads: the only WebGPU adapter \(.+\) is software/.test(choice.reason));
    assertEquals(choice.measured, undefined);
  },
});

Deno.test({
  name:
    "calibration times both paths, keeps the choice per adapter and network, and measures again on request",
  ignore: !hasAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const adapter = (await navigator.gpu.requestAdapter())!;
    const cacheFile = join(await Deno.makeTempDir(), "calibration.json");
    const options = { model: "lenet-relu" as const, resize: 28, threads: 2, cacheFile };
    const first = await calibrate(adapter, options);
    assert(first.measured && first.measured.webgpu > 0 && first.measured.wasm > 0, "no rates");
    assertEquals(first.backend, first.measured.webgpu >= first.measured.wasm ? "webgpu" : "wasm");
    assert(first.reason.includes("images/s"), first.reason);
    const cached = JSON.parse(await Deno.readTextFile(cacheFile));
    const [key] = Object.keys(cached);
    assert(key.includes("lenet-relu"), key);

    const again = await calibrate(adapter, options);
    assertEquals(again.measured, first.measured, "the cached choice was measured again");
    const other = await calibrate(adapter, { ...options, model: "lenet" });
    assertEquals(Object.keys(JSON.parse(await Deno.readTextFile(cacheFile))).length, 2);
    assert(other.measured !== undefined);
    const remeasured = await calibrate(adapter, { ...options, recalibrate: true });
    assert(remeasured.measured !== undefined);
    assert(
      JSON.stringify(remeasured.measured) !== JSON.stringify(first.measured),
      "recalibrate returned the cached rates",
    );
    await Deno.remove(join(cacheFile, ".."), { recursive: true });
  },
});
