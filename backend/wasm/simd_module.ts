/**
 * Just enough of WebAssembly's binary format to write small SIMD kernels
 * that work in place on tfjs's wasm heap: the module imports the heap's
 * memory, so its functions take heap offsets and nothing is copied.
 *
 * @module
 */
import type { WasmHeap } from "./heap.ts";

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** One instruction, encoded. */
export type Instruction = readonly number[];

/** The instructions the kernels use, as their encodings. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...unsigned(depth)],
  brIf: (depth: number) => [0x0d, ...unsigned(depth)],
  localGet: (index: number) => [0x20, ...unsigned(index)],
  localSet: (index: number) => [0x21, ...unsigned(index)],
  localTee: (index: number) => [0x22, ...unsigned(index)],
  i32Const: (value: number) => [0x41, ...signed(value)],
  f32Const: (value: number) => [0x43, ...new Uint8Array(new Float32Array([value]).buffer)],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32LtU: [0x49],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  /** The first of two values if the condition on top is nonzero, else the second. */
  select: [0x1b],
  /** Loads and stores of 16 bytes, with an alignment hint of 4 (floats). */
  v128Load: [0xfd, 0x00, 0x02, 0x00],
  v128Store: [0xfd, 0x0b, 0x02, 0x00],
  /** The same, at a constant byte offset from the address on the stack. */
  v128LoadOffset: (offset: number) => [0xfd, 0x00, 0x02, ...unsigned(offset)],
  v128StoreOffset: (offset: number) => [0xfd, 0x0b, 0x02, ...unsigned(offset)],
  /** A float loaded from a constant byte offset from the address on the stack. */
  f32LoadOffset: (offset: number) => [0x2a, 0x02, ...unsigned(offset)],
  f32Add: [0x92],
  /** A float stored at a constant byte offset from the address below it. */
  f32StoreOffset: (offset: number) => [0x38, 0x02, ...unsigned(offset)],
  /** One float loaded from a constant byte offset into every lane. */
  v128Load32Splat: (offset: number) => [0xfd, 0x09, 0x02, ...unsigned(offset)],
  i32x4Splat: [0xfd, 0x11],
  f32x4Splat: [0xfd, 0x13],
  f32x4Abs: [0xfd, 0xe0, 0x01],
  f32x4Neg: [0xfd, 0xe1, 0x01],
  f32x4Sqrt: [0xfd, 0xe3, 0x01],
  f32x4Add: [0xfd, 0xe4, 0x01],
  f32x4Sub: [0xfd, 0xe5, 0x01],
  f32x4Mul: [0xfd, 0xe6, 0x01],
  f32x4Div: [0xfd, 0xe7, 0x01],
  /**
   * b where a < b, else a, for a (below) and b (on top): one maxps on x86,
   * where f32x4.max's rules for NaN and −0 take V8 eight instructions. A
   * NaN in a stays; ReLU as pmax(z, 0) keeps −0 where max would give +0.
   */
  f32x4Pmax: [0xfd, 0xeb, 0x01],
  f32x4Eq: [0xfd, 0x41],
  f32x4Lt: [0xfd, 0x43],
  f32x4Gt: [0xfd, 0x44],
  /** Shifts each lane left by the i32 on top. */
  i32x4Shl: [0xfd, 0xab, 0x01],
  i32x4Sub: [0xfd, 0xb1, 0x01],
  v128And: [0xfd, 0x4e],
  v128Or: [0xfd, 0x50],
  /** a & ~b, for the vectors a (below) and b (on top). */
  v128AndNot: [0xfd, 0x4f],
  /** (a & c) | (b & ~c), for the vectors a, b and c (on top). */
  v128Bitselect: [0xfd, 0x52],
} as const;

/**
 * lcm(n, 4): the fewest floats that hold whole vectors and whole runs of
 * n, so that per-channel work over n channels runs four floats at a time
 * with its per-channel values repeated to this length.
 */
export function vectorPeriod(n: number): number {
  let [a, b] = [n, 4];
  while (b !== 0) [a, b] = [b, a % b];
  return (n * 4) / a;
}

/**
 * Byte offsets of the four-float chunks that cover a run of `run` floats
 * (at least 4), the last overlapping the one before where `run` is not a
 * multiple of four: for copies, where writing a float twice does no harm.
 */
export function chunkOffsets(run: number): number[] {
  const offsets = [];
  for (let at = 0; at + 4 <= run; at += 4) offsets.push(4 * at);
  if (run % 4 !== 0) offsets.push(4 * (run - 4));
  return offsets;
}

