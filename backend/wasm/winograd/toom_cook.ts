import { activate, type OutputLayout, type TileLayout, type WinogradScheme } from "./tiles.ts";
import { gradientTilesBySimd, inputTilesBySimd, outputTilesBySimd } from "./heap_transforms.ts";

/**
 * Winograd's F(m×m, r×r) for any m and r: its matrices built by the
 * Toom–Cook method from α − 1 finite points and ∞ (α = m + r − 1), its
 * transforms two 1-D passes of a matrix each (down the tile, then across),
 * compiled to JavaScript with the channels innermost, and the per-tile ones
 * also to WebAssembly SIMD on the heap (`heap_transforms.ts`).
 *
 * @module
 */

/** The three matrices of F(m, r) (row-major): Aᵀ [m, α], G [α, r], Bᵀ [α, α]. */
export interface ToomCookMatrices {
  outputTransposed: number[][];
  filter: number[][];
  inputTransposed: number[][];
}

/** Coefficients (constant term first) of Π (x − root) over `roots`. */
function polynomialWithRoots(roots: number[]): number[] {
  let coefficients = [1];
  for (const root of roots) {
    const next = new Array(coefficients.length + 1).fill(0);
    coefficients.forEach((c, i) => {
      next[i] -= root * c;
      next[i + 1] += c;
    });
    coefficients = next;
  }
  return coefficients;
}

/**
 * Aᵀ, G and Bᵀ of F(m, r) on `points` (α − 1 distinct finite points; ∞ is
 * the last): Aᵀ[i][j] = pⱼⁱ, G[j][k] = pⱼᵏ / Πₗ≠ⱼ (pⱼ − pₗ), and row j of
 * Bᵀ the coefficients of Πₗ≠ⱼ (x − pₗ), its last row those of Πₗ (x − pₗ).
 */
export function toomCookMatrices(
  outputSize: number,
  filterSize: number,
  points: number[],
): ToomCookMatrices {
  const tile = outputSize + filterSize - 1;
  if (points.length !== tile - 1) {
    throw new Error(`F(${outputSize}, ${filterSize}) needs ${tile - 1} points`);
  }
  const outputTransposed = Array.from({ length: outputSize }, (_, i) => [
    ...points.map((p) => p ** i),
    i === outputSize - 1 ? 1 : 0,
  ]);
  const filter = [
    ...points.map((p, j) => {
      const scale = points.reduce((product, q, l) => l === j ? product : product * (p - q), 1);
      return Array.from({ length: filterSize }, (_, k) => p ** k / scale);
    }),
    Array.from({ length: filterSize }, (_, k) => k === filterSize - 1 ? 1 : 0),
  ];
  const inputTransposed = [
    ...points.map((_, j) => [...polynomialWithRoots(points.filter((_, l) => l !== j)), 0]),
    polynomialWithRoots(points),
  ];
  return { outputTransposed, filter, inputTransposed };
}

/** `matrix` transposed. */
function transposed(matrix: number[][]): number[][] {
  return matrix[0].map((_, j) => matrix.map((row) => row[j]));
}

/**
 * One 1-D pass of a matrix M over `count` channels: for k < count,
 * outs[t][outAt[t] + k] = Σₛ M[t][s] · ins[s][inAt[s] + k]. Vectors are
 * given as an array and an offset each, so that a pass reads or writes a
 * strided run of one array or the same place of several planes alike.
 */
type Pass = (
  ins: Float32Array[],
  inAt: number[],
  outs: Float32Array[],
  outAt: number[],
  count: number,
) => void;

/**
 * `matrix`'s pass compiled to JavaScript with its entries as constants
 * (zeros left out, ±1 without a product): a loop over the entries took
 * five times as long as the transforms written out by hand.
 */
