import type * as tf from "@tensorflow/tfjs";
import { addBiasAndActivate, type FusedActivation } from "../activation/bias_activation.ts";
import type { Blas } from "../blas.ts";
import type { WasmWorkspace } from "../workspace.ts";
import type { WasmHeap } from "../heap.ts";
import { patchAddKernel, patchRowKernel } from "./patch_kernel.ts";

/**
 * Most floats of im2col rows built at once (8 MiB): the rows are multiplied
 * while still in cache, and XNNPACK's product slows down on long operands.
 */
const PATCH_FLOATS = 2 ** 21;

/** Images per chunk of a batch whose im2col rows (`rowFloats` each, `pixels` per image) stay under `PATCH_FLOATS`. */
export function imagesPerPatchChunk(
  options: { batch: number; pixels: number; rowFloats: number },
): number {
  const { batch, pixels, rowFloats } = options;
  return Math.min(batch, Math.max(1, Math.floor(PATCH_FLOATS / (pixels * rowFloats))));
}

/** The geometry of a 2-D convolution (NHWC, no dilation) over an input already zero-padded. */
export interface PatchLayout {
  /** Rows and columns of the padded input. */
  rows: number;
  columns: number;
  channels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  outHeight: number;
  outWidth: number;
}

/**
 * The patch layout of a convolution of `info`'s geometry over an input of
 * `rows` × `columns` per image (padded already, or not padded at all).
 */
export function patchLayout(
  info: tf.backend_util.Conv2DInfo,
  input: { rows: number; columns: number },
): PatchLayout {
  return {
    ...input,
    channels: info.inChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
  };
}

/** Runs shorter than this are copied element by element (cheaper than a `set` call). */
const SHORT_RUN = 64;

/**
 * The im2col matrix of images `first` to `first + count − 1` of `padded`:
 * one row per output pixel (image, y, x), holding the input patch it sees
 * in the filter's order (ky, kx, channel), i.e. [count · outHeight ·
 * outWidth, filterHeight · filterWidth · channels] (one column more with
 * `ones`). Each filter row of a patch is one contiguous run of the input.
 */
export function patchRows(
  padded: Float32Array,
  target: Float32Array,
  options: {
    layout: PatchLayout;
    first: number;
    count: number;
    /** End each row with a 1, so that a product adds the filter matrix's last row (a bias). */
    ones?: boolean;
    /** The wasm heap both arrays are on: rows of four floats or more are then copied by SIMD. */
    heap?: WasmHeap;
  },
): void {
  const { layout, first, count, ones = false } = options;
  const { rows, columns, channels, filterHeight, filterWidth } = layout;
  const { strideHeight, strideWidth, outHeight, outWidth } = layout;
  const run = filterWidth * channels;
  const rowStride = columns * channels;
  const geometry = { run, filterHeight, rowBytes: 4 * rowStride, ones };
  const kernel = options.heap && patchRowKernel(options.heap, geometry);
  if (kernel) {
    const rowFloats = run * filterHeight + (ones ? 1 : 0);
    const step = 4 * strideWidth * channels;
    let at = target.byteOffset;
    for (let b = first; b < first + count; b++) {
      for (let oy = 0; oy < outHeight; oy++, at += 4 * outWidth * rowFloats) {
        const from = padded.byteOffset + 4 * (b * rows + oy * strideHeight) * rowStride;
        kernel(from, at, outWidth, step);
      }
    }
    return;
  }
  let to = 0;
  for (let b = first; b < first + count; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        let from = ((b * rows + oy * strideHeight) * columns + ox * strideWidth) * channels;
        for (let ky = 0; ky < filterHeight; ky++, from += rowStride, to += run) {
          if (run < SHORT_RUN) {
            for (let i = 0; i < run; i++) target[to + i] = padded[from + i];
          } else {
            target.set(padded.subarray(from, from + run), to);
          }
        }
        if (ones) target[to++] = 1;
      }
    }
  }
}

