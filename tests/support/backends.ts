import { type BackendInfo, setupBackend } from "../../backend/setup.ts";
import { hasWebGPUAdapter } from "../../backend/webgpu/setup.ts";

const webgpuAvailable = await hasWebGPUAdapter();
if (!webgpuAvailable) {
  console.warn(
    "SKIPPED: no WebGPU adapter on this machine: WebGPU tests are skipped (apt-get install mesa-vulkan-drivers)",
  );
}

/** True when this machine has a WebGPU adapter. */
export const hasAdapter = webgpuAvailable;

/** The backend `--backend auto` picks here (what a user of this machine trains on). */
export function autoBackend(): Promise<BackendInfo> {
  return setupBackend("auto");
}

/**
 * Registers one `Deno.test` per backend (cpu, wasm, and webgpu when an adapter
 * exists: otherwise the test is shown as ignored and a warning is printed).
 */
export function testOnBackends(
  name: string,
  fn: () => Promise<void>,
  backends: readonly ("cpu" | "wasm" | "webgpu")[] = ["cpu", "wasm", "webgpu"],
): void {
  for (const backend of backends) {
    Deno.test({
      name: `${name} [${backend}]`,
      ignore: backend === "webgpu" && !webgpuAvailable,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        await setupBackend(backend);
        await fn();
      },
    });
  }
}
