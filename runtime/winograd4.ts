import { activate, type OutputLayout, type TileLayout, type WinogradScheme } from "./winograd.ts";
import { sixPointInputTiles } from "./winograd6.ts";

/**
 * Winograd's F(4×4, 3×3) (AlexNet's third to fifth convolutions): 6×6 input
 * tiles for 4×4 outputs, 36 multiplications per tile and channel pair
 * instead of 144 (F(2×2, 3×3) needs 64 for the same outputs). Its
 * matrices, built from the points 0, ±1, ±2 and ∞ (Bᵀ as in `winograd6.ts`), are
 *   G = [1/4 0 0; 1/6 ×(1 1 1); 1/6 ×(1 −1 1); 1/24 ×(1 2 4); 1/24 ×(1 −2 4); 0 0 1],
 *   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
 * Each 2-D transform is applied as two 1-D passes, channels innermost.
 */
const TILE = 6;
const OUT = 4;
const ELEMENTS = TILE * TILE;

/** G applied to three taps g0, g1, g2 (`step` apart in `g`), into `out` at `o`, `stride` apart. */
function filterColumn(
  g: ArrayLike<number>,
  at: number,
  step: number,
  out: Float32Array,
  o: number,
  stride: number,
): void {
  const g0 = g[at], g1 = g[at + step], g2 = g[at + 2 * step];
  const even = g0 + 4 * g2;
  out[o] = g0 / 4;
  out[o + stride] = (g0 + g1 + g2) / 6;
  out[o + 2 * stride] = (g0 - g1 + g2) / 6;
  out[o + 3 * stride] = (even + 2 * g1) / 24;
  out[o + 4 * stride] = (even - 2 * g1) / 24;
  out[o + 5 * stride] = g2;
}

/** G g Gᵀ for a filter [3, 3, channelsIn, channelsOut]: 36 planes [channelsIn, channelsOut]. */
function filterTiles(filter: Float32Array, planes: Float32Array[], pairs: number): void {
  const down = new Float32Array(TILE * 3);
  const tile = new Float32Array(ELEMENTS);
  for (let at = 0; at < pairs; at++) {
    for (let kx = 0; kx < 3; kx++) filterColumn(filter, at + kx * pairs, 3 * pairs, down, kx, 3);
    for (let i = 0; i < TILE; i++) filterColumn(down, 3 * i, 1, tile, TILE * i, 1);
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
  const rows = new Float32Array(OUT * TILE * c);
  const planeColumns = [0, 1, 2, 3, 4, 5].map((j) =>
    [0, 1, 2, 3, 4, 5].map((i) => planes[TILE * i + j])
  );
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      const outRows = Math.min(OUT, height - OUT * ty);
      for (let tx = 0; tx < tilesWide; tx++, at += c) {
        const outColumns = Math.min(OUT, width - OUT * tx);
        for (let j = 0; j < TILE; j++) {
          const [m0, m1, m2, m3, m4, m5] = planeColumns[j];
          for (let k = 0; k < c; k++) {
            const o = at + k;
            const s12 = m1[o] + m2[o], d12 = m1[o] - m2[o];
            const s34 = m3[o] + m4[o], d34 = m3[o] - m4[o];
            const q = j * c + k, s = TILE * c;
            rows[q] = m0[o] + s12 + s34;
            rows[q + s] = d12 + 2 * d34;
            rows[q + 2 * s] = s12 + 4 * s34;
            rows[q + 3 * s] = d12 + 8 * d34 + m5[o];
          }
        }
        let y = ((b * height + OUT * ty) * width + OUT * tx) * c;
        for (let i = 0; i < outRows; i++, y += width * c) {
          const row = i * TILE * c;
          for (let k = 0; k < c; k++) {
            const q = row + k;
            const m1 = rows[q + c], m2 = rows[q + 2 * c], m3 = rows[q + 3 * c];
            const m4 = rows[q + 4 * c];
            const s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
            const shift = bias[k];
            output[y + k] = activate(rows[q] + s12 + s34 + shift, relu);
            if (outColumns > 1) output[y + c + k] = activate(d12 + 2 * d34 + shift, relu);
            if (outColumns > 2) output[y + 2 * c + k] = activate(s12 + 4 * s34 + shift, relu);
            if (outColumns > 3) {
              output[y + 3 * c + k] = activate(d12 + 8 * d34 + rows[q + 5 * c] + shift, relu);
            }
          }
        }
      }
    }
  }
}