/**
 * The "valid" convolution of `x` (NHWC, no dilation) with `filter`, plus
 * `bias`, through `activation`, as products of im2col rows and the filter by
 * the BLAS, a few images at a time: each row ends with a 1 and the filter
 * matrix with the bias, so that the product adds it: for AlexNet's first
 * layer (one channel, 11×11, stride 4) faster than XNNPACK, with or
 * without space-to-depth. The output is `work`'s to release or keep.
 */
export function im2colConvolution(
  work: WasmWorkspace,
  options: {
    x: tf.TensorInfo;
    filter: tf.TensorInfo;
    bias?: tf.TensorInfo;
    activation: FusedActivation;
    library: Blas;
    layout: PatchLayout;
    outChannels: number;
  },
): tf.TensorInfo {
  const { x, filter, bias, activation, library, layout, outChannels } = options;
  const batch = x.shape[0];
  const taps = layout.filterHeight * layout.filterWidth * layout.channels;
  const inner = taps + 1;
  const pixels = layout.outHeight * layout.outWidth;
  const chunk = imagesPerPatchChunk({ batch, pixels, rowFloats: inner });
  const output = work.temporary([batch, layout.outHeight, layout.outWidth, outChannels]);
  const withBias = work.temporary([inner, outChannels]);
  const patches = work.temporary([chunk * pixels, inner]);
  const [xValues, filterValues, withBiasValues, patchValues, outputValues, biasValues] = work
    .views([x, filter, withBias, patches, output, ...(bias ? [bias] : [])]);
  withBiasValues.set(filterValues.subarray(0, taps * outChannels));
  withBiasValues.fill(0, taps * outChannels);
  if (biasValues) withBiasValues.set(biasValues, taps * outChannels);
  for (let first = 0; first < batch; first += chunk) {
    const count = Math.min(chunk, batch - first);
    patchRows(xValues, patchValues, { layout, first, count, ones: true, heap: work.heap });
    const results = outputValues.subarray(first * pixels * outChannels);
    library.gemm({
      rows: count * pixels,
      columns: outChannels,
      inner,
      a: patchValues,
      b: withBiasValues,
      c: results,
    });
    const values = results.subarray(0, count * pixels * outChannels);
    addBiasAndActivate(work.heap, values, { activation });
  }
  return output;
}

/**
 * The inverse of {@link patchRows}: adds each row of `rows` (one output
 * pixel's patch, in the filter's order) back onto the place of `padded`
 * that the patch was read from. Patches of a strided convolution overlap
 * where the filter is wider than the stride, and there the sums meet.
 */
export function addPatchRows(
  rows: Float32Array,
  padded: Float32Array,
  options: {
    layout: PatchLayout;
    first: number;
    count: number;
    /** The wasm heap both arrays are on: runs of four floats or more are then added by SIMD. */
    heap?: WasmHeap;
  },
): void {
  const { layout, first, count } = options;
  const { rows: height, columns, channels, filterHeight, filterWidth } = layout;
  const { strideHeight, strideWidth, outHeight, outWidth } = layout;
  const run = filterWidth * channels;
  const rowStride = columns * channels;
  const geometry = { run, filterHeight, rowBytes: 4 * rowStride, ones: false };
  const kernel = options.heap && patchAddKernel(options.heap, geometry);
  if (kernel) {
    let at = rows.byteOffset;
    for (let b = first; b < first + count; b++) {
      for (let oy = 0; oy < outHeight; oy++, at += 4 * outWidth * run * filterHeight) {
        const to = padded.byteOffset + 4 * (b * height + oy * strideHeight) * rowStride;
        kernel(at, to, outWidth, 4 * strideWidth * channels);
      }
    }
    return;
  }
  let from = 0;
  for (let b = first; b < first + count; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        let to = ((b * height + oy * strideHeight) * columns + ox * strideWidth) * channels;
        for (let ky = 0; ky < filterHeight; ky++, to += rowStride, from += run) {
          for (let i = 0; i < run; i++) padded[to + i] += rows[from + i];
        }
      }
    }
  }
}
