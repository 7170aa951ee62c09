/**
 * One generator for the matrix products of a training step on WebGPU:
 * C[i, j] = Σᵣ A(r, i) · B(r, j), where each operand is read by a loader
 * (a dense matrix, or the im2col view of a convolution's input, gathered
 * inside the tile loads and never materialised). The convolutions'
 * forward pass and filter gradient and the dense layers' three products
 * are all such products.
 *
 * Every shape is a constant of the generated code, and the hot loop has
 * what GPU compilers handle best: no integer division or modulo, no loop
 * with a data-dependent bound, no private array (each load and each
 * accumulator is a variable of its own). Loads are whole `vec4`s where
 * the memory allows; each thread computes a block of C from workgroup
 * memory (an 8×8 block reads 1 byte there per multiply-add) and loads the
 * next slice while it computes on this one. With a split, workgroup `z`
 * sums the reduction terms `[z·splitDepth, (z + 1)·splitDepth)` into its
 * own copy of C, and a second program adds the copies in a fixed order,
 * so that the result never depends on timing.
 *
 * @module
 */
import type { WebGPUProgram } from "../program.ts";

/** How a workgroup's tile of C is cut among its threads. */
export interface Tiling {
  /** Threads along C's columns (j) and rows (i). */
  threadsJ: number;
  threadsI: number;
  /** Outputs per thread along each (multiples of 4). */
  perThreadJ: number;
  perThreadI: number;
  /** Reduction terms staged in workgroup memory per slice (a multiple of 4). */
  depth: number;
}

/** 64×64 tiles of 64 threads, each computing 8×8 outputs, slices 16 deep. */
export const DEFAULT_TILING: Tiling = {
  threadsJ: 8,
  threadsI: 8,
  perThreadJ: 8,
  perThreadI: 8,
  depth: 16,
};

/**
 * 96×96 tiles of 96 threads, each computing 8 rows × 12 columns (0.83 bytes
 * of workgroup memory per multiply-add): for products whose columns come in
 * 96s, where 64×64 tiles would compute some columns for nothing (a third of
 * them at 96 columns).
 */
export const TILING_96: Tiling = {
  threadsJ: 8,
  threadsI: 12,
  perThreadJ: 12,
  perThreadI: 8,
  depth: 16,
};

/** The rows and columns of a workgroup's tile. */
export function tileSize(t: Tiling): { rows: number; columns: number } {
  return { rows: t.threadsI * t.perThreadI, columns: t.threadsJ * t.perThreadJ };
}

/**
 * How an operand reads one slice into its tile, as WGSL. A thread's loads
 * are numbered 0 to `loads − 1`; every name a loader declares ends in the
 * operand's tag (`A` or `B`) and, for a load's own, the load's number.
 */
export interface OperandLoader {
  /** The input variable it reads (a name of the program's inputs). */
  variable: string;
  /** Whether its input is bound as `vec4<f32>`. */
  vectorInput: boolean;
  /**
   * Which way one load reads four values: along the tile's outer axis (i for
   * A, j for B), along the reduction, or one value (`scalar`).
   */
  reads: "outer" | "reduction" | "scalar";
  /** Declarations for the thread, given a WGSL expression for its outer index. */
  shared(tag: string, outer: string): string;
  /** Declarations of load `n`'s position, given a WGSL expression for its reduction index. */
  setup(tag: string, n: number, reduction: string): string;
  /** WGSL that sets `value` (declared by the caller) to load `n`'s value, zero outside. */
  load(tag: string, n: number, value: string): string;
  /** WGSL that moves load `n` on by `depth` reduction terms. */
  advance(tag: string, n: number, depth: number): string;
}

/** A product's sizes and the loaders of its operands. */
export interface ProductSpec {
  /** Rows (I) and columns (J) of C, and reduction terms (R). */
  rows: number;
  columns: number;
  terms: number;
  a: OperandLoader;
  b: OperandLoader;
  /** Adds `bias[j]` (an input named `bias`) to each output, then applies the activation. */
  bias?: boolean;
  activation?: "relu";
  /** Names this product's layout in the shader key (the loaders' shapes). */
  key: string;
}