/** A dY Aᵀ for every 4×4 tile of `dy` [batch, 4·tilesHigh, 4·tilesWide, channels]. */
function gradientTiles(
  dy: Float32Array,
  planes: Float32Array[],
  layout: TileLayout,
): void {
  const { grid: { batch, tilesHigh, tilesWide }, channels: c } = layout;
  const rowStride = OUT * tilesWide * c;
  const across = new Float32Array(OUT * TILE * c);
  const planeColumns = [0, 1, 2, 3, 4, 5].map((j) =>
    [0, 1, 2, 3, 4, 5].map((i) => planes[TILE * i + j])
  );
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, at += c) {
        const corner = ((b * OUT * tilesHigh + OUT * ty) * OUT * tilesWide + OUT * tx) * c;
        for (let i = 0; i < OUT; i++) {
          const from = corner + i * rowStride;
          for (let k = 0; k < c; k++) {
            const p = from + k;
            const y0 = dy[p], y1 = dy[p + c], y2 = dy[p + 2 * c], y3 = dy[p + 3 * c];
            const even = y0 + 4 * y2, odd = 2 * y1 + 8 * y3;
            const q = i * TILE * c + k;
            across[q] = y0;
            across[q + c] = y0 + y1 + y2 + y3;
            across[q + 2 * c] = y0 - y1 + y2 - y3;
            across[q + 3 * c] = even + odd;
            across[q + 4 * c] = even - odd;
            across[q + 5 * c] = y3;
          }
        }
        for (let j = 0; j < TILE; j++) {
          const [w0, w1, w2, w3, w4, w5] = planeColumns[j];
          for (let k = 0; k < c; k++) {
            const q = j * c + k, s = TILE * c;
            const y0 = across[q], y1 = across[q + s], y2 = across[q + 2 * s];
            const y3 = across[q + 3 * s];
            const even = y0 + 4 * y2, odd = 2 * y1 + 8 * y3;
            const o = at + k;
            w0[o] = y0;
            w1[o] = y0 + y1 + y2 + y3;
            w2[o] = y0 - y1 + y2 - y3;
            w3[o] = even + odd;
            w4[o] = even - odd;
            w5[o] = y3;
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
  out[o + 2 * stride] = sum12 + sum34 / 6 + m5;
}

/** Gᵀ m G: the filter gradient [3, 3, channelsIn, channelsOut] from 36 planes [channelsIn, channelsOut]. */
function filterGradientFromTiles(planes: Float32Array[], gradient: Float32Array, pairs: number) {
  const tile = new Float32Array(ELEMENTS);
  const down = new Float32Array(3 * TILE);
  const taps = new Float32Array(9);
  for (let at = 0; at < pairs; at++) {
    for (let e = 0; e < ELEMENTS; e++) tile[e] = planes[e][at];
    for (let j = 0; j < TILE; j++) gradientColumn(tile, j, TILE, down, j, TILE);
    for (let ky = 0; ky < 3; ky++) gradientColumn(down, TILE * ky, 1, taps, 3 * ky, 1);
    for (let tap = 0; tap < 9; tap++) gradient[tap * pairs + at] = taps[tap];
  }
}

/** Winograd's F(4×4, 3×3). */
export const F4X4_3X3: WinogradScheme = {
  filterSize: 3,
  outputSize: OUT,
  tileSize: TILE,
  inputTiles: sixPointInputTiles,
  filterTiles,
  outputTiles,
  gradientTiles,
  filterGradientFromTiles,
};
