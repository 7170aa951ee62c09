/**
 * Winograd's minimal filtering algorithms F(2×2, r×r) (Lavin & Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2015) on NHWC arrays, and
 * the transforms of F(2×2, 3×3). A stride-1 r×r convolution with "same"
 * padding is cut into 2×2 output tiles, each computed from an α×α input
 * tile d (α = r + 1) and the filter g as Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Summed
 * over the input channels, the α² element-wise products become α² matrix
 * products (tiles × channels in) · (channels in × channels out): for 3×3,
 * 16 multiplications per tile and channel pair instead of 36. The filter
 * gradient follows from the same identity:
 * dg = Gᵀ [Σ over tiles (A dY Aᵀ) ⊙ (Bᵀ d B)] G. Tensors in the "tile
 * domain" are held as α² planes, one per element, each a row-major matrix.
 */
/** How the output of a stride-1 "same" convolution is cut into 2×2 tiles. */
export interface TileGrid {
  batch: number;
  height: number;
  width: number;
  tilesHigh: number;
  tilesWide: number;
  /** Tiles in the whole batch: the rows of each plane. */
  tiles: number;
}

/** The tiles of a batch of `height × width` outputs (odd sides get a partial last tile). */
export function tileGrid(batch: number, height: number, width: number): TileGrid {
  const tilesHigh = Math.ceil(height / 2);
  const tilesWide = Math.ceil(width / 2);
  return { batch, height, width, tilesHigh, tilesWide, tiles: batch * tilesHigh * tilesWide };
}

/** The tiles of a batch and the channels of one side of the convolution. */
export interface TileLayout {
  grid: TileGrid;
  channels: number;
}

/** An output's tiles and channels, with the fused convolution's bias (zeros if none) and ReLU. */
export interface OutputLayout extends TileLayout {
  bias: Float32Array;
  relu: boolean;
}

/**
 * The five transforms of one Winograd algorithm F(2×2, r×r) on NHWC arrays,
 * tile elements held as planes (row-major matrices, one per element).
 */
export interface WinogradScheme {
  /** Side r of the filter. */
  filterSize: number;
  /** Side α = r + 1 of an input tile. */
  tileSize: number;
  /**
   * Bᵀ d B for every input tile of `padded` [batch, 2·tilesHigh + α − 2,
   * 2·tilesWide + α − 2, channels]: planes [tiles, channels].
   */
  inputTiles(
    padded: Float32Array,
    planes: Float32Array[],
    layout: TileLayout,
  ): void;
  /** G g Gᵀ of a filter [r, r, channelsIn, channelsOut]: planes [channelsIn, channelsOut]. */
  filterTiles(filter: Float32Array, planes: Float32Array[], pairs: number): void;
  /** Aᵀ m A from planes [tiles, channels]: the output, plus a bias and a ReLU if asked. */
  outputTiles(
    planes: Float32Array[],
    output: Float32Array,
    layout: OutputLayout,
  ): void;
  /** A dY Aᵀ for every 2×2 tile of `dy` [batch, 2·tilesHigh, 2·tilesWide, channels]. */
  gradientTiles(
    dy: Float32Array,
    planes: Float32Array[],
    layout: TileLayout,
  ): void;
  /** Gᵀ m G: the filter gradient [r, r, channelsIn, channelsOut] from planes [channelsIn, channelsOut]. */
  filterGradientFromTiles(planes: Float32Array[], gradient: Float32Array, pairs: number): void;
}

/**
 * Bᵀ d B for every 4×4 tile of `padded` [batch, 2·tilesHigh + 2, 2·tilesWide + 2, channels]:
 * plane e holds element e of each tile's transform, as a [tiles, channels]
 * matrix.
 */
