import * as tf from "@tensorflow/tfjs";
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

/**
 * Uploads a uint8 batch of 28×28 images and, on the active tfjs backend,
 * scales it to [0, 1] and resizes it bilinearly to `size × size` (the
 * same values as PyTorch's `F.interpolate(mode="bilinear",
 * align_corners=False)`). Returns an NHWC tensor `[count, size, size, 1]`.
 */
export function resizeBatch(
  images: Uint8Array,
  count: number,
  size: number,
): tf.Tensor4D {
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
