/**
 * What `--backend auto` trains on: WebGPU or the wasm backend with its
 * worker threads, whichever is faster here. Without a hardware adapter
 * (none, or a software one such as lavapipe) that is wasm without
 * measuring. With one, both are timed on the network's heaviest
 * convolution (forward pass and both gradients, at the run's input size)
 * and the faster is picked; the choice is kept in the cache folder per
 * machine, adapter, network and input size, so that only the first run
 * pays for it, until `--recalibrate`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { readCacheFile, toolCacheDir, writeCacheFile } from "../cache_dir.ts";
import type { ModelName } from "../model/registry.ts";
import { networkConvolutions } from "../model/workload.ts";
import type { BackendName } from "./backend_info.ts";
import { blas } from "./wasm/blas.ts";
import { setupWasm } from "./wasm/setup.ts";
import { setupWebGPU } from "./webgpu/setup.ts";

/** Examples the measured convolution runs on. */
const EXAMPLES = 8;

/** What `auto` chose, and why, in a line for the run's header. */
export interface AutoChoice {
  backend: BackendName;
  reason: string;
  /** Images per second of the measured layer on each path, when measured. */
  measured?: { webgpu: number; wasm: number };
}

/** What the choice depends on. */
export interface AutoChoiceOptions {
  model: ModelName;
  resize: number;
  /** Threads the wasm path would train on (the main thread and its workers). */
  threads: number;
  /** Measure again even when a choice is cached. */
  recalibrate?: boolean;
  /** Where choices are kept (default: `calibration.json` in the cache folder). */
  cacheFile?: string;
}

/** The heaviest convolution of the network at `resize`, for {@link EXAMPLES} examples. */
function heaviestConvolution(model: ModelName, resize: number) {
  const layers = networkConvolutions(model, resize);
  if (layers.length === 0) throw new Error(`${model} has no convolution to measure`);
  const heaviest = layers.reduce((a, b) => b.multiplyAdds > a.multiplyAdds ? b : a);
  return {
    x: [EXAMPLES, ...heaviest.input],
    filter: heaviest.filter,
    strides: heaviest.strides,
    pad: heaviest.padding,
  };
}

/** Images per second of the active backend on the layer's forward pass and both gradients. */
async function layerRate(layer: ReturnType<typeof heaviestConvolution>): Promise<number> {
  const x = tf.randomUniform(layer.x, -1, 1, "float32", 1);
  const filter = tf.randomUniform(layer.filter, -1, 1, "float32", 2);
  const bias = tf.zeros([layer.filter[3]]);
  const attrs = { strides: layer.strides, pad: layer.pad, dataFormat: "NHWC", dilations: 1 };
  const pass = async () => {
    const y = tf.engine().runKernel("FusedConv2D", { x, filter, bias }, {
      ...attrs,
      activation: "relu",
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dx = tf.engine().runKernel("Conv2DBackpropInput", { dy: y, filter }, {
      ...attrs,
      inputShape: layer.x,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: y }, {
      ...attrs,
      filterShape: layer.filter,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    await Promise.all([dx.data(), dw.data()]);
    tf.dispose([y, dx, dw]);
  };
  await pass();
  const started = performance.now();
  await pass();
  await pass();
  const seconds = (performance.now() - started) / 1000 / 2;
  tf.dispose([x, filter, bias]);
  return EXAMPLES / seconds;
}

/** The key of a choice: this machine's cores, the adapter, the network, its input size and the BLAS. */
function cacheKey(adapter: GPUAdapter, options: AutoChoiceOptions): string {
  const info = adapter.info;
  return JSON.stringify([
    info.vendor,
    info.architecture,
    info.device,
    info.description,
    navigator.hardwareConcurrency,
    options.threads,
    options.model,
    options.resize,
    // The wasm path's speed depends on which BLAS (if any) computes its products.
    blas()?.path ?? "none",
  ]);
}

/** Picks WebGPU or wasm for `auto` (see the module's documentation). */
export async function chooseBackend(options: AutoChoiceOptions): Promise<AutoChoice> {
  const threads = `wasm × ${options.threads} thread${options.threads === 1 ? "" : "s"}`;
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return { backend: "wasm", reason: `${threads}: no WebGPU adapter` };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter) {
    const name = info.description || info.device || "software adapter";
    return {
      backend: "wasm",
      reason: `${threads}: the only WebGPU adapter (${name}) is software, slower than wasm`,
    };
  }
  return await calibrate(adapter, options);
}

/**
 * Times WebGPU on `adapter` against wasm (see the module's documentation)
 * and picks the faster, or returns the choice cached for this machine,
 * adapter, network and input size.
 */
export async function calibrate(
  adapter: GPUAdapter,
  options: AutoChoiceOptions,
): Promise<AutoChoice> {
  const threads = `wasm × ${options.threads} thread${options.threads === 1 ? "" : "s"}`;
  const file = options.cacheFile ?? join(toolCacheDir() ?? ".", "calibration.json");
  const key = cacheKey(adapter, options);
  const cache = await readCacheFile<AutoChoice & { date: string }>(file);
  if (!options.recalibrate && cache[key]) return cache[key];

  const layer = heaviestConvolution(options.model, options.resize);
  await setupWebGPU();
  const webgpu = await layerRate(layer);
  await setupWasm();
  // The workers share each step: one thread's rate times the threads (an upper bound).
  const wasm = (await layerRate(layer)) * options.threads;
  const backend = webgpu >= wasm ? "webgpu" : "wasm";
  const rates = `WebGPU ${webgpu.toFixed(0)} images/s, ${threads} ${wasm.toFixed(0)} images/s`;
  const choice: AutoChoice = {
    backend,
    reason: `${
      backend === "webgpu" ? "WebGPU" : threads
    }, measured on the heaviest layer: ${rates}`,
    measured: { webgpu, wasm },
  };
  cache[key] = { ...choice, date: new Date().toISOString() };
  await writeCacheFile(file, cache);
  return choice;
}
