/**
 * Which of this project's WebGPU kernels run, and how: one place, so that
 * `bench --gpu-report` can measure each choice against tfjs's own kernels
 * and the tests can run the unoptimised path.
 *
 * @module
 */
import { DEFAULT_TILING, type Tiling } from "../products/generator.ts";

/** The choices, each naming the variant that runs. */
export interface WebGPUKernelOptions {
  /** The convolutions' forward pass: the generated tiled product, or tfjs's. */
  convolution: "product" | "tfjs";
  /** Their filter gradient: the generated product, the previous tiled kernel, or tfjs's. */
  filterGradient: "product" | "tiled" | "tfjs";
  /**
   * Their input gradient: the forward convolution of the turned filter,
   * tfjs's direct loop, or tfjs's tiled program.
   */
  inputGradient: "convolution" | "tfjs" | "tfjs-tiled";
  /** The dense layers' products: the generated product, or tfjs's. */
  matmul: "product" | "tfjs";
  /** Adam's update: one pass per moment and weight, or tfjs's fourteen kernels. */
  adam: "fused" | "tfjs";
  /**
   * Whether the products of a convolution over one channel read its input
   * as groups of four columns (`vec4`s; see `products/width_groups.ts`)
   * rather than one float at a time.
   */
  widthGroups: boolean;
  /** The tiles of the generated products. */
  tiling: Tiling;
  /**
   * Workgroups a product's dispatch should have so that every core of the
   * GPU has several to switch between: a long reduction is split into
   * partial sums until its tiles times the splits reach it.
   */
  targetWorkgroups: number;
  /** A fixed number of partial sums for every split product instead (for measurements). */
  splits?: number;
  /**
   * Partial sums measured fastest on this device, by the product's sizes
   * (see {@link productSizesKey}); products not in it follow the target.
   */
  measuredSplits?: Readonly<Record<string, number>>;
}

/** The key of a product's sizes in {@link WebGPUKernelOptions.measuredSplits}. */
export function productSizesKey(sizes: { rows: number; columns: number; terms: number }): string {
  return `${sizes.rows}x${sizes.columns}x${sizes.terms}`;
}

/**
 * About two waves of an H100 or H200, which hold about 1,000 resident
 * workgroups of this size (132 multiprocessors); smaller GPUs get more
 * waves, which costs little. Where the split tuning has measured a
 * product, its measurement wins.
 */
const TARGET_WORKGROUPS = 2048;

/** What runs unless told otherwise: every kernel of this project's. */
export const OPTIMISED: WebGPUKernelOptions = {
  convolution: "product",
  filterGradient: "product",
  inputGradient: "convolution",
  matmul: "product",
  adam: "fused",
  widthGroups: true,
  tiling: DEFAULT_TILING,
  targetWorkgroups: TARGET_WORKGROUPS,
};

/** tfjs's own kernels everywhere (but for the split-K fix, a correctness fix). */
export const TFJS_KERNELS: WebGPUKernelOptions = {
  ...OPTIMISED,
  convolution: "tfjs",
  filterGradient: "tfjs",
  inputGradient: "tfjs",
  matmul: "tfjs",
  adam: "tfjs",
};

let current: WebGPUKernelOptions = OPTIMISED;

/** Changes the kernel choices from now on (what is not given stays). */
export function setWebGPUKernelOptions(changes: Partial<WebGPUKernelOptions>): void {
  current = { ...current, ...changes };
}

/** The kernel choices now. */
export function webgpuKernelOptions(): Readonly<WebGPUKernelOptions> {
  return current;
}
