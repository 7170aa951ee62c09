/**
 * The input gradient of a convolution on the wasm backend as products of
 * dy by the filter transposed, one chunk of the batch at a time, each row
 * of which is one output pixel's share of the gradient of the patch it read
 * (the im2col matrix's gradient), added back onto the places the patches
 * came from. For strided convolutions (ResNet's and GoogLeNet's stride-2
 * layers), where tfjs's own kernel is a plain loop over every input element
 * and filter tap, and for stride-1 ones into few channels (LeNet's second
 * layer), where the turned convolution would write few channels, which
 * XNNPACK does slowly, and over dy padded by the filter's size less one.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { blas } from "../blas.ts";
import {
  addPatchRows,
  imagesPerPatchChunk,
  type PatchLayout,
  patchLayout,
} from "../layout/im2col.ts";
import { transposeInto } from "../layout/transpose.ts";
import { WasmWorkspace } from "../workspace.ts";

/**
 * dx for dy [batch, outHeight, outWidth, out] and `filter` [kh, kw, in,
 * out] of a convolution of `info`'s geometry (no dilation). The result is
 * the backend's to keep.
 */
export function inputGradientByProducts(
  backend: tf.KernelBackend,
  options: { dy: tf.TensorInfo; filter: tf.TensorInfo; info: tf.backend_util.Conv2DInfo },
): tf.TensorInfo {
  const { dy, filter, info } = options;
  const { batchSize: batch, inHeight, inWidth, inChannels, outChannels, padInfo } = info;
  const layout = patchLayout(info, {
    rows: Math.max((info.outHeight - 1) * info.strideHeight + info.filterHeight, padInfo.top),
    columns: Math.max((info.outWidth - 1) * info.strideWidth + info.filterWidth, padInfo.left),
  });
  const taps = info.filterHeight * info.filterWidth * inChannels;
  const pixels = info.outHeight * info.outWidth;
  const chunk = imagesPerPatchChunk({ batch, pixels, rowFloats: taps });
  const whole = new WasmWorkspace(backend);
  const padded = whole.temporary([batch, layout.rows, layout.columns, inChannels]);
  // The filter as [out, taps], for products that are plain ones without a BLAS.
  const filterRows = whole.temporary([outChannels, taps]);
  const patchGradients = whole.temporary([chunk * pixels, taps]);
  const dyChunk = whole.temporary([chunk * pixels, outChannels]);
  const [paddedValues, filterValues, filterRowValues] = whole.views([padded, filter, filterRows]);
  paddedValues.fill(0);
  transposeInto(filterValues, filterRowValues, { rows: taps, columns: outChannels });
  for (let first = 0; first < batch; first += chunk) {
    const count = Math.min(chunk, batch - first);
    const work = new WasmWorkspace(backend);
    const rows = patchGradientsOf(work, { dy, dyChunk, filterRows, patchGradients, first, count });
    const [rowValues, target] = work.views([rows, padded]);
    addPatchRows(rowValues, target, { layout, first, count, heap: work.heap });
    work.release();
  }
  const dx = whole.heap.makeOutput([batch, inHeight, inWidth, inChannels], "float32");
  const [source, dxValues] = whole.views([padded, dx]);
  cropInto(source, dxValues, { layout, batch, height: inHeight, width: inWidth, ...padInfo });
  whole.release();
  return dx;
}

/**
 * dy's rows of images `first` to `first + count − 1` times the filter
 * rows: by the BLAS on dy in place, or else from a copy of those rows.
 */
function patchGradientsOf(
  work: WasmWorkspace,
  options: {
    dy: tf.TensorInfo;
    dyChunk: tf.TensorInfo;
    filterRows: tf.TensorInfo;
    patchGradients: tf.TensorInfo;
    first: number;
    count: number;
  },
): tf.TensorInfo {
  const { dy, dyChunk, filterRows, patchGradients, first, count } = options;
  const [, outHeight, outWidth, outChannels] = dy.shape;
  const rows = count * outHeight * outWidth;
  const taps = filterRows.shape[1];
  const library = blas();
  const [dyValues, filterValues, target, chunkValues] = work.views([
    dy,
    filterRows,
    patchGradients,
    dyChunk,
  ]);
  const start = first * outHeight * outWidth * outChannels;
  if (library) {
    library.gemm({
      rows,
      columns: taps,
      inner: outChannels,
      a: dyValues.subarray(start),
      b: filterValues,
      c: target,
    });
    return patchGradients;
  }
  chunkValues.set(dyValues.subarray(start, start + rows * outChannels));
  const part = { ...dyChunk, shape: [rows, outChannels] };
  return work.product(part, filterRows, rows, taps);
}

/** Copies the unpadded part of `padded` into `target` [batch, height, width, channels]. */
function cropInto(
  padded: Float32Array,
  target: Float32Array,
  options: {
    layout: PatchLayout;
    batch: number;
    height: number;
    width: number;
    top: number;
    left: number;
  },
): void {
  const { layout, batch, height, width, top, left } = options;
  const { rows, columns, channels } = layout;
  const rowFloats = width * channels;
  target.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < height && y + top < rows; y++) {
      const from = ((b * rows + y + top) * columns + left) * channels;
      const kept = Math.min(width, columns - left) * channels;
      target.set(padded.subarray(from, from + kept), (b * height + y) * rowFloats);
    }
  }
}
