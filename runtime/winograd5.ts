import { activate, type OutputLayout, type TileLayout, type WinogradScheme } from "./winograd.ts";
import { sixPointInputTiles } from "./winograd6.ts";

/**
 * Winograd's F(2×2, 5×5) (AlexNet's second convolution): 6×6 input tiles,
 * 36 multiplications per tile and channel pair instead of 100. Its
 * matrices, built from the points 0, ±1, ±2 and ∞ (Toom–Cook), are
 *   Bᵀ as in `winograd6.ts`,
 *   G = [1/4 0 0 0 0; 1/6 ×(1 1 1 1 1); 1/6 ×(1 −1 1 −1 1); 1/24 ×(1 2 4 8 16); 1/24 ×(1 −2 4 −8 16); 0 0 0 0 1],
 *   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 1].
 * Each 2-D transform is applied as two 1-D passes (tile rows, then tile
 * columns), channels innermost.
 */
const TILE = 6;
const ELEMENTS = TILE * TILE;

/** G applied to five taps g0…g4 (`step` apart in `g`), into `out` at `o`, `stride` apart. */
function filterColumn(
  g: ArrayLike<number>,
  at: number,
  step: number,
  out: Float32Array,
  o: number,
  stride: number,
): void {
  const g0 = g[at], g1 = g[at + step], g2 = g[at + 2 * step], g3 = g[at + 3 * step];
  const g4 = g[at + 4 * step];
  out[o] = g0 / 4;
  out[o + stride] = (g0 + g1 + g2 + g3 + g4) / 6;
  out[o + 2 * stride] = (g0 - g1 + g2 - g3 + g4) / 6;
  out[o + 3 * stride] = (g0 + 2 * g1 + 4 * g2 + 8 * g3 + 16 * g4) / 24;
  out[o + 4 * stride] = (g0 - 2 * g1 + 4 * g2 - 8 * g3 + 16 * g4) / 24;
  out[o + 5 * stride] = g4;
}

/** G g Gᵀ for a filter [5, 5, channelsIn, channelsOut]: 36 planes [channelsIn, channelsOut]. */
function filterTiles(filter: Float32Array, planes: Float32Array[], pairs: number): void {
  const down = new Float32Array(TILE * 5);
  const tile = new Float32Array(ELEMENTS);
  for (let at = 0; at < pairs; at++) {
    for (let kx = 0; kx < 5; kx++) filterColumn(filter, at + kx * pairs, 5 * pairs, down, kx, 5);
    for (let i = 0; i < TILE; i++) filterColumn(down, 5 * i, 1, tile, TILE * i, 1);
    for (let e = 0; e < ELEMENTS; e++) planes[e][at] = tile[e];
  }
}

/** Aᵀ m A for every tile, plus `bias` and a ReLU if asked: the output [batch, height, width, channels]. */
function outputTiles(
  planes: Float32Array[],
  output: Float32Array,
  layout: OutputLayout,
): void {
  const { grid: { batch, height, width, tilesHigh, tilesWide }, channels: c, bias, relu } = layout;
  const rows = new Float32Array(2 * TILE * c);
  const planeColumns = [0, 1, 2, 3, 4, 5].map((j) =>
    [0, 1, 2, 3, 4, 5].map((i) => planes[TILE * i + j])
  );
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      const fullHeight = 2 * ty + 1 < height;
      for (let tx = 0; tx < tilesWide; tx++, at += c) {
        const fullWidth = 2 * tx + 1 < width;
        for (let j = 0; j < TILE; j++) {
          const [m0, m1, m2, m3, m4, m5] = planeColumns[j];
          for (let k = 0; k < c; k++) {
            const o = at + k;
            const a1 = m1[o], a2 = m2[o], a3 = m3[o], a4 = m4[o];
            rows[j * c + k] = m0[o] + a1 + a2 + a3 + a4;
            rows[(TILE + j) * c + k] = a1 - a2 + 2 * (a3 - a4) + m5[o];
          }
        }
        let y = ((b * height + 2 * ty) * width + 2 * tx) * c;
        for (let half = 0; half < 2; half++, y += width * c) {
          if (half === 1 && !fullHeight) break;
          const row = half * TILE * c;
          for (let k = 0; k < c; k++) {
            const q = row + k;
            const a1 = rows[q + c], a2 = rows[q + 2 * c], a3 = rows[q + 3 * c];
            const a4 = rows[q + 4 * c];
            output[y + k] = activate(rows[q] + a1 + a2 + a3 + a4 + bias[k], relu);
            if (fullWidth) {
              output[y + c + k] = activate(
                a1 - a2 + 2 * (a3 - a4) + rows[q + 5 * c] + bias[k],
                relu,
              );
            }
          }
        }
      }
    }
  }
}

