/**
 * How many partial sums each convolution's filter gradient is split into
 * on this GPU, by measurement. The filter gradients are products with few
 * outputs and a long reduction (AlexNet's conv1 at 224: 121 × 96 outputs,
 * 373,248 terms for a batch of 128), so unsplit they occupy a few
 * workgroups of a GPU that holds hundreds; how far to split depends on
 * the GPU's cores, which WebGPU does not tell. So each filter gradient of
 * the step is timed at the sizes its micro-batches will have, at the split
 * count of a fixed workgroup target and at powers of two up to what the
 * reduction and the device's limits allow, and the fastest is kept, per
 * adapter, network, input size and kernel choice, in the cache folder:
 * only the first run on a GPU pays for it (a few seconds on a laptop's
 * GPU), until `--recalibrate`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { readCacheFile, toolCacheDir, writeCacheFile } from "../../../cache_dir.ts";
import type { BackendInfo } from "../../backend_info.ts";
import type { ModelName } from "../../../model/registry.ts";
import { networkConvolutions } from "../../../model/workload.ts";
import { filterGradientProduct } from "../convolution/conv_filter_gradient.ts";
import { convGeometry } from "../products/operands.ts";
import type { ProductSpec } from "../products/generator.ts";
import { productSplit } from "../products/run.ts";
import { timeKernel } from "./gpu_timing.ts";
import { productSizesKey, setWebGPUKernelOptions, webgpuKernelOptions } from "./kernel_options.ts";

/** Most partial sums tried: beyond, their sum costs more than any GPU gains. */
const MOST_SPLITS = 1024;

/**
 * Fewest reduction terms per partial sum tried (16 slices of 16): with
 * fewer, a workgroup spends more on writing its partial sum than on
 * multiplying.
 */
const FEWEST_TERMS_PER_SPLIT = 256;

/**
 * Fewer splits than the fastest so far only get slower once one of them
 * takes this many times as long: the rest are not measured (unsplit, a
 * long filter gradient can take a second on a laptop's GPU).
 */
const GIVE_UP_RATIO = 2;

/** What the tuning depends on. */
export interface SplitTuningOptions {
  /** The device, for its limits and the cache key. */
  adapter: GPUAdapter;
  device: GPUDevice;
  model: ModelName;
  resize: number;
  /** Examples per kernel call: the sizes of the step's micro-batches. */
  microBatches: number[];
  /** Measure again even when a tuning is cached. */
  recalibrate?: boolean;
  /** Where tunings are kept (default: `split_tuning.json` in the cache folder). */
  cacheFile?: string;
  /** Timed runs per split count, after one untimed run (default 5). */
  repeats?: number;
}

/** The measurement of one filter gradient. */
export interface LayerSplit {
  layer: string;
  /** The product's sizes (see {@link productSizesKey}). */
  product: string;
  /** Examples of the measured call. */
  examples: number;
  /** The fastest split count, and its time. */
  splits: number;
  milliseconds: number;
  /** The split count of the fixed workgroup target, and its time. */
  targetSplits: number;
  targetMilliseconds: number;
  /** Every split count tried, the target's first, with its time in milliseconds. */
  tried: [number, number][];
}

/** The result: what the products use, and how it was found. */
export interface SplitTuning {
  /** Split counts by product sizes, as the kernel options' `measuredSplits` takes them. */
  splits: Record<string, number>;
  layers: LayerSplit[];
  /** When it was measured (ISO 8601). */
  date: string;
  /** Whether it came from the cache folder rather than from measuring now. */
  cached: boolean;
}

/**
 * The key of a tuning: the adapter, the network and its input size, the
 * micro-batches, and the kernel choices that shape the products.
 */
function cacheKey(options: SplitTuningOptions): string {
  const info = options.adapter.info;
  const { tiling, widthGroups } = webgpuKernelOptions();
  return JSON.stringify([
    info.vendor,
    info.architecture,
    info.device,
    info.description,
    options.model,
    options.resize,
    [...new Set(options.microBatches)].sort((a, b) => a - b),
    tiling,
    widthGroups,
  ]);
}

/** A filter gradient call of one layer for `examples` examples: its sizes and a runner. */
function filterGradientCall(
  layer: ReturnType<typeof networkConvolutions>[number],
  examples: number,
) {
  const xShape = [examples, ...layer.input] as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    layer.filter,
    layer.strides,
    1,
    layer.padding,
  );
  const { spec } = filterGradientProduct(convGeometry(info));
  const x = tf.randomUniform(xShape, -1, 1, "float32", 1);
  const dy = tf.randomUniform(info.outShape, -1, 1, "float32", 2);
  const attrs = {
    strides: layer.strides,
    pad: layer.padding,
    dataFormat: "NHWC",
    dilations: 1,
    filterShape: layer.filter,
  } as unknown as tf.NamedAttrMap;
  return {
    spec,
    run: () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, attrs) as tf.Tensor,
    dispose: () => tf.dispose([x, dy]),
  };
}

/**
 * The split counts worth trying for a product: the target's count first,
 * then powers of two, most first, up to what its reduction affords (see
 * {@link FEWEST_TERMS_PER_SPLIT}) and the device binds (the partial sums
 * are one buffer, and the splits one dispatch dimension), each as the
 * product would really run it (a count that rounds to one already listed
 * is left out).
 */