function compilePass(matrix: number[][]): Pass {
  const used = matrix[0].map((_, s) => s).filter((s) => matrix.some((row) => row[s] !== 0));
  const term = (weight: number, s: number) =>
    weight === 1 ? `+ d${s}` : weight === -1 ? `- d${s}` : `+ ${weight} * d${s}`;
  const body = [
    ...used.map((s) => `const in${s} = ins[${s}], at${s} = inAt[${s}];`),
    ...matrix.map((_, t) => `const out${t} = outs[${t}], to${t} = outAt[${t}];`),
    "for (let k = 0; k < count; k++) {",
    ...used.map((s) => `  const d${s} = in${s}[at${s} + k];`),
    ...matrix.map((row, t) => {
      const terms = row.flatMap((weight, s) => weight === 0 ? [] : [term(weight, s)]);
      return `  out${t}[to${t} + k] = ${terms.length === 0 ? "0" : terms.join(" ")};`;
    }),
    "}",
  ];
  return new Function("ins", "inAt", "outs", "outAt", "count", body.join("\n")) as Pass;
}

/**
 * Writes `floats` values from `across` (a row of output pixels, channels
 * innermost) into `row` from `at`, each plus its channel's bias and through
 * a ReLU if asked.
 */
type FinishRow = (
  row: Float32Array,
  at: number,
  across: Float32Array,
  bias: Float32Array,
  floats: number,
  relu: boolean,
) => void;

const finishRow: FinishRow = (row, at, across, bias, floats, relu) => {
  for (let i = 0; i < floats;) {
    for (let k = 0; k < bias.length; k++, i++) {
      row[at + i] = activate(across[i] + bias[k], relu);
    }
  }
};

/** Offsets `first`, `first + step`, … (`length` of them) written into `offsets`. */
function strided(offsets: number[], first: number, step: number): number[] {
  for (let i = 0; i < offsets.length; i++) offsets[i] = first + i * step;
  return offsets;
}

/** Winograd's F(m×m, r×r) on the Toom–Cook points `points` (see {@link toomCookMatrices}). */
export function toomCookScheme(
  outputSize: number,
  filterSize: number,
  points: number[],
): WinogradScheme {
  return new ToomCookScheme(outputSize, filterSize, points);
}

/** The transforms that run once per tile, and run as SIMD kernels on the heap where they can. */
type TileTransform = "input" | "output" | "gradient";

/**
 * The five transforms of F(m×m, r×r) by the matrices of {@link toomCookMatrices}:
 * each two passes of a matrix (down the tile, then across), compiled once.
 * The offset arrays and the scratch are kept from call to call.
 */
class ToomCookScheme implements WinogradScheme {
  readonly tileSize: number;
  /** Matrices of the per-tile transforms: Bᵀ, Aᵀ, and A for the output gradient. */
  private readonly tileMatrices: Record<TileTransform, number[][]>;
  /** Their JavaScript passes. */
  private readonly compiled: Record<TileTransform, Pass>;
  /** G's pass, and Gᵀ's (the filter gradient). */
  private readonly filterPass: Pass;
  private readonly filterGradientPass: Pass;
  /** Offsets of the vectors a pass reads or writes: α, α, r and m of them. */
  private readonly tileIn: number[];
  private readonly tileOut: number[];
  private readonly filterIn: number[];
  private readonly outputOut: number[];
  /** 0, 1, … α − 1. */
  private readonly tileIndices: number[];
  /**
   * The JavaScript scratch arrays, kept from call to call: conv2's filter
   * transform alone needs 3.9 MB, and fresh pages cost a fault each (15–20 K
   * faults a pass when allocated per call).
   */
  private readonly buffers = [new Float32Array(0), new Float32Array(0)];

  constructor(readonly outputSize: number, readonly filterSize: number, points: number[]) {
    const matrices = toomCookMatrices(outputSize, filterSize, points);
    this.tileSize = outputSize + filterSize - 1;
    this.tileMatrices = {
      input: matrices.inputTransposed,
      output: matrices.outputTransposed,
      gradient: transposed(matrices.outputTransposed),
    };
    const names = Object.keys(this.tileMatrices) as TileTransform[];
    this.compiled = Object.fromEntries(
      names.map((name) => [name, compilePass(this.tileMatrices[name])]),
    ) as Record<TileTransform, Pass>;
    this.filterPass = compilePass(matrices.filter);
    this.filterGradientPass = compilePass(transposed(matrices.filter));
    [this.tileIn, this.tileOut] = [
      new Array(this.tileSize).fill(0),
      new Array(this.tileSize).fill(0),
    ];
    [this.filterIn, this.outputOut] = [
      new Array(filterSize).fill(0),
      new Array(outputSize).fill(0),
    ];
    this.tileIndices = Array.from({ length: this.tileSize }, (_, i) => i);
  }

