/**
 * im2col rows (see `im2col.ts`) built by a WebAssembly SIMD kernel on
 * tfjs's wasm heap, one call per row of output pixels: each filter row of a
 * patch is one run of the input, copied four floats at a time, the last
 * four overlapping the previous ones where the run is not a multiple of
 * four (the stems' 7 floats, AlexNet's conv1's 11). In JavaScript each run
 * of fewer than 64 floats went element by element.
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";
import { heapKernels, I32, type Instruction, kernelModule, op } from "../simd_module.ts";

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

/** `row(from, to, pixels, step)`: the patch rows of `pixels` windows `step` bytes apart. */
export type PatchRowKernel = (from: number, to: number, pixels: number, step: number) => void;

const [FROM, TO, PIXELS, STEP] = [0, 1, 2, 3];

const binaries = new Map<string, Uint8Array<ArrayBuffer>>();

/** Byte offsets of the four-float chunks that cover a run of `run` floats. */
function chunkOffsets(run: number): number[] {
  const offsets = [];
  for (let at = 0; at + 4 <= run; at += 4) offsets.push(4 * at);
  if (run % 4 !== 0) offsets.push(4 * (run - 4));
  return offsets;
}

function patchModule(geometry: PatchGeometry): Uint8Array<ArrayBuffer> {
  const key = JSON.stringify(geometry);
  const cached = binaries.get(key);
  if (cached) return cached;
  const { run, filterHeight, rowBytes, ones } = geometry;
  const rowFloats = run * filterHeight + (ones ? 1 : 0);
  const perPixel: Instruction[] = [];
  for (let ky = 0; ky < filterHeight; ky++) {
    for (const offset of chunkOffsets(run)) {
      perPixel.push(
        op.localGet(TO),
        op.localGet(FROM),
        op.v128LoadOffset(ky * rowBytes + offset),
        op.v128StoreOffset(4 * ky * run + offset),
      );
    }
  }
  if (ones) perPixel.push(op.localGet(TO), op.f32Const(1), op.f32StoreOffset(4 * (rowFloats - 1)));
  const binary = kernelModule([{
    name: "row",
    params: [I32, I32, I32, I32],
    locals: [],
    code: [
      op.block,
      op.loop,
      op.localGet(PIXELS),
      op.i32Eqz,
      op.brIf(1),
      ...perPixel,
      ...[op.localGet(FROM), op.localGet(STEP), op.i32Add, op.localSet(FROM)],
      ...[op.localGet(TO), op.i32Const(4 * rowFloats), op.i32Add, op.localSet(TO)],
      ...[op.localGet(PIXELS), op.i32Const(1), op.i32Sub, op.localSet(PIXELS)],
      op.br(0),
      op.end,
      op.end,
    ],
  }]);
  binaries.set(key, binary);
  return binary;
}

/** The row kernel of `geometry` on `heap`, or undefined for runs under 4 floats or an unreachable heap. */
export function patchRowKernel(
  heap: WasmHeap,
  geometry: PatchGeometry,
): PatchRowKernel | undefined {
  if (geometry.run < 4) return undefined;
  return heapKernels(heap, patchModule(geometry))?.row as PatchRowKernel | undefined;
}
