/**
 * Batch normalisation's training kernels (see `../batch_norm/passes.ts`)
 * on WebGPU: per-channel sums over the rows of a tensor viewed as [rows,
 * channels] in two programs (each workgroup sums 16 channels over a group
 * of rows in workgroup memory; a second program adds the groups' partial
 * sums), and the normalisation and the input gradient as one element-wise
 * pass each. tfjs's operations take ten passes and as many temporaries.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { NormActivation } from "../batch_norm/passes.ts";
import { ElementwiseProgram, type WebGPUProgram, type WebGPURunner } from "./program.ts";

/** Channels of a summing workgroup, and its lanes of rows. */
const LANES = 16;
/** Rows a summing workgroup adds up. */
const GROUP_ROWS = 1024;

/** How a tensor's elements are [rows, channels]. */
interface Layout {
  rows: number;
  channels: number;
}

function layoutOf(x: tf.TensorInfo): Layout {
  const channels = x.shape[x.shape.length - 1];
  return { channels, rows: x.shape.reduce((a, b) => a * b, 1) / channels };
}

/** WGSL: the pre-activation z of element `index`, of channel `c`. */
const PRE_ACTIVATION = "let z = (x[index] - mean[c]) * (gamma[c] * inverseDeviation[c]) + beta[c];";

/** WGSL: the activation of z. */
const ACTIVATE: Record<NormActivation, string> = {
  linear: "z",
  relu: "max(z, 0.0)",
  sigmoid: "1.0 / (1.0 + exp(-z))",
};

/** WGSL: dz, the gradient at z, from dy (and the sigmoid's output y). */
const DZ: Record<NormActivation, string> = {
  linear: "dy[index]",
  relu: "select(0.0, dy[index], z > 0.0)",
  sigmoid: "dy[index] * y[index] * (1.0 - y[index])",
};

/** WGSL: the normalised input x̂ of element `index`. */
const NORMALISED = "(x[index] - mean[c]) * inverseDeviation[c]";

/** The inputs of the gradient's programs, in order: y only for the sigmoid. */
function gradientInputs(activation: NormActivation): string[] {
  const maps = activation === "sigmoid" ? ["dy", "x", "y"] : ["dy", "x"];
  return [...maps, "mean", "inverseDeviation", "gamma", "beta"];
}

/**
 * What is summed per channel (WGSL adding to `first` and `second` for the
 * element at `index` of channel `c`), and how each total is finished
 * (WGSL writing one per-channel output from the row count `n`).
 */
interface Sums {
  name: string;
  terms: string;
  finish: Finish[];
}

/** WGSL finishing one total; whether it reads x (a program may bind only what it reads). */
interface Finish {
  code: string;
  readsX?: boolean;
}

/**
 * The moments: x less its channel's first value (which keeps E[x²] − E[x]²
 * from cancelling where the mean is large), and its square; the mean and
 * the biased variance.
 */
const MOMENTS: Sums = {
  name: "moments",
  terms: "let shifted = x[index] - x[c]; first += shifted; second += shifted * shifted;",
  finish: [
    { code: "setOutputAtIndex(c, x[c] + first / n);", readsX: true },
    { code: "let m = first / n; setOutputAtIndex(c, max(second / n - m * m, 0.0));" },
  ],
};

/** The gradient's sums: dγ = Σ dz·x̂ and dβ = Σ dz. */
function gradientSums(activation: NormActivation): Sums {
  return {
    name: `gradient_${activation}`,
    terms: [
      PRE_ACTIVATION,
      `let dz = ${DZ[activation]};`,
      `first += dz * ${NORMALISED};`,
      "second += dz;",
    ].join(" "),
    finish: [{ code: "setOutputAtIndex(c, first);" }, { code: "setOutputAtIndex(c, second);" }],
  };
}

/**
 * Two sums per channel over each group of {@link GROUP_ROWS} rows, into
 * [groups, 2, channels].
 */
class PartialSumsProgram implements WebGPUProgram {
  uniforms = "rows : i32,";
  workgroupSize: [number, number, number] = [LANES, LANES, 1];
  outputShape: number[];
  dispatchLayout = { x: [2], y: [0, 1] };
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly variableNames: string[],
    private readonly layout: Layout,
    private readonly sums: Sums,
  ) {
    const groups = Math.ceil(layout.rows / GROUP_ROWS);
    this.outputShape = [groups, 2, layout.channels];
    this.dispatch = [Math.ceil(layout.channels / LANES), groups, 1];
    this.shaderKey = `batchNormSums_${sums.name}_${layout.channels}`;
  }

  getUserCode(): string {
    const { channels } = this.layout;
    return `
      var<workgroup> firsts : array<f32, ${LANES * LANES}>;
      var<workgroup> seconds : array<f32, ${LANES * LANES}>;

      fn main() {
        let lane = i32(localId.x);
        let rowLane = i32(localId.y);
        let c = i32(workgroupId.x) * ${LANES} + lane;
        let group = i32(workgroupId.y);
        var first = 0.0;
        var second = 0.0;
        if (c < ${channels}) {
          let end = min((group + 1) * ${GROUP_ROWS}, uniforms.rows);
          for (var row = group * ${GROUP_ROWS} + rowLane; row < end; row += ${LANES}) {
            let index = row * ${channels} + c;
            ${this.sums.terms}
          }
        }
        let slot = rowLane * ${LANES} + lane;
        firsts[slot] = first;
        seconds[slot] = second;
        workgroupBarrier();
        for (var half = ${LANES / 2}; half > 0; half /= 2) {
          if (rowLane < half) {
            firsts[slot] += firsts[slot + half * ${LANES}];
            seconds[slot] += seconds[slot + half * ${LANES}];
          }
          workgroupBarrier();
        }
        if (rowLane == 0 && c < ${channels}) {
          result[(group * 2) * ${channels} + c] = firsts[lane];
          result[(group * 2 + 1) * ${channels} + c] = seconds[lane];
        }
      }
    `;
  }
}