  /** Bᵀ d B for every α×α tile of `padded`, tiles m apart: rows, then columns. */
  inputTiles(padded: Float32Array, planes: Float32Array[], layout: TileLayout): void {
    if (inputTilesBySimd(this.tileMatrices.input, { padded, planes, layout })) return;
    const { tileSize, tileIn, tileOut } = this;
    const { grid: { batch, step, tilesHigh, tilesWide }, channels: c } = layout;
    const inputPass = this.compiled.input;
    const columns = step * tilesWide + tileSize - step;
    const rows = step * tilesHigh + tileSize - step;
    const down = this.scratch(0, tileSize * tileSize * c);
    const [paddedIns, downs] = [same(padded, tileSize), same(down, tileSize)];
    const planeRows = this.planeRowsOf(planes);
    let at = 0;
    for (let b = 0; b < batch; b++) {
      for (let ty = 0; ty < tilesHigh; ty++) {
        for (let tx = 0; tx < tilesWide; tx++, at += c) {
          const corner = ((b * rows + step * ty) * columns + step * tx) * c;
          for (let j = 0; j < tileSize; j++) {
            strided(tileIn, corner + j * c, columns * c);
            inputPass(paddedIns, tileIn, downs, strided(tileOut, j * c, tileSize * c), c);
          }
          tileOut.fill(at);
          for (let i = 0; i < tileSize; i++) {
            strided(tileIn, i * tileSize * c, c);
            inputPass(downs, tileIn, planeRows[i], tileOut, c);
          }
        }
      }
    }
  }

  /** G g Gᵀ for a filter [r, r, channelsIn, channelsOut]. */
  filterTiles(filter: Float32Array, planes: Float32Array[], pairs: number): void {
    const { tileSize, filterSize, filterIn, tileOut, filterPass } = this;
    const down = this.scratch(0, tileSize * filterSize * pairs);
    const [filters, downs] = [same(filter, filterSize), same(down, tileSize)];
    for (let kx = 0; kx < filterSize; kx++) {
      strided(filterIn, kx * pairs, filterSize * pairs);
      filterPass(filters, filterIn, downs, strided(tileOut, kx * pairs, filterSize * pairs), pairs);
    }
    const downIns = same(down, filterSize);
    const planeRows = this.planeRowsOf(planes);
    tileOut.fill(0);
    for (let i = 0; i < tileSize; i++) {
      strided(filterIn, i * filterSize * pairs, pairs);
      filterPass(downIns, filterIn, planeRows[i], tileOut, pairs);
    }
  }

  /** Aᵀ m A for every tile, plus `bias` and a ReLU if asked: columns, then rows. */
  outputTiles(planes: Float32Array[], output: Float32Array, layout: OutputLayout): void {
    if (outputTilesBySimd(this.tileMatrices.output, { planes, output, layout })) return;
    const { tileSize, outputSize, tileIn, outputOut } = this;
    const { grid: { batch, height, width, tilesHigh, tilesWide }, channels: c, bias, relu } =
      layout;
    const outputPass = this.compiled.output;
    const down = this.scratch(0, outputSize * tileSize * c);
    const across = this.scratch(1, outputSize * c);
    const [downs, downIns, acrosses] = [
      same(down, outputSize),
      same(down, tileSize),
      same(across, outputSize),
    ];
    const planeColumns = this.planeColumnsOf(planes);
    let at = 0;
    for (let b = 0; b < batch; b++) {
      for (let ty = 0; ty < tilesHigh; ty++) {
        const outRows = Math.min(outputSize, height - outputSize * ty);
        for (let tx = 0; tx < tilesWide; tx++, at += c) {
          const outColumns = Math.min(outputSize, width - outputSize * tx);
          tileIn.fill(at);
          for (let j = 0; j < tileSize; j++) {
            outputPass(planeColumns[j], tileIn, downs, strided(outputOut, j * c, tileSize * c), c);
          }
          for (let i = 0; i < outRows; i++) {
            strided(tileIn, i * tileSize * c, c);
            outputPass(downIns, tileIn, acrosses, strided(outputOut, 0, c), c);
            const y = ((b * height + outputSize * ty + i) * width + outputSize * tx) * c;
            finishRow(output, y, across, bias, outColumns * c, relu);
          }
        }
      }
    }
  }

