/** Where an NHWC batch goes inside a larger, zero-padded one. */
export interface PadLayout {
  batch: number;
  height: number;
  width: number;
  channels: number;
  /** Rows and columns of the padded images. */
  rows: number;
  columns: number;
  /** Zero rows above and zero columns left of each image. */
  top: number;
  left: number;
}

/**
 * Copies `source` [batch, height, width, channels] into `target` [batch,
 * rows, columns, channels] at (`top`, `left`), zeros elsewhere; what falls
 * beyond `rows` or `columns` is left out.
 */
export function padInto(source: Float32Array, target: Float32Array, layout: PadLayout): void {
  const { batch, height, width, channels, rows, columns, top, left } = layout;
  target.fill(0);
  const sourceRow = width * channels;
  const copied = Math.min(width, columns - left) * channels;
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < Math.min(height, rows - top); y++) {
      const from = (b * height + y) * sourceRow;
      const to = ((b * rows + y + top) * columns + left) * channels;
      target.set(source.subarray(from, from + copied), to);
    }
  }
}
