import { type BackendName, hasWebGPUAdapter, setupBackend } from "../runtime/backend.ts";

const webgpuAvailable = await hasWebGPUAdapter();
if (!webgpuAvailable) {
  console.warn(
    "SKIPPED: no WebGPU adapter on this machine: WebGPU tests are skipped (apt-get install mesa-vulkan-drivers)",
  );
}

/**
 * Registers one `Deno.test` per backend (cpu, and webgpu when an adapter
 * exists: otherwise the test is shown as ignored and a warning is printed).
 */
export function testOnBackends(
  name: string,
  fn: (backend: BackendName) => Promise<void>,
  backends: BackendName[] = ["cpu", "webgpu"],
): void {
  for (const backend of backends) {
    Deno.test({
      name: `${name} [${backend}]`,
      ignore: backend === "webgpu" && !webgpuAvailable,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        await setupBackend(backend);
        await fn(backend);
      },
    });
  }
}
