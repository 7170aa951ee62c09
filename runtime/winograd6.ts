import type { TileLayout } from "./winograd.ts";

/**
 * The input transform Bᵀ d B of Winograd's algorithms with 6×6 input tiles
 * built from the points 0, ±1, ±2 and ∞: F(2×2, 5×5) and F(4×4, 3×3) share it.
 *   Bᵀ = [4 0 −5 0 1 0; 0 4 4 −1 −1 0; 0 −4 4 1 −1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
 * Applied as two 1-D passes (tile rows, then tile columns), channels innermost.
 */
const TILE = 6;
const ELEMENTS = TILE * TILE;

/**
 * Bᵀ d B for every 6×6 tile of `padded` [batch, m·tilesHigh + 6 − m,
 * m·tilesWide + 6 − m, channels], tiles m = `grid.step` apart: 36 planes
 * [tiles, channels].
 */
export function sixPointInputTiles(
  padded: Float32Array,
  planes: Float32Array[],
  layout: TileLayout,
): void {
  const { grid: { batch, step, tilesHigh, tilesWide }, channels: c } = layout;
  const rows = step * tilesHigh + TILE - step;
  const columns = step * tilesWide + TILE - step;
  const r = columns * c;
  const across = new Float32Array(ELEMENTS * c);
  const planeRows = [0, 1, 2, 3, 4, 5].map((i) => planes.slice(TILE * i, TILE * i + TILE));
  let at = 0;
  for (let b = 0; b < batch; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, at += c) {
        const corner = ((b * rows + step * ty) * columns + step * tx) * c;
        for (let j = 0; j < TILE; j++) {
          const from = corner + j * c;
          for (let k = 0; k < c; k++) {
            const p = from + k;
            const d0 = padded[p], d1 = padded[p + r], d2 = padded[p + 2 * r];
            const d3 = padded[p + 3 * r], d4 = padded[p + 4 * r], d5 = padded[p + 5 * r];
            const q = j * c + k, s = TILE * c;
            across[q] = 4 * d0 - 5 * d2 + d4;
            across[q + s] = 4 * (d1 + d2) - d3 - d4;
            across[q + 2 * s] = 4 * (d2 - d1) + d3 - d4;
            across[q + 3 * s] = 2 * (d3 - d1) + d4 - d2;
            across[q + 4 * s] = 2 * (d1 - d3) + d4 - d2;
            across[q + 5 * s] = 4 * d1 - 5 * d3 + d5;
          }
        }
        for (let i = 0; i < TILE; i++) {
          const [v0, v1, v2, v3, v4, v5] = planeRows[i];
          const row = i * TILE * c;
          for (let k = 0; k < c; k++) {
            const q = row + k;
            const d0 = across[q], d1 = across[q + c], d2 = across[q + 2 * c];
            const d3 = across[q + 3 * c], d4 = across[q + 4 * c], d5 = across[q + 5 * c];
            const o = at + k;
            v0[o] = 4 * d0 - 5 * d2 + d4;
            v1[o] = 4 * (d1 + d2) - d3 - d4;
            v2[o] = 4 * (d2 - d1) + d3 - d4;
            v3[o] = 2 * (d3 - d1) + d4 - d2;
            v4[o] = 2 * (d1 - d3) + d4 - d2;
            v5[o] = 4 * d1 - 5 * d3 + d5;
          }
        }
      }
    }
  }
}
