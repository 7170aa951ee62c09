/**
 * The WebGPU backend's input gradient of a strided convolution (ResNet's
 * downsampling layers and shortcuts), where tfjs's kernel loops over every
 * input element and filter tap without workgroup memory: the patches'
 * gradients dy · Wᵀ as this project's product (`BatchMatMul`), then one
 * pass in which each input element sums the patch entries that read it.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { KernelWorkspace } from "../../kernel_workspace.ts";
import { ElementwiseProgram, type WebGPURunner } from "../program.ts";

/** dx from the patches' gradients [pixels of dy, taps]: per input element, the entries that read it. */
class PatchSumProgram extends ElementwiseProgram {
  variableNames = ["patches"];
  shaderKey: string;

  constructor(private readonly info: tf.backend_util.Conv2DInfo) {
    super([info.batchSize, info.inHeight, info.inWidth, info.inChannels]);
    const { padInfo, outHeight, outWidth, strideHeight, strideWidth } = info;
    const { filterHeight, filterWidth } = info;
    const geometry = [outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth];
    this.shaderKey = `patchSum_${this.outputShape}_${geometry}_${padInfo.top}_${padInfo.left}`;
  }

  getUserCode(): string {
    const { inHeight, inWidth, inChannels, outHeight, outWidth, padInfo } = this.info;
    const { strideHeight, strideWidth, filterHeight, filterWidth } = this.info;
    const taps = filterHeight * filterWidth * inChannels;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let channel = index % ${inChannels};
          let pixel = index / ${inChannels};
          let column = pixel % ${inWidth};
          let line = (pixel / ${inWidth}) % ${inHeight};
          let image = pixel / ${inWidth * inHeight};
          var sum = 0.0;
          for (var kh = 0; kh < ${filterHeight}; kh++) {
            let down = line + ${padInfo.top} - kh;
            if (down < 0 || down % ${strideHeight} != 0 || down / ${strideHeight} >= ${outHeight}) {
              continue;
            }
            for (var kw = 0; kw < ${filterWidth}; kw++) {
              let across = column + ${padInfo.left} - kw;
              if (across < 0 || across % ${strideWidth} != 0 ||
                  across / ${strideWidth} >= ${outWidth}) {
                continue;
              }
              let row = (image * ${outHeight} + down / ${strideHeight}) * ${outWidth} +
                across / ${strideWidth};
              sum = sum + patches[row * ${taps} + (kh * ${filterWidth} + kw) * ${inChannels} + channel];
            }
          }
          setOutputAtIndex(index, sum);
        }
      }
    `;
  }
}

/**
 * dx for dy [batch, outHeight, outWidth, out] and `filter` [kh, kw, in,
 * out] of a convolution of `info`'s geometry, or undefined where the
 * patches' gradients would not fit in one storage binding (tfjs's kernel
 * then runs).
 */
export function stridedInputGradient(
  backend: tf.KernelBackend,
  options: { dy: tf.TensorInfo; filter: tf.TensorInfo; info: tf.backend_util.Conv2DInfo },
): tf.TensorInfo | undefined {
  const { dy, filter, info } = options;
  const runner = backend as unknown as WebGPURunner;
  const rows = info.batchSize * info.outHeight * info.outWidth;
  const taps = info.filterHeight * info.filterWidth * info.inChannels;
  if (4 * rows * taps > runner.device.limits.maxStorageBufferBindingSize) return undefined;
  const work = new KernelWorkspace(backend, "webgpu");
  const patches = work.run("BatchMatMul", {
    a: { ...dy, shape: [1, rows, info.outChannels] },
    b: { ...filter, shape: [1, taps, info.outChannels] },
  }, { transposeA: false, transposeB: true });
  const dx = runner.runWebGPUProgram(new PatchSumProgram(info), [patches], "float32");
  work.release();
  return dx;
}
