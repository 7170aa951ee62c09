/**
 * im2col rows (see `im2col.ts`) built by a WebAssembly SIMD kernel on
 * tfjs's wasm heap, one call per row of output pixels: each filter row of a
 * patch is one run of the input, copied four floats at a time, the last
 * four overlapping the previous ones where the run is not a multiple of
 * four (the stems' 7 floats, AlexNet's conv1's 11). In JavaScript each run
 * of fewer than 64 floats went element by element. The inverse, adding
 * each patch row back onto its window (a strided convolution's input
 * gradient), runs alike, the last floats of a run short of four one by one.
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";
import {
  advance,
  cachedModule,
  chunkOffsets,
  countedLoop,
  heapKernels,
  I32,
  type Instruction,
  op,
} from "../simd_module.ts";

/** What the row kernel is generated for. */
export interface PatchGeometry {
  /** Floats per filter row of a patch (filter width × channels), at least 4. */
  run: number;
  filterHeight: number;
  /** Bytes from one row of the padded input to the next. */
  rowBytes: number;
  /** Whether each patch row ends with a 1 (a bias column). */
  ones: boolean;
}

/**
 * `row(from, to, pixels, step)`: the patch rows of `pixels` windows
 * `step` bytes apart from `from`, written from `to` on; the adding kernel
 * reads the rows from `from` and adds them onto the windows from `to` on.
 */
export type PatchRowKernel = (from: number, to: number, pixels: number, step: number) => void;

const [FROM, TO, PIXELS, STEP] = [0, 1, 2, 3];

/** One pixel's copies of its window's runs into its patch row. */
function copyPixel({ run, filterHeight, rowBytes, ones }: PatchGeometry): Instruction[] {
  const code: Instruction[] = [];
  for (let ky = 0; ky < filterHeight; ky++) {
    for (const offset of chunkOffsets(run)) {
      code.push(
        op.localGet(TO),
        op.localGet(FROM),
        op.v128LoadOffset(ky * rowBytes + offset),
        op.v128StoreOffset(4 * ky * run + offset),
      );
    }
  }
  const last = 4 * run * filterHeight;
  if (ones) code.push(op.localGet(TO), op.f32Const(1), op.f32StoreOffset(last));
  return code;
}

/**
 * `target[offset] += source[offset]` for the windows' side at `window` and
 * the patch's at `patch` (byte offsets from `TO` and `FROM`), for `lanes`
 * floats: 4 (a vector) or 1.
 */
function addAt(window: number, patch: number, lanes: 1 | 4): Instruction[] {
  const [load, add, store] = lanes === 4
    ? [op.v128LoadOffset, op.f32x4Add, op.v128StoreOffset]
    : [op.f32LoadOffset, op.f32Add, op.f32StoreOffset];
  return [
    op.localGet(TO),
    op.localGet(TO),
    load(window),
    op.localGet(FROM),
    load(patch),
    add,
    store(window),
  ];
}

/**
 * One pixel's patch row (from `FROM`) added onto its window's runs (from
 * `TO`): four floats at a time, the last one to three one by one (the
 * chunks of a copy may overlap; those of a sum may not).
 */
function addPixel({ run, filterHeight, rowBytes }: PatchGeometry): Instruction[] {
  const code: Instruction[] = [];
  for (let ky = 0; ky < filterHeight; ky++) {
    for (let at = 0; at < run; at += at + 4 <= run ? 4 : 1) {
      const lanes = at + 4 <= run ? 4 : 1;
      code.push(...addAt(ky * rowBytes + 4 * at, 4 * (ky * run + at), lanes));
    }
  }
  return code;
}

/**
 * The row kernel: per pixel, `perPixel`; then the window side moves `STEP`
 * bytes and the patch side one row. The copy writes the patch side (`TO`)
 * and reads the windows (`FROM`); the adding kernel the other way round.
 */
function patchModule(geometry: PatchGeometry, adding: boolean): Uint8Array<ArrayBuffer> {
  const { run, filterHeight, ones } = geometry;
  const rowFloats = run * filterHeight + (ones ? 1 : 0);
  const [windows, patches] = adding ? [TO, FROM] : [FROM, TO];
  return cachedModule(`patch:${JSON.stringify({ ...geometry, adding })}`, () => [{
    name: "row",
    params: [I32, I32, I32, I32],
    locals: [],
    code: countedLoop({
      count: PIXELS,
      body: [
        ...(adding ? addPixel(geometry) : copyPixel(geometry)),
        ...advance(windows, op.localGet(STEP)),
        ...advance(patches, op.i32Const(4 * rowFloats)),
      ],
    }),
  }]);
}

/** The row kernel of `geometry` on `heap`, or undefined for runs under 4 floats or an unreachable heap. */
export function patchRowKernel(
  heap: WasmHeap,
  geometry: PatchGeometry,
): PatchRowKernel | undefined {
  if (geometry.run < 4) return undefined;
  return heapKernels(heap, patchModule(geometry, false))?.row as PatchRowKernel | undefined;
}

/** The adding kernel of `geometry` (no ones column) on `heap`, or undefined for runs under 4 floats or an unreachable heap. */
export function patchAddKernel(
  heap: WasmHeap,
  geometry: PatchGeometry,
): PatchRowKernel | undefined {
  if (geometry.run < 4 || geometry.ones) return undefined;
  return heapKernels(heap, patchModule(geometry, true))?.row as PatchRowKernel | undefined;
}