function inputTiles(
  padded: Float32Array,
  planes: Float32Array[],
  layout: TileLayout,
): void {
  const { grid: { batch, tilesHigh, tilesWide }, channels: c } = layout;
  const [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15] = planes;
  const columns = 2 * tilesWide + 2;
  const rowStride = columns * c;
  const r1 = rowStride, r2 = 2 * rowStride, r3 = 3 * rowStride;
  const c2 = 2 * c, c3 = 3 * c;
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++) {
        let p = ((b * (2 * tilesHigh + 2) + 2 * ty) * columns + 2 * tx) * c;
        const end = at + c;
        for (; at < end; at++, p++) {
          const d00 = padded[p], d01 = padded[p + c], d02 = padded[p + c2], d03 = padded[p + c3];
          const q = p + r1;
          const d10 = padded[q], d11 = padded[q + c], d12 = padded[q + c2], d13 = padded[q + c3];
          const s = p + r2;
          const d20 = padded[s], d21 = padded[s + c], d22 = padded[s + c2], d23 = padded[s + c3];
          const u = p + r3;
          const d30 = padded[u], d31 = padded[u + c], d32 = padded[u + c2], d33 = padded[u + c3];
          const a0 = d00 - d20, a1 = d01 - d21, a2 = d02 - d22, a3 = d03 - d23;
          const b0 = d10 + d20, b1 = d11 + d21, b2 = d12 + d22, b3 = d13 + d23;
          const e0 = d20 - d10, e1 = d21 - d11, e2 = d22 - d12, e3 = d23 - d13;
          const f0 = d10 - d30, f1 = d11 - d31, f2 = d12 - d32, f3 = d13 - d33;
          v0[at] = a0 - a2;
          v1[at] = a1 + a2;
          v2[at] = a2 - a1;
          v3[at] = a1 - a3;
          v4[at] = b0 - b2;
          v5[at] = b1 + b2;
          v6[at] = b2 - b1;
          v7[at] = b1 - b3;
          v8[at] = e0 - e2;
          v9[at] = e1 + e2;
          v10[at] = e2 - e1;
          v11[at] = e1 - e3;
          v12[at] = f0 - f2;
          v13[at] = f1 + f2;
          v14[at] = f2 - f1;
          v15[at] = f1 - f3;
        }
      }
    }
  }
}

/**
 * G g Gᵀ for a filter [3, 3, channelsIn, channelsOut] (`pairs` =
 * channelsIn · channelsOut): plane e holds element e of every (in, out)
 * pair's transform, as a [channelsIn, channelsOut] matrix.
 */
function filterTiles(filter: Float32Array, planes: Float32Array[], pairs: number): void {
  const [u0, u1, u2, u3, u4, u5, u6, u7, u8, u9, u10, u11, u12, u13, u14, u15] = planes;
  for (let to = 0; to < pairs; to++) {
    const g0 = filter[to], g1 = filter[to + pairs], g2 = filter[to + 2 * pairs];
    const g3 = filter[to + 3 * pairs], g4 = filter[to + 4 * pairs], g5 = filter[to + 5 * pairs];
    const g6 = filter[to + 6 * pairs], g7 = filter[to + 7 * pairs], g8 = filter[to + 8 * pairs];
    const p0 = 0.5 * (g0 + g3 + g6), p1 = 0.5 * (g1 + g4 + g7), p2 = 0.5 * (g2 + g5 + g8);
    const n0 = 0.5 * (g0 - g3 + g6), n1 = 0.5 * (g1 - g4 + g7), n2 = 0.5 * (g2 - g5 + g8);
    u0[to] = g0;
    u1[to] = 0.5 * (g0 + g1 + g2);
    u2[to] = 0.5 * (g0 - g1 + g2);
    u3[to] = g2;
    u4[to] = p0;
    u5[to] = 0.5 * (p0 + p1 + p2);
    u6[to] = 0.5 * (p0 - p1 + p2);
    u7[to] = p2;
    u8[to] = n0;
    u9[to] = 0.5 * (n0 + n1 + n2);
    u10[to] = 0.5 * (n0 - n1 + n2);
    u11[to] = n2;
    u12[to] = g6;
    u13[to] = 0.5 * (g6 + g7 + g8);
    u14[to] = 0.5 * (g6 - g7 + g8);
    u15[to] = g8;
  }
}

/**
 * `value`, passed through a ReLU when `relu`, without `Math.max`: V8 checks
 * it for NaN and −0 by branches, and with a ReLU the branch on the value's
 * sign is a coin toss on activations. With `Math.max`, conv2's forward pass
 * at 64 examples took 1.09 s (1.20 s with its ReLU) instead of 0.76 s.
 * Exact: (v + |v|) / 2 is v or +0.
 */
export function activate(value: number, relu: boolean): number {
  return relu ? (value + Math.abs(value)) * 0.5 : value;
}

/**
 * Aᵀ m A for every tile: the convolution's output [batch, height, width,
 * channels] from the 16 product planes ([tiles, channels] each), plus
 * `bias` per channel and a ReLU if asked (tfjs's fused convolution).
 */