/** The address `base + offset` (two locals) on the stack. */
export function addressOf(base: number, offset: number): Instruction[] {
  return [op.localGet(base), op.localGet(offset), op.i32Add];
}

/**
 * `body` run for `at` = 0, 16, 32, … below `bytes` (both locals; `at`
 * starts at 0, as every local does), not at all when `bytes` is 0: the loop
 * of a kernel over vectors of four floats.
 */
export function vectorLoop(
  { at, bytes, body }: { at: number; bytes: number; body: Instruction[] },
): Instruction[] {
  return [
    op.block,
    op.localGet(bytes),
    op.i32Eqz,
    op.brIf(0),
    op.loop,
    ...body,
    op.localGet(at),
    op.i32Const(16),
    op.i32Add,
    op.localTee(at),
    op.localGet(bytes),
    op.i32LtU,
    op.brIf(0),
    op.end,
    op.end,
  ];
}

/**
 * `body` run `count` times (a local, counted down to 0 after each run), not
 * at all when it is 0: a kernel's loop over pixels, runs or tiles, whose
 * `body` moves its own addresses on (see {@link advance}).
 */
export function countedLoop(
  { count, body }: { count: number; body: Instruction[] },
): Instruction[] {
  return [
    op.block,
    op.loop,
    op.localGet(count),
    op.i32Eqz,
    op.brIf(1),
    ...body,
    op.localGet(count),
    op.i32Const(1),
    op.i32Sub,
    op.localSet(count),
    op.br(0),
    op.end,
    op.end,
  ];
}

/** `local += by`, where `by` puts one i32 on the stack (a local's value, a constant). */
export function advance(local: number, by: Instruction): Instruction[] {
  return [op.localGet(local), by, op.i32Add, op.localSet(local)];
}

function unsigned(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function signed(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsigned(bytes.length), ...bytes];
}

function section(id: number, items: number[][]): number[] {
  const content = [...unsigned(items.length), ...items.flat()];
  return [id, ...unsigned(content.length), ...content];
}

/** One exported function: its parameter types, its extra locals' types and its code. */
export interface KernelFunction {
  name: string;
  params: number[];
  locals: number[];
  code: Instruction[];
}

/**
 * The binary of a module that imports its memory as `env.memory` and
 * exports `functions` (none returns a value).
 */
export function kernelModule(functions: KernelFunction[]): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...unsigned(f.params.length), ...f.params, 0x00]);
  const memoryImport = [...name("env"), ...name("memory"), 0x02, 0x00, 0x00];
  const declarations = functions.map((_, i) => unsigned(i));
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...unsigned(i)]);
  const bodies = functions.map((f) => {
    const locals = [...unsigned(f.locals.length), ...f.locals.flatMap((type) => [1, type])];
    const body = [...locals, ...f.code.flat(), ...op.end];
    return [...unsigned(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, [memoryImport]),
    ...section(3, declarations),
    ...section(7, exports),
    ...section(10, bodies),
  ]);
}

/** Generated binaries by their callers' keys, so that each is built once and instantiated once per heap. */
const generated = new Map<string, Uint8Array<ArrayBuffer>>();

/**
 * The binary of {@link kernelModule} for `build`'s functions, built the
 * first time `key` is asked for (keys name the generator and its
 * geometry, e.g. `patch:{...}`).
 */
export function cachedModule(
  key: string,
  build: () => KernelFunction[],
): Uint8Array<ArrayBuffer> {
  let binary = generated.get(key);
  if (binary === undefined) {
    binary = kernelModule(build());
    generated.set(key, binary);
  }
  return binary;
}

/** tfjs's wasm backend, with the memory of its module. */
interface HeapWithMemory extends WasmHeap {
  wasm: WasmHeap["wasm"] & { asm?: { memory?: WebAssembly.Memory } };
}

const instances = new WeakMap<WebAssembly.Memory, Map<Uint8Array, WebAssembly.Exports>>();

/**
 * The exports of `binary` (from {@link kernelModule}) instantiated on the
 * memory of `heap`, once per heap; undefined where that memory cannot be
 * reached.
 */
export function heapKernels(
  heap: WasmHeap,
  binary: Uint8Array<ArrayBuffer>,
): WebAssembly.Exports | undefined {
  const memory = (heap as HeapWithMemory).wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  const byBinary = instances.get(memory) ?? new Map<Uint8Array, WebAssembly.Exports>();
  instances.set(memory, byBinary);
  let exports = byBinary.get(binary);
  if (exports === undefined) {
    const module = new WebAssembly.Module(binary);
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    byBinary.set(binary, exports);
  }
  return exports;
}
