/**
 * The per-tile transforms of the Toom–Cook schemes (see `toom_cook.ts`) as
 * WebAssembly SIMD functions on tfjs's wasm heap, each over a run of tiles
 * along a row, four channels at a time: a tile's two 1-D passes (down, then
 * across) run in locals, between the image's pixels and the planes, so
 * JavaScript calls the heap once per row of tiles instead of twice per row
 * of every tile. Sums are in float32, each term added in the order of the
 * matrix's columns (the JavaScript passes sum in float64 and round once).
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";
import {
  addressOf,
  advance,
  cachedModule,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  type KernelFunction,
  op,
  V128,
  vectorLoop,
} from "../simd_module.ts";

/** Where a kernel's image side lies: bytes from one of its rows, and pixels, to the next. */
export interface ImageGeometry {
  rowBytes: number;
  pixelBytes: number;
}

/**
 * A run of tiles along a row: the image address of the first tile's corner,
 * the bytes from one tile's corner to the next's, the tile count, the
 * channels' bytes (a multiple of 16), the first tile's byte offset within
 * each plane (its index times the channels' bytes), the bias's address (the
 * output transform only; zeros for none) and the planes' addresses.
 */
export interface TileRun {
  image: number;
  step: number;
  tiles: number;
  bytes: number;
  planeAt: number;
  bias: number;
  planes: number[];
}

/** A kernel over a {@link TileRun}. */
export type TileKernel = (run: TileRun) => void;

/** Parameters every kernel takes, in order; the planes' addresses follow. */
const [IMAGE, STEP, TILES, BYTES, PLANE_AT, BIAS] = [0, 1, 2, 3, 4, 5];
const FIRST_PLANE = 6;

/** Σₛ entries[s] · value(s) in float32, terms in column order (zeros left out, ±1 without a product). */
function combination(
  entries: number[],
  value: (s: number) => Instruction[],
  weight: (w: number) => Instruction[],
): Instruction[] {
  const terms = entries.flatMap((w, s) => w === 0 ? [] : [[w, s]]);
  if (terms.length === 0) return [op.f32Const(0), op.f32x4Splat];
  return terms.flatMap(([w, s], i): Instruction[] => {
    const first = i === 0;
    if (w === 1) return first ? value(s) : [...value(s), op.f32x4Add];
    if (w === -1) return [...value(s), first ? op.f32x4Neg : op.f32x4Sub];
    const product = [...value(s), ...weight(w), op.f32x4Mul];
    return first ? product : [...product, op.f32x4Add];
  });
}

/** Allocates a kernel's locals after its parameters and splats its matrix's weights once. */
class Locals {
  readonly types: number[] = [];
  readonly prologue: Instruction[] = [];
  private readonly weights = new Map<number, number>();

  constructor(private readonly params: number) {}

  /** A fresh local of `type`. */
  add(type: number): number {
    this.types.push(type);
    return this.params + this.types.length - 1;
  }

  /** The local holding `w` in every lane (splatted in the prologue). */
  weight(w: number): Instruction[] {
    let local = this.weights.get(w);
    if (local === undefined) {
      local = this.add(V128);
      this.weights.set(w, local);
      this.prologue.push(op.f32Const(w), op.f32x4Splat, op.localSet(local));
    }
    return [op.localGet(local)];
  }
}

/**
 * `perVector` for each four channels of each tile of the run, with `at`
 * the channels' byte offset; after each tile the image address moves one
 * step and the planes' offset one tile on.
 */
function overTiles(at: number, perVector: Instruction[]): Instruction[] {
  return countedLoop({
    count: TILES,
    body: [
      op.i32Const(0),
      op.localSet(at),
      ...vectorLoop({ at, bytes: BYTES, body: perVector }),
      ...advance(IMAGE, op.localGet(STEP)),
      ...advance(PLANE_AT, op.localGet(BYTES)),
    ],
  });
}

/** The address `a + b` of two locals into `target`. */
function sumInto(target: number, a: number, b: number): Instruction[] {
  return [...addressOf(a, b), op.localSet(target)];
}

/**
 * M d Mᵀ from the image's n × n region at each tile's corner into the
 * planes (M is `matrix`, k × n; plane i·k + j gets element (i, j)): the input
 * transform Bᵀ d B, and the output gradient's A dY Aᵀ.
 */
function imageToPlanes(matrix: number[][], image: ImageGeometry): KernelFunction {
  const [k, n] = [matrix.length, matrix[0].length];
  const locals = new Locals(FIRST_PLANE + k * k);
  const [at, from, to] = [locals.add(I32), locals.add(I32), locals.add(I32)];
  const column = Array.from({ length: n }, () => locals.add(V128));
  const down = Array.from({ length: k * n }, () => locals.add(V128));
  const weight = (w: number) => locals.weight(w);
  const perVector: Instruction[] = [...sumInto(from, IMAGE, at), ...sumInto(to, PLANE_AT, at)];
  for (let j = 0; j < n; j++) {
    column.forEach((local, r) => {
      const offset = r * image.rowBytes + j * image.pixelBytes;
      perVector.push(op.localGet(from), op.v128LoadOffset(offset), op.localSet(local));
    });
    matrix.forEach((entries, i) => {
      const value = (s: number) => [op.localGet(column[s])];
      perVector.push(...combination(entries, value, weight), op.localSet(down[i * n + j]));
    });
  }
  for (let i = 0; i < k; i++) {
    matrix.forEach((entries, t) => {
      const value = (s: number) => [op.localGet(down[i * n + s])];
      perVector.push(
        op.localGet(FIRST_PLANE + i * k + t),
        op.localGet(to),
        op.i32Add,
        ...combination(entries, value, weight),
        op.v128Store,
      );
    });
  }
  return {
    name: "toPlanes",
    params: Array(FIRST_PLANE + k * k).fill(I32),
    locals: locals.types,
    code: [...locals.prologue, ...overTiles(at, perVector)],
  };
}