/** Lines of WGSL, one statement each, for each index of `0..count`. */
export function each(count: number, line: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => line(i)).join("\n");
}

/**
 * Moves a position kept as mixed-radix digits on by `amount` without
 * dividing: each digit gets its share of the amount, plus the carry of the
 * digit before it, then gives one radix back if it overflowed (it cannot
 * have reached twice its radix). `digits` lists (name, radix) from the
 * fastest digit to the slowest; the slowest is left to overflow (the
 * loads' range checks catch that).
 */
export function advanceDigits(digits: [string, number][], amount: number): string {
  const lines: string[] = [];
  let rest = amount;
  digits.forEach(([name, radix], d) => {
    const last = d === digits.length - 1;
    const step = last ? rest : rest % radix;
    rest = Math.floor(rest / radix);
    const previous = digits[d - 1];
    const carryIn = previous ? ` + select(0, 1, ${previous[0]} >= ${previous[1]})` : "";
    lines.push(`${name} += ${step}${carryIn};`);
    if (previous) {
      lines.push(`${previous[0]} -= select(0, ${previous[1]}, ${previous[0]} >= ${previous[1]});`);
    }
  });
  return lines.join("\n");
}

/**
 * The program of one product: `split.depth` reduction terms per workgroup
 * along z (the output is `[splits, I·J]` when split, else `outputShape`).
 * Run it with the uniform `splitDepth` = `split.depth`.
 */