function outputTiles(
  planes: Float32Array[],
  output: Float32Array,
  layout: OutputLayout,
): void {
  const { grid: { batch, height, width, tilesHigh, tilesWide }, channels: c, bias, relu } = layout;
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15] = planes;
  const rowStride = width * c;
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      const fullHeight = 2 * ty + 1 < height;
      for (let tx = 0; tx < tilesWide; tx++) {
        const fullWidth = 2 * tx + 1 < width;
        let y = ((b * height + 2 * ty) * width + 2 * tx) * c;
        for (let k = 0; k < c; k++, at++, y++) {
          const a0 = m0[at] + m4[at] + m8[at], a1 = m1[at] + m5[at] + m9[at];
          const a2 = m2[at] + m6[at] + m10[at], a3 = m3[at] + m7[at] + m11[at];
          const e0 = m4[at] - m8[at] - m12[at], e1 = m5[at] - m9[at] - m13[at];
          const e2 = m6[at] - m10[at] - m14[at], e3 = m7[at] - m11[at] - m15[at];
          const shift = bias[k];
          output[y] = activate(a0 + a1 + a2 + shift, relu);
          if (fullWidth) output[y + c] = activate(a1 - a2 - a3 + shift, relu);
          if (fullHeight) {
            output[y + rowStride] = activate(e0 + e1 + e2 + shift, relu);
            if (fullWidth) output[y + rowStride + c] = activate(e1 - e2 - e3 + shift, relu);
          }
        }
      }
    }
  }
}

/**
 * A dY Aᵀ for every 2×2 tile of the output gradient `dy`, laid out as
 * [batch, 2·tilesHigh, 2·tilesWide, channels] (padded with zeros where a
 * side is odd): plane e holds element e of each tile's transform as a
 * [tiles, channels] matrix.
 */
function gradientTiles(
  dy: Float32Array,
  planes: Float32Array[],
  layout: TileLayout,
): void {
  const { grid: { batch, tilesHigh, tilesWide }, channels: c } = layout;
  const [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15] = planes;
  const rowStride = 2 * tilesWide * c;
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++) {
        let p = ((b * 2 * tilesHigh + 2 * ty) * 2 * tilesWide + 2 * tx) * c;
        const end = at + c;
        for (; at < end; at++, p++) {
          const y00 = dy[p], y01 = dy[p + c], y10 = dy[p + rowStride], y11 = dy[p + rowStride + c];
          const s0 = y00 + y10, s1 = y01 + y11, d0 = y00 - y10, d1 = y01 - y11;
          w0[at] = y00;
          w1[at] = y00 + y01;
          w2[at] = y00 - y01;
          w3[at] = -y01;
          w4[at] = s0;
          w5[at] = s0 + s1;
          w6[at] = s0 - s1;
          w7[at] = -s1;
          w8[at] = d0;
          w9[at] = d0 + d1;
          w10[at] = d0 - d1;
          w11[at] = -d1;
          w12[at] = -y10;
          w13[at] = -y10 - y11;
          w14[at] = y11 - y10;
          w15[at] = y11;
        }
      }
    }
  }
}

/**
 * Gᵀ m G: the filter gradient [3, 3, channelsIn, channelsOut] from the 16
 * planes of Σ over tiles (A dY Aᵀ) ⊙ (Bᵀ d B), each [channelsIn, channelsOut].
 */
function filterGradientFromTiles(
  planes: Float32Array[],
  gradient: Float32Array,
  pairs: number,
): void {
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15] = planes;
  for (let at = 0; at < pairs; at++) {
    const s0 = m4[at] + m8[at], s1 = m5[at] + m9[at], s2 = m6[at] + m10[at], s3 = m7[at] + m11[at];
    const a0 = m0[at] + 0.5 * s0, a1 = m1[at] + 0.5 * s1;
    const a2 = m2[at] + 0.5 * s2, a3 = m3[at] + 0.5 * s3;
    const b0 = 0.5 * (m4[at] - m8[at]), b1 = 0.5 * (m5[at] - m9[at]);
    const b2 = 0.5 * (m6[at] - m10[at]), b3 = 0.5 * (m7[at] - m11[at]);
    const c0 = 0.5 * s0 + m12[at], c1 = 0.5 * s1 + m13[at];
    const c2 = 0.5 * s2 + m14[at], c3 = 0.5 * s3 + m15[at];
    gradient[at] = a0 + 0.5 * (a1 + a2);
    gradient[at + pairs] = 0.5 * (a1 - a2);
    gradient[at + 2 * pairs] = 0.5 * (a1 + a2) + a3;
    gradient[at + 3 * pairs] = b0 + 0.5 * (b1 + b2);
    gradient[at + 4 * pairs] = 0.5 * (b1 - b2);
    gradient[at + 5 * pairs] = 0.5 * (b1 + b2) + b3;
    gradient[at + 6 * pairs] = c0 + 0.5 * (c1 + c2);
    gradient[at + 7 * pairs] = 0.5 * (c1 - c2);
    gradient[at + 8 * pairs] = 0.5 * (c1 + c2) + c3;
  }
}

/** Winograd's F(2×2, 3×3). */
export const F2X2_3X3: WinogradScheme = {
  filterSize: 3,
  tileSize: 4,
  inputTiles,
  filterTiles,
  outputTiles,
  gradientTiles,
  filterGradientFromTiles,
};