/** The groups' partial sums [groups, 2, channels] added per channel, then one of `sums.finish`. */
class TotalProgram extends ElementwiseProgram {
  shaderKey: string;

  constructor(
    readonly variableNames: string[],
    private readonly layout: Layout,
    private readonly finish: { name: string; code: string },
  ) {
    super([layout.channels]);
    this.shaderKey = `batchNormTotal_${finish.name}_${layout.rows}_${layout.channels}`;
  }

  getUserCode(): string {
    const { rows, channels } = this.layout;
    return `
      fn main(c : i32) {
        if (c < uniforms.size) {
          let n = f32(${rows});
          var first = 0.0;
          var second = 0.0;
          for (var group = 0; group < ${Math.ceil(rows / GROUP_ROWS)}; group++) {
            first += partial[(group * 2) * ${channels} + c];
            second += partial[(group * 2 + 1) * ${channels} + c];
          }
          ${this.finish.code}
        }
      }
    `;
  }
}

/** One pass over x's elements: `code` (WGSL) writes element `index` of channel `c`. */
class ChannelPassProgram extends ElementwiseProgram {
  shaderKey: string;

  constructor(
    readonly variableNames: string[],
    shape: number[],
    private readonly pass: { name: string; code: string },
  ) {
    super(shape);
    this.shaderKey = `batchNormPass_${pass.name}_${shape[shape.length - 1]}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % ${this.outputShape[this.outputShape.length - 1]};
          ${this.pass.code}
        }
      }
    `;
  }
}

/** The two per-channel totals of `sums` over `inputs` (the first of which is shaped as x). */
function channelTotals(
  runner: WebGPURunner,
  inputs: { names: string[]; tensors: tf.TensorInfo[] },
  sums: Sums,
): tf.TensorInfo[] {
  const layout = layoutOf(inputs.tensors[0]);
  const partial = runner.runWebGPUProgram(
    new PartialSumsProgram(inputs.names, layout, sums),
    inputs.tensors,
    "float32",
    [{ type: "int32", data: [layout.rows] }],
  );
  const x = inputs.tensors[inputs.names.indexOf("x")];
  const totals = sums.finish.map(({ code, readsX }, i) =>
    runner.runWebGPUProgram(
      new TotalProgram(readsX ? ["partial", "x"] : ["partial"], layout, {
        name: `${sums.name}_${i}`,
        code,
      }),
      readsX ? [partial, x] : [partial],
      "float32",
    )
  );
  runner.disposeData(partial.dataId);
  return totals;
}

/** Each channel's mean and biased variance of x. */
export function webgpuMoments(backend: tf.KernelBackend, x: tf.TensorInfo): tf.TensorInfo[] {
  return channelTotals(backend as unknown as WebGPURunner, { names: ["x"], tensors: [x] }, MOMENTS);
}

/** activation((x − mean)·inverseDeviation·γ + β). */
export function webgpuNormalize(
  backend: tf.KernelBackend,
  inputs: Record<"x" | "mean" | "inverseDeviation" | "gamma" | "beta", tf.TensorInfo>,
  activation: NormActivation,
): tf.TensorInfo {
  const names = ["x", "mean", "inverseDeviation", "gamma", "beta"] as const;
  const code = `${PRE_ACTIVATION} setOutputAtIndex(index, ${ACTIVATE[activation]});`;
  return (backend as unknown as WebGPURunner).runWebGPUProgram(
    new ChannelPassProgram([...names], inputs.x.shape, { name: `normalize_${activation}`, code }),
    names.map((name) => inputs[name]),
    "float32",
  );
}

/** [dx, dγ, dβ] for dy at the output y of {@link webgpuNormalize} (y for the sigmoid only). */
export function webgpuNormalizeGradients(
  backend: tf.KernelBackend,
  inputs: Record<string, tf.TensorInfo>,
  activation: NormActivation,
): tf.TensorInfo[] {
  const runner = backend as unknown as WebGPURunner;
  const names = gradientInputs(activation);
  const tensors = names.map((name) => inputs[name]);
  const [dGamma, dBeta] = channelTotals(runner, { names, tensors }, gradientSums(activation));
  const n = layoutOf(inputs.x).rows;
  const code = `${PRE_ACTIVATION} let dz = ${DZ[activation]};
    let meanBeta = dBeta[c] / f32(${n});
    let meanGamma = dGamma[c] / f32(${n});
    setOutputAtIndex(index,
      gamma[c] * inverseDeviation[c] * (dz - meanBeta - ${NORMALISED} * meanGamma));`;
  const dx = runner.runWebGPUProgram(
    new ChannelPassProgram([...names, "dGamma", "dBeta"], inputs.x.shape, {
      name: `gradient_${activation}_${n}`,
      code,
    }),
    [...tensors, dGamma, dBeta],
    "float32",
  );
  return [dx, dGamma, dBeta];
}
