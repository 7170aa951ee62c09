import * as tf from "@tensorflow/tfjs";
import { filledTensor } from "../backend/wasm/heap.ts";
import { IMAGE_SIZE } from "./load.ts";

/**
 * The `outSize × inSize` matrix of 1-D bilinear interpolation weights with
 * PyTorch's `align_corners=False` sampling: output pixel `o` samples the
 * input at `(o + 0.5) · inSize / outSize − 0.5`, clamped at the edges.
 */
export function bilinearWeights(inSize: number, outSize: number): Float32Array {
  const weights = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const source = Math.max((o + 0.5) * scale - 0.5, 0);
    const lower = Math.min(Math.floor(source), inSize - 1);
    const upper = Math.min(lower + 1, inSize - 1);
    const fraction = source - lower;
    weights[o * inSize + lower] += 1 - fraction;
    weights[o * inSize + upper] += fraction;
  }
  return weights;
}

/** The two input pixels each output pixel reads, and their weights (see `bilinearWeights`). */
interface Taps {
  lower: Int32Array;
  upper: Int32Array;
  lowerWeight: Float32Array;
  upperWeight: Float32Array;
}

function taps(inSize: number, outSize: number): Taps {
  const weights = bilinearWeights(inSize, outSize);
  const result: Taps = {
    lower: new Int32Array(outSize),
    upper: new Int32Array(outSize),
    lowerWeight: new Float32Array(outSize),
    upperWeight: new Float32Array(outSize),
  };
  for (let o = 0; o < outSize; o++) {
    const row = weights.subarray(o * inSize, (o + 1) * inSize);
    const first = row.findIndex((w) => w !== 0);
    const second = row.findIndex((w, i) => i > first && w !== 0);
    result.lower[o] = first;
    result.lowerWeight[o] = row[first];
    result.upper[o] = second < 0 ? first : second;
    result.upperWeight[o] = second < 0 ? 0 : row[second];
  }
  return result;
}

/**
 * Writes `count` images of 28×28 bytes, scaled to [0, 1] and resized to
 * `size × size`, into `out`: across each row first, then down each column,
 * two taps per output pixel.
 */
function resizeInto(images: Uint8Array, count: number, size: number, out: Float32Array): void {
  if (size === IMAGE_SIZE) {
    // The identity: each tap's weights are 1 and 0, which leave p / 255 as it is.
    for (let i = 0; i < count * size * size; i++) out[i] = images[i] / 255;
    return;
  }
  const t = taps(IMAGE_SIZE, size);
  const across = new Float32Array(IMAGE_SIZE * size);
  for (let image = 0; image < count; image++) {
    const pixels = images.subarray(image * IMAGE_SIZE * IMAGE_SIZE);
    for (let row = 0; row < IMAGE_SIZE; row++) {
      for (let column = 0; column < size; column++) {
        across[row * size + column] =
          (pixels[row * IMAGE_SIZE + t.lower[column]] * t.lowerWeight[column] +
            pixels[row * IMAGE_SIZE + t.upper[column]] * t.upperWeight[column]) / 255;
      }
    }
    const target = out.subarray(image * size * size);
    for (let row = 0; row < size; row++) {
      const lower = t.lower[row] * size;
      const upper = t.upper[row] * size;
      const lowerWeight = t.lowerWeight[row];
      const upperWeight = t.upperWeight[row];
      for (let column = 0; column < size; column++) {
        target[row * size + column] = across[lower + column] * lowerWeight +
          across[upper + column] * upperWeight;
      }
    }
  }
}

/**
 * Scales a uint8 batch of 28×28 images to [0, 1] and resizes it bilinearly
 * to `size × size` (the same values as PyTorch's `F.interpolate(mode=
 * "bilinear", align_corners=False)`). Returns an NHWC tensor
 * `[count, size, size, 1]`. On WebGPU the bytes are uploaded and resized
 * there (by two matrix products: a quarter of the upload); on the CPU
 * backends the resize is written straight where the tensor lives, two taps
 * per pixel (a matrix product there would multiply mostly zeros).
 */
export function resizeBatch(
  images: Uint8Array,
  count: number,
  size: number,
): tf.Tensor4D {
  if (tf.getBackend() !== "webgpu") {
    return filledTensor(
      [count, size, size, 1],
      (values) => resizeInto(images, count, size, values),
    ) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const pixels = tf.tensor3d(images, [count, IMAGE_SIZE, IMAGE_SIZE], "int32")
      .toFloat().div(255) as tf.Tensor3D;
    if (size === IMAGE_SIZE) return pixels.expandDims(3) as tf.Tensor4D;
    const weights = tf.tensor2d(bilinearWeights(IMAGE_SIZE, size), [
      size,
      IMAGE_SIZE,
    ]);
    const rows = tf.matMul(weights.expandDims(0), pixels);
    const resized = tf.matMul(rows, weights.expandDims(0), false, true);
    return resized.expandDims(3) as tf.Tensor4D;
  });
}
