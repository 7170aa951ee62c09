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

/** Runs shorter than this are copied element by element (cheaper than a `set` call). */
const SHORT_RUN = 64;

/**
 * The im2col matrix of images `first` to `first + count − 1` of `padded`:
 * one row per output pixel (image, y, x), holding the input patch it sees
 * in the filter's order (ky, kx, channel), i.e. [count · outHeight ·
 * outWidth, filterHeight · filterWidth · channels]. Each filter row of a
 * patch is one contiguous run of the input.
 */
export function patchRows(
  padded: Float32Array,
  target: Float32Array,
  options: { layout: PatchLayout; first: number; count: number },
): void {
  const { layout, first, count } = options;
  const { rows, columns, channels, filterHeight, filterWidth } = layout;
  const { strideHeight, strideWidth, outHeight, outWidth } = layout;
  const run = filterWidth * channels;
  const rowStride = columns * channels;
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
      }
    }
  }
}