/**
 * A dY Aᵀ for every 2×2 tile of `dy` [batch, 2·tilesHigh, 2·tilesWide, channels],
 * as two 1-D passes of A = [1 0; 1 1; 1 −1; 1 2; 1 −2; 0 1] (tile rows, then tile columns).
 */
function gradientTiles(
  dy: Float32Array,
  planes: Float32Array[],
  layout: TileLayout,
): void {
  const { grid: { batch, tilesHigh, tilesWide }, channels: c } = layout;
  const rowStride = 2 * tilesWide * c;
  const across = new Float32Array(2 * TILE * c);
  const planeColumns = [0, 1, 2, 3, 4, 5].map((j) =>
    [0, 1, 2, 3, 4, 5].map((i) => planes[TILE * i + j])
  );
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, at += c) {
        const corner = ((b * 2 * tilesHigh + 2 * ty) * 2 * tilesWide + 2 * tx) * c;
        for (let i = 0; i < 2; i++) {
          const from = corner + i * rowStride;
          for (let k = 0; k < c; k++) {
            const y0 = dy[from + k], y1 = dy[from + c + k];
            const q = i * TILE * c + k;
            across[q] = y0;
            across[q + c] = y0 + y1;
            across[q + 2 * c] = y0 - y1;
            across[q + 3 * c] = y0 + 2 * y1;
            across[q + 4 * c] = y0 - 2 * y1;
            across[q + 5 * c] = y1;
          }
        }
        for (let j = 0; j < TILE; j++) {
          const [w0, w1, w2, w3, w4, w5] = planeColumns[j];
          for (let k = 0; k < c; k++) {
            const y0 = across[j * c + k], y1 = across[(TILE + j) * c + k];
            const o = at + k;
            w0[o] = y0;
            w1[o] = y0 + y1;
            w2[o] = y0 - y1;
            w3[o] = y0 + 2 * y1;
            w4[o] = y0 - 2 * y1;
            w5[o] = y1;
          }
        }
      }
    }
  }
}

/** Gᵀ applied to six tile elements m0…m5 (`step` apart in `m`), into `out` at `o`, `stride` apart. */
function gradientColumn(
  m: ArrayLike<number>,
  at: number,
  step: number,
  out: Float32Array,
  o: number,
  stride: number,
): void {
  const m0 = m[at], m1 = m[at + step], m2 = m[at + 2 * step], m3 = m[at + 3 * step];
  const m4 = m[at + 4 * step], m5 = m[at + 5 * step];
  const sum12 = (m1 + m2) / 6, difference12 = (m1 - m2) / 6;
  const sum34 = m3 + m4, difference34 = m3 - m4;
  out[o] = m0 / 4 + sum12 + sum34 / 24;
  out[o + stride] = difference12 + difference34 / 12;
  out[o + 2 * stride] = sum12 + sum34 / 6;
  out[o + 3 * stride] = difference12 + difference34 / 3;
  out[o + 4 * stride] = sum12 + (2 * sum34) / 3 + m5;
}

/** Gᵀ m G: the filter gradient [5, 5, channelsIn, channelsOut] from 36 planes [channelsIn, channelsOut]. */
function filterGradientFromTiles(planes: Float32Array[], gradient: Float32Array, pairs: number) {
  const tile = new Float32Array(ELEMENTS);
  const down = new Float32Array(5 * TILE);
  const taps = new Float32Array(25);
  for (let at = 0; at < pairs; at++) {
    for (let e = 0; e < ELEMENTS; e++) tile[e] = planes[e][at];
    for (let j = 0; j < TILE; j++) gradientColumn(tile, j, TILE, down, j, TILE);
    for (let ky = 0; ky < 5; ky++) gradientColumn(down, TILE * ky, 1, taps, 5 * ky, 1);
    for (let tap = 0; tap < 25; tap++) gradient[tap * pairs + at] = taps[tap];
  }
}

/** Winograd's F(2×2, 5×5). */
export const F2X2_5X5: WinogradScheme = {
  filterSize: 5,
  outputSize: 2,
  tileSize: TILE,
  inputTiles: sixPointInputTiles,
  filterTiles,
  outputTiles,
  gradientTiles,
  filterGradientFromTiles,
};