/**
 * M p Mᵀ from the planes into the image's `rows` × `columns` region at each
 * tile's corner (M is `matrix`, m × α; plane i·α + j holds element (i, j)),
 * plus the bias and through a ReLU if `relu`: the output transform Aᵀ m A,
 * of whole tiles and of those the image's edge cuts.
 */
function planesToImage(
  matrix: number[][],
  image: ImageGeometry,
  cut: { rows: number; columns: number; relu: boolean },
): KernelFunction {
  const alpha = matrix[0].length;
  const locals = new Locals(FIRST_PLANE + alpha * alpha);
  const [at, from, to] = [locals.add(I32), locals.add(I32), locals.add(I32)];
  const [bias, zero] = [locals.add(V128), locals.add(V128)];
  const column = Array.from({ length: alpha }, () => locals.add(V128));
  const down = Array.from({ length: cut.rows * alpha }, () => locals.add(V128));
  const weight = (w: number) => locals.weight(w);
  const perVector: Instruction[] = [
    ...sumInto(from, PLANE_AT, at),
    ...sumInto(to, IMAGE, at),
    op.localGet(BIAS),
    op.localGet(at),
    op.i32Add,
    op.v128Load,
    op.localSet(bias),
  ];
  for (let j = 0; j < alpha; j++) {
    column.forEach((local, s) => {
      perVector.push(
        op.localGet(FIRST_PLANE + s * alpha + j),
        op.localGet(from),
        op.i32Add,
        op.v128Load,
        op.localSet(local),
      );
    });
    for (let i = 0; i < cut.rows; i++) {
      const value = (s: number) => [op.localGet(column[s])];
      perVector.push(...combination(matrix[i], value, weight), op.localSet(down[i * alpha + j]));
    }
  }
  for (let i = 0; i < cut.rows; i++) {
    for (let t = 0; t < cut.columns; t++) {
      const value = (s: number) => [op.localGet(down[i * alpha + s])];
      perVector.push(
        op.localGet(to),
        ...combination(matrix[t], value, weight),
        op.localGet(bias),
        op.f32x4Add,
        ...(cut.relu ? [op.localGet(zero), op.f32x4Pmax] : []),
        op.v128StoreOffset(i * image.rowBytes + t * image.pixelBytes),
      );
    }
  }
  return {
    name: outputKernelName(cut),
    params: Array(FIRST_PLANE + alpha * alpha).fill(I32),
    locals: locals.types,
    code: [...locals.prologue, ...overTiles(at, perVector)],
  };
}

function outputKernelName(cut: { rows: number; columns: number; relu: boolean }): string {
  return `toImage${cut.rows}x${cut.columns}${cut.relu ? "relu" : ""}`;
}

/** Calls `f` with a run's fields as its parameters. */
function asTileKernel(f: unknown): TileKernel {
  const kernel = f as (...args: number[]) => void;
  const args: number[] = [];
  return (run) => {
    args.length = 0;
    args.push(run.image, run.step, run.tiles, run.bytes, run.planeAt, run.bias, ...run.planes);
    Reflect.apply(kernel, undefined, args);
  };
}

/**
 * The kernel of M d Mᵀ from an image (rows and pixels `image` apart) to
 * planes on `heap` (see {@link imageToPlanes}), if the heap can be reached.
 */
export function toPlanesKernel(
  heap: WasmHeap,
  matrix: number[][],
  image: ImageGeometry,
): TileKernel | undefined {
  const key = `winograd:${JSON.stringify({ matrix, image })}`;
  const kernels = heapKernels(heap, cachedModule(key, () => [imageToPlanes(matrix, image)]));
  return kernels && asTileKernel(kernels.toPlanes);
}

/**
 * The kernels of M p Mᵀ from planes to an image on `heap` (see
 * {@link planesToImage}), by the rows and columns of the tile the image
 * keeps, with a ReLU or without; undefined if the heap cannot be reached.
 */
export function toImageKernels(
  heap: WasmHeap,
  matrix: number[][],
  image: ImageGeometry,
): ((cut: { rows: number; columns: number; relu: boolean }) => TileKernel) | undefined {
  const m = matrix.length;
  const key = `winograd:${JSON.stringify({ matrix, image, output: true })}`;
  const binary = cachedModule(
    key,
    () =>
      [false, true].flatMap((relu) =>
        Array.from(
          { length: m * m },
          (_, c) =>
            planesToImage(matrix, image, {
              rows: Math.floor(c / m) + 1,
              columns: (c % m) + 1,
              relu,
            }),
        )
      ),
  );
  const kernels = heapKernels(heap, binary);
  if (kernels === undefined) return undefined;
  const wrapped = new Map<string, TileKernel>();
  return (cut) => {
    const name = outputKernelName(cut);
    let kernel = wrapped.get(name);
    if (kernel === undefined) {
      kernel = asTileKernel(kernels[name]);
      wrapped.set(name, kernel);
    }
    return kernel;
  };
}