function candidateSplits(spec: ProductSpec, limits: GPUSupportedLimits): number[] {
  const bytesPerSplit = spec.rows * spec.columns * 4;
  const most = Math.min(
    limits.maxComputeWorkgroupsPerDimension,
    Math.floor(Number(limits.maxStorageBufferBindingSize) / bytesPerSplit),
  );
  const mostPower = Math.min(most, MOST_SPLITS, spec.terms / FEWEST_TERMS_PER_SPLIT);
  const powers = new Set<number>();
  for (let wanted = 1; wanted <= mostPower; wanted *= 2) {
    powers.add(productSplit(spec, wanted).splits);
  }
  const target = productSplit(spec).splits;
  powers.delete(target);
  return [target, ...[...powers].sort((a, b) => b - a)].filter((splits) => splits <= most);
}

/**
 * Times a filter gradient at each candidate split count in order, until
 * fewer splits only get slower (see {@link GIVE_UP_RATIO}).
 */
async function timeSplits(
  call: ReturnType<typeof filterGradientCall>,
  candidates: number[],
  repeats: number,
): Promise<[number, number][]> {
  const tried: [number, number][] = [];
  let fastest = Infinity;
  for (const splits of candidates) {
    setWebGPUKernelOptions({ splits });
    const { wallMs } = await timeKernel(call.run, repeats);
    // The target's count comes first, out of order: the rule starts with the powers.
    const previous = tried.length > 1 ? tried[tried.length - 1][1] : Infinity;
    tried.push([splits, wallMs]);
    fastest = Math.min(fastest, wallMs);
    if (wallMs > GIVE_UP_RATIO * fastest && wallMs > previous) break;
  }
  // The next product's candidates start from the target's count, which a fixed count would hide.
  setWebGPUKernelOptions({ splits: undefined });
  return tried;
}

/** Times the candidate split counts of each filter gradient; returns the fastest of each. */
async function measure(options: SplitTuningOptions): Promise<LayerSplit[]> {
  const repeats = options.repeats ?? 5;
  const layers: LayerSplit[] = [];
  const before = webgpuKernelOptions();
  // The target's count is each product's first candidate: no fixed or measured count may hide it.
  setWebGPUKernelOptions({ splits: undefined, measuredSplits: undefined });
  try {
    for (const layer of networkConvolutions(options.model, options.resize)) {
      for (const examples of new Set(options.microBatches)) {
        const call = filterGradientCall(layer, examples);
        const candidates = candidateSplits(call.spec, options.device.limits);
        const tried = candidates.length < 2 ? [] : await timeSplits(call, candidates, repeats);
        call.dispose();
        if (tried.length === 0) continue;
        const [splits, milliseconds] = tried.reduce((a, b) => b[1] < a[1] ? b : a);
        layers.push({
          layer: layer.name,
          product: productSizesKey(call.spec),
          examples,
          splits,
          milliseconds,
          targetSplits: tried[0][0],
          targetMilliseconds: tried[0][1],
          tried,
        });
      }
    }
  } finally {
    setWebGPUKernelOptions({ splits: before.splits, measuredSplits: before.measuredSplits });
  }
  return layers;
}

/**
 * Finds the split counts of the network's filter gradients on the active
 * WebGPU backend (see the module's documentation), or reads the ones kept
 * for this adapter, and makes the products use them from now on. Only the
 * generated filter gradient is tuned: with another variant chosen, nothing
 * is measured.
 */
export async function tuneSplits(options: SplitTuningOptions): Promise<SplitTuning> {
  const file = options.cacheFile ?? join(toolCacheDir() ?? ".", "split_tuning.json");
  const key = cacheKey(options);
  const cache = await readCacheFile<Omit<SplitTuning, "cached">>(file);
  let tuning: SplitTuning;
  if (!options.recalibrate && cache[key]) {
    tuning = { ...cache[key], cached: true };
  } else if (webgpuKernelOptions().filterGradient !== "product") {
    return { splits: {}, layers: [], date: new Date().toISOString(), cached: false };
  } else {
    const layers = await measure(options);
    tuning = {
      splits: Object.fromEntries(layers.map((layer) => [layer.product, layer.splits])),
      layers,
      date: new Date().toISOString(),
      cached: false,
    };
    const { cached: _, ...kept } = tuning;
    cache[key] = kept;
    await writeCacheFile(file, cache);
  }
  setWebGPUKernelOptions({ measuredSplits: tuning.splits });
  return tuning;
}

/** The tuning in a line for a run's header. */
export function describeSplitTuning(tuning: SplitTuning): string {
  if (tuning.layers.length === 0) return "split-K: no filter gradient long enough to split";
  const layers = tuning.layers.map((layer) =>
    `${layer.layer} ${layer.splits} (${layer.milliseconds.toFixed(1)} ms; ${layer.targetSplits}: ${
      layer.targetMilliseconds.toFixed(1)
    } ms)`
  ).join(", ");
  const when = tuning.cached
    ? `measured ${tuning.date.slice(0, 10)}; --recalibrate measures again`
    : "measured now, kept for this GPU";
  return `split-K of the filter gradients, by measurement on this GPU: ${layers} (${when})`;
}

/**
 * Tunes the splits for training steps on `backend` when it is WebGPU on a
 * hardware adapter (on a software one, such as lavapipe, a few CPU threads
 * run the workgroups, the fixed target keeps them busy, and measuring
 * would take minutes). Returns the line for the run's header, or undefined
 * when nothing was tuned.
 */
export async function tuneSplitsForSteps(
  backend: BackendInfo,
  step: Omit<SplitTuningOptions, "adapter" | "device">,
): Promise<string | undefined> {
  if (backend.name !== "webgpu" || backend.software || !backend.adapter || !backend.device) {
    return undefined;
  }
  const tuning = await tuneSplits({ ...step, adapter: backend.adapter, device: backend.device });
  return describeSplitTuning(tuning);
}