  /** A dY Aᵀ for every m×m tile of `dy` [batch, m·tilesHigh, m·tilesWide, channels]. */
  gradientTiles(dy: Float32Array, planes: Float32Array[], layout: TileLayout): void {
    if (gradientTilesBySimd(this.tileMatrices.gradient, { dy, planes, layout })) return;
    const { tileSize, outputSize, tileOut, outputOut } = this;
    const { grid: { batch, tilesHigh, tilesWide }, channels: c } = layout;
    const gradientPass = this.compiled.gradient;
    const rowStride = outputSize * tilesWide * c;
    const down = this.scratch(0, tileSize * outputSize * c);
    const [dys, downs, downIns] = [
      same(dy, outputSize),
      same(down, tileSize),
      same(down, outputSize),
    ];
    const planeRows = this.planeRowsOf(planes);
    let at = 0;
    for (let b = 0; b < batch; b++) {
      for (let ty = 0; ty < tilesHigh; ty++) {
        for (let tx = 0; tx < tilesWide; tx++, at += c) {
          const corner = (b * tilesHigh + ty) * outputSize * rowStride + outputSize * tx * c;
          for (let j = 0; j < outputSize; j++) {
            strided(outputOut, corner + j * c, rowStride);
            gradientPass(dys, outputOut, downs, strided(tileOut, j * c, outputSize * c), c);
          }
          tileOut.fill(at);
          for (let i = 0; i < tileSize; i++) {
            strided(outputOut, i * outputSize * c, c);
            gradientPass(downIns, outputOut, planeRows[i], tileOut, c);
          }
        }
      }
    }
  }

  /** Gᵀ m G: the filter gradient [r, r, channelsIn, channelsOut]. */
  filterGradientFromTiles(planes: Float32Array[], gradient: Float32Array, pairs: number): void {
    const { tileSize, filterSize, tileIn, filterIn, filterGradientPass } = this;
    const down = this.scratch(0, filterSize * tileSize * pairs);
    const [downs, downIns, gradients] = [
      same(down, filterSize),
      same(down, tileSize),
      same(gradient, filterSize),
    ];
    const planeColumns = this.planeColumnsOf(planes);
    tileIn.fill(0);
    for (let j = 0; j < tileSize; j++) {
      const taps = strided(filterIn, j * pairs, tileSize * pairs);
      filterGradientPass(planeColumns[j], tileIn, downs, taps, pairs);
    }
    for (let ky = 0; ky < filterSize; ky++) {
      strided(tileIn, ky * tileSize * pairs, pairs);
      const taps = strided(filterIn, ky * filterSize * pairs, pairs);
      filterGradientPass(downIns, tileIn, gradients, taps, pairs);
    }
  }

  /** JavaScript scratch array `which` (0 or 1), at least `length` long (see `buffers`). */
  private scratch(which: number, length: number): Float32Array {
    if (this.buffers[which].length < length) this.buffers[which] = new Float32Array(length);
    return this.buffers[which];
  }

  /** The planes of each row of the tile. */
  private planeRowsOf(planes: Float32Array[]): Float32Array[][] {
    const { tileSize } = this;
    return this.tileIndices.map((i) => planes.slice(i * tileSize, (i + 1) * tileSize));
  }

  /** The planes of each column of the tile. */
  private planeColumnsOf(planes: Float32Array[]): Float32Array[][] {
    const { tileSize, tileIndices } = this;
    return tileIndices.map((j) => tileIndices.map((i) => planes[i * tileSize + j]));
  }
}

/** `length` references to `array`: the input or output vectors of a pass within one array. */
function same(array: Float32Array, length: number): Float32Array[] {
  return new Array(length).fill(array);
}