export class TiledProductProgram implements WebGPUProgram {
  variableNames: string[];
  // A uniform the code reads: tfjs binds its uniform buffer to every program.
  uniforms = "splitDepth : i32,";
  variableComponents: number[];
  outputComponent: number;
  workgroupSize: [number, number, number];
  outputShape: number[];
  // Two dimensions, so that tfjs calls `main()` without a flat index.
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly spec: ProductSpec,
    outputShape: number[],
    readonly split: { splits: number; depth: number },
    readonly tiling: Tiling = DEFAULT_TILING,
  ) {
    const t = tiling;
    if (t.perThreadJ % 4 !== 0 || t.perThreadI % 4 !== 0 || t.depth % 4 !== 0) {
      throw new Error("tiling: outputs per thread and the depth must be multiples of 4");
    }
    const { rows, columns } = tileSize(t);
    this.variableNames = [spec.a.variable, spec.b.variable, ...(spec.bias ? ["bias"] : [])];
    const outputVector = spec.columns % 4 === 0;
    this.variableComponents = [
      spec.a.vectorInput ? 4 : 1,
      spec.b.vectorInput ? 4 : 1,
      ...(spec.bias ? [outputVector ? 4 : 1] : []),
    ];
    this.outputComponent = outputVector ? 4 : 1;
    this.workgroupSize = [t.threadsJ, t.threadsI, 1];
    this.outputShape = split.splits === 1 ? outputShape : [split.splits, spec.rows * spec.columns];
    this.dispatch = [Math.ceil(spec.columns / columns), Math.ceil(spec.rows / rows), split.splits];
    this.shaderKey = `tiledProduct_${
      JSON.stringify([spec.key, spec.bias, spec.activation, split.depth, tiling])
    }`;
  }

  getUserCode(): string {
    const { spec, tiling: t } = this;
    const threads = t.threadsI * t.threadsJ;
    const { rows: tileI, columns: tileJ } = tileSize(t);
    const slices = Math.ceil(this.split.depth / t.depth);
    const operands = [
      { tag: "A", loader: spec.a, outer: tileI },
      { tag: "B", loader: spec.b, outer: tileJ },
    ].map(({ tag, loader, outer }) => ({ tag, loader, ...this.layout(loader, outer, threads) }));

    const setup = operands.map(({ tag, loader, columns, rowStep, loads, rowsPerLoad }) => {
      const outerIndex = tag === "A" ? "rowBase" : "columnBase";
      return [
        `let column${tag} = flat % ${columns};`,
        `let row${tag} = flat / ${columns};`,
        `let column4${tag} = column${tag} / 4;`,
        `let lane${tag} = column${tag} % 4;`,
        loader.shared(
          tag,
          `${outerIndex} + ${loader.reads === "outer" ? `column${tag} * 4` : `column${tag}`}`,
        ),
        each(
          loads,
          (n) => loader.setup(tag, n, `kStart + (row${tag} + ${n * rowStep}) * ${rowsPerLoad}`),
        ),
      ].join("\n");
    }).join("\n");

    const zero = (loader: OperandLoader) => loader.reads === "scalar" ? "0.0" : "vec4<f32>(0.0)";
    const declare = operands.map(({ tag, loader, loads }) =>
      each(loads, (n) => `var v${tag}${n} = ${zero(loader)};`)
    ).join("\n");
    // Each load starts from zero: a load outside the matrix leaves its value as it is.
    const load = operands.map(({ tag, loader, loads }) =>
      each(loads, (n) => `v${tag}${n} = ${zero(loader)};\n${loader.load(tag, n, `v${tag}${n}`)}`)
    ).join("\n");
    const advance = operands.map(({ tag, loader, loads }) =>
      each(loads, (n) => loader.advance(tag, n, t.depth))
    ).join("\n");
    const store = operands.map(({ tag, loader, outer, rowStep, loads, rowsPerLoad }) => {
      const outer4 = outer / 4;
      const tile = `tile${tag}`;
      return each(loads, (n) => {
        const row = `(row${tag} + ${n * rowStep}) * ${rowsPerLoad}`;
        if (loader.reads === "outer") {
          return `${tile}[${row} * ${outer4} + column${tag}] = v${tag}${n};`;
        }
        if (loader.reads === "scalar") {
          return `${tile}[${row} * ${outer4} + column4${tag}][lane${tag}] = v${tag}${n};`;
        }
        return each(
          4,
          (e) =>
            `${tile}[(${row} + ${e}) * ${outer4} + column4${tag}][lane${tag}] = v${tag}${n}[${e}];`,
        );
      });
    }).join("\n");

    // Thread (tx, ty) owns row groups ty + g·threadsI (4 rows each) and vec4 columns tx + c·threadsJ:
    // neighbouring threads read neighbouring words of workgroup memory.
    const rowGroups = t.perThreadI / 4;
    const columnVectors = t.perThreadJ / 4;
    const tileI4 = tileI / 4;
    const tileJ4 = tileJ / 4;
    const compute = [
      each(rowGroups, (g) => `let a${g} = tileA[kk * ${tileI4} + ty + ${g * t.threadsI}];`),
      each(columnVectors, (c) => `let b${c} = tileB[kk * ${tileJ4} + tx + ${c * t.threadsJ}];`),
      each(
        t.perThreadI,
        (r) =>
          each(
            columnVectors,
            (c) =>
              `acc${r}_${c} = fma(vec4<f32>(a${Math.floor(r / 4)}[${
                r % 4
              }]), b${c}, acc${r}_${c});`,
          ),
      ),
    ].join("\n");
    return `
var<workgroup> tileA : array<vec4<f32>, ${t.depth * tileI4}>;
var<workgroup> tileB : array<vec4<f32>, ${t.depth * tileJ4}>;

fn main() {
  let tx = i32(localId.x);
  let ty = i32(localId.y);
  let flat = ty * ${t.threadsJ} + tx;
  let z = i32(workgroupId.z);
  let rowBase = i32(workgroupId.y) * ${tileI};
  let columnBase = i32(workgroupId.x) * ${tileJ};
  let kStart = z * uniforms.splitDepth;
  let kEnd = min(kStart + uniforms.splitDepth, ${spec.terms});
${setup}
${each(t.perThreadI, (r) => each(columnVectors, (c) => `var acc${r}_${c} = vec4<f32>(0.0);`))}
${declare}
${load}
  for (var slice = 0; slice < ${slices}; slice++) {
    workgroupBarrier();
${store}
    workgroupBarrier();
${advance}
${load}
    for (var kk = 0; kk < ${t.depth}; kk++) {
${compute}
    }
  }
${this.write(columnVectors)}
}
`;
  }

  /** How an operand's slice is cut among the threads: one column each, `loads` rows. */
  private layout(loader: OperandLoader, outer: number, threads: number) {
    const columns = loader.reads === "outer" ? outer / 4 : outer;
    const rowsPerLoad = loader.reads === "reduction" ? 4 : 1;
    const rowStep = threads / columns;
    const loads = this.tiling.depth / rowsPerLoad / rowStep;
    if (!Number.isInteger(rowStep) || !Number.isInteger(loads) || loads < 1) {
      throw new Error(`tiling: a slice of ${loader.variable} does not divide among the threads`);
    }
    return { columns, rowStep, loads, rowsPerLoad, outer };
  }

  /** The code that writes the accumulators (with the bias and activation, when asked). */
  private write(columnVectors: number): string {
    const { spec, tiling: t } = this;
    const J = spec.columns;
    const vector = this.outputComponent === 4;
    const J4 = Math.ceil(J / 4);
    const lines: string[] = [];
    for (let r = 0; r < t.perThreadI; r++) {
      for (let c = 0; c < columnVectors; c++) {
        const i = `(rowBase + (ty + ${Math.floor(r / 4) * t.threadsI}) * 4 + ${r % 4})`;
        const j4 = `(columnBase / 4 + tx + ${c * t.threadsJ})`;
        const value = `acc${r}_${c}`;
        if (vector) {
          const biased = spec.bias ? `${value} + bias[${j4}]` : value;
          const activated = spec.activation === "relu" ? `max(${biased}, vec4<f32>(0.0))` : biased;
          lines.push(
            `if (${i} < ${spec.rows} && ${j4} < ${J4}) { result[(z * ${spec.rows} + ${i}) * ${J4} + ${j4}] = ${activated}; }`,
          );
          continue;
        }
        for (let e = 0; e < 4; e++) {
          const j = `${j4} * 4 + ${e}`;
          const biased = spec.bias ? `${value}[${e}] + bias[${j}]` : `${value}[${e}]`;
          const activated = spec.activation === "relu" ? `max(${biased}, 0.0)` : biased;
          lines.push(
            `if (${i} < ${spec.rows} && ${j} < ${J}) { result[(z * ${spec.rows} + ${i}) * ${J} + ${j}] = ${activated}; }`,
          );
        }
      }
    }
    return lines.join("\n");
  }
}

/**
 * Splits a product's reduction into partial sums when its tiles alone are
 * too few workgroups for the GPU (AlexNet's first filter gradient at 224:
 * 4 tiles of 64×64 and 373,248 terms at batch 128), each at least
 * `minDepth` terms.
 */
export function reductionSplit(
  sizes: { rows: number; columns: number; terms: number },
  tiling: Tiling,
  target: { workgroups: number; splits?: number; minDepth: number },
): { splits: number; depth: number } {
  const { rows, columns } = tileSize(tiling);
  const tiles = Math.ceil(sizes.rows / rows) * Math.ceil(sizes.columns / columns);
  const affordable = Math.max(1, Math.floor(sizes.terms / target.minDepth));
  const parts = Math.max(
    1,
    target.splits ?? Math.min(Math.ceil(target.workgroups / tiles), affordable),
  );
  const depth = Math.ceil(sizes.terms / parts / tiling.depth) * tiling.depth;
  return { splits: Math.ceil(sizes.terms / depth), depth };
}
