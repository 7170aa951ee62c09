/**
 * Runs a `TiledProductProgram` with its reduction split as the GPU needs,
 * and the split's partial sums added in a fixed order.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { productSizesKey, webgpuKernelOptions } from "../tuning/kernel_options.ts";
import { ElementwiseProgram, type WebGPURunner } from "../program.ts";
import {
  DEFAULT_TILING,
  type ProductSpec,
  reductionSplit,
  TiledProductProgram,
  type Tiling,
  TILING_96,
} from "./generator.ts";

/** Fewest reduction terms one workgroup sums, so that splitting never costs more than it saves. */
const MIN_SPLIT_DEPTH = 1024;

/** Adds the `splits` partial results `[splits, size]` into `outputShape`. */
export class SumSplitsProgram extends ElementwiseProgram {
  variableNames = ["partial"];
  uniforms = "splits : i32,";
  shaderKey = "sumSplits";

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var total = 0.0;
          for (var split = 0; split < uniforms.splits; split++) {
            total += partial[split * uniforms.size + index];
          }
          setOutputAtIndex(index, total);
        }
      }
    `;
  }
}

/**
 * The tiling for a product with `columns` columns: the chosen one, but with
 * the default, 96-wide tiles where they fit the columns exactly (AlexNet's
 * 96 and 384 channels; its 256 keep 64-wide tiles).
 */
function tilingFor(chosen: Tiling, columns: number): Tiling {
  return chosen === DEFAULT_TILING && columns % 96 === 0 ? TILING_96 : chosen;
}

/**
 * How a splittable product's reduction is split: into `splits` partial
 * sums when given, else as many as measured for its sizes on this device,
 * else as many as bring its workgroups to the target.
 */
export function productSplit(
  spec: ProductSpec,
  splits?: number,
): { splits: number; depth: number } {
  const options = webgpuKernelOptions();
  return reductionSplit(spec, tilingFor(options.tiling, spec.columns), {
    workgroups: options.targetWorkgroups,
    splits: splits ?? options.splits ?? options.measuredSplits?.[productSizesKey(spec)],
    minDepth: MIN_SPLIT_DEPTH,
  });
}

/** How a product runs: its program and reduction split under the current kernel options. */
export function productProgram(
  spec: ProductSpec,
  outputShape: number[],
  splittable: boolean,
): TiledProductProgram {
  const tiling = tilingFor(webgpuKernelOptions().tiling, spec.columns);
  const split = splittable
    ? productSplit(spec)
    : { splits: 1, depth: Math.ceil(spec.terms / tiling.depth) * tiling.depth };
  return new TiledProductProgram(spec, outputShape, split, tiling);
}

/**
 * C = the product `spec` of `inputs` (A, B and the bias, in that order),
 * shaped `outputShape`. The reduction is split into partial sums where its
 * tiles are too few workgroups, unless `splittable` is false (a fused bias
 * and activation need the whole sum).
 */
export function runProduct(
  backend: WebGPURunner,
  spec: ProductSpec,
  inputs: tf.TensorInfo[],
  outputShape: number[],
  splittable = true,
): tf.TensorInfo {
  const program = productProgram(spec, outputShape, splittable && !spec.bias && !spec.activation);
  const { splits, depth } = program.split;
  const partial = backend.runWebGPUProgram(program, inputs, "float32", [
    { type: "int32", data: [depth] },
  ]);
  if (splits === 1) return partial;
  const total = backend.runWebGPUProgram(new SumSplitsProgram(outputShape), [partial], "float32", [
    { type: "int32", data: [splits] },
  ]);
  backend.disposeData(partial.dataId);
  return total;
}
