/**
 * Batch normalisation in training as passes over float32 memory, channels
 * last: one pass for the batch's per-channel statistics, one to normalise
 * (with the activation that follows, if any), two for the gradient. tfjs's
 * operations take ten passes and as many temporaries for the same.
 * Sums are taken in float64, so rounding stays that of a few terms.
 *
 * @module
 */

/** An activation applied after the normalisation. */
export type NormActivation = "relu" | "sigmoid" | "linear";

/** The per-channel numbers every pass uses. */
export interface ChannelNorm {
  channels: number;
  mean: Float32Array;
  /** 1 / √(variance + ε). */
  inverseDeviation: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  activation: NormActivation;
}

/**
 * What the backward pass reads besides the statistics: the gradient at the
 * output, the input, and for the sigmoid its output, which the next layer
 * keeps for its own gradient anyway: reading it is cheaper than recomputing it.
 */
export interface BackwardMaps {
  dy: Float32Array;
  x: Float32Array;
  y?: Float32Array;
}

/** Writes each channel's mean and biased variance of `x` [..., channels]. */
export function channelMoments(
  x: Float32Array,
  channels: number,
  out: { mean: Float32Array; variance: Float32Array },
): void {
  const sums = new Float64Array(channels);
  const squares = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const value = x[i + c];
      sums[c] += value;
      squares[c] += value * value;
    }
  }
  const count = x.length / channels;
  for (let c = 0; c < channels; c++) {
    const mean = sums[c] / count;
    out.mean[c] = mean;
    out.variance[c] = Math.max(squares[c] / count - mean * mean, 0);
  }
}

/** activation((x − mean) · inverseDeviation · γ + β) into `y`. */
export function normalizeInto(x: Float32Array, y: Float32Array, norm: ChannelNorm): void {
  const { channels, mean, beta, activation } = norm;
  const scale = scales(norm);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) y[i + c] = (x[i + c] - mean[c]) * scale[c] + beta[c];
  }
  if (activation === "relu") {
    // Without a branch, which mispredicts on half the values: v + |v| is 2v or 0.
    for (let i = 0; i < y.length; i++) y[i] = (y[i] + Math.abs(y[i])) * 0.5;
  } else if (activation === "sigmoid") {
    for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
  }
}

/**
 * The gradients of the normalisation for dy at its output: dγ = Σ dz · x̂,
 * dβ = Σ dz and dx = γ · inverseDeviation · (dz − (dβ + x̂ · dγ) / n),
 * where dz is dy through the activation's gradient and x̂ the normalised
 * input, recomputed from x. The sigmoid's gradient reads its output `y`
 * (see {@link BackwardMaps}). dz goes into `dx` first, which the last pass
 * turns into dx in place.
 */
export function normalizeGradients(
  maps: BackwardMaps,
  norm: ChannelNorm,
  out: { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array },
): void {
  const { channels, mean, inverseDeviation } = norm;
  const { x } = maps;
  const { dx } = out;
  activationGradientInto(maps, norm, dx);
  const dGamma = new Float64Array(channels);
  const dBeta = new Float64Array(channels);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const dz = dx[i + c];
      dBeta[c] += dz;
      dGamma[c] += dz * (x[i + c] - mean[c]) * inverseDeviation[c];
    }
  }
  const count = x.length / channels;
  const scale = scales(norm);
  const meanBeta = Float32Array.from(dBeta, (sum) => sum / count);
  const meanGamma = Float32Array.from(dGamma, (sum) => sum / count);
  for (let i = 0; i < x.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      const normalised = (x[i + c] - mean[c]) * inverseDeviation[c];
      dx[i + c] = scale[c] * (dx[i + c] - meanBeta[c] - normalised * meanGamma[c]);
    }
  }
  out.dGamma.set(dGamma);
  out.dBeta.set(dBeta);
}

/**
 * dy through the activation's gradient into `dz`: ReLU's mask from the
 * pre-activation recomputed from x as the forward pass computed it, the
 * sigmoid's σ·(1 − σ) from its output.
 */
function activationGradientInto(maps: BackwardMaps, norm: ChannelNorm, dz: Float32Array): void {
  const { dy, x, y } = maps;
  const { channels, mean, beta, activation } = norm;
  if (activation === "linear") {
    dz.set(dy);
  } else if (activation === "sigmoid") {
    if (y === undefined) throw new Error("the sigmoid's gradient needs its output");
    for (let i = 0; i < y.length; i++) dz[i] = dy[i] * y[i] * (1 - y[i]);
  } else {
    const scale = scales(norm);
    for (let i = 0; i < x.length; i += channels) {
      for (let c = 0; c < channels; c++) {
        const z = (x[i + c] - mean[c]) * scale[c] + beta[c];
        dz[i + c] = z > 0 ? dy[i + c] : 0;
      }
    }
  }
}

/** γ · inverseDeviation per channel. */
function scales(norm: ChannelNorm): Float32Array {
  return Float32Array.from(norm.gamma, (gamma, c) => gamma * norm.inverseDeviation[c]);
}
