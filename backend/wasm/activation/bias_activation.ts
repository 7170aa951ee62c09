/**
 * A fused convolution's last pass over its product on tfjs's wasm heap —
 * plus the bias, through the activation — as one WebAssembly SIMD loop,
 * four floats at a time (the 1×1 convolutions' and the im2col ones'): in
 * JavaScript it took as long as NiN's 1×1 products themselves. Where the
 * kernels cannot run, the same in JavaScript.
 *
 * @module
 */
import type { WasmHeap } from "../heap.ts";
import {
  addressOf,
  heapKernels,
  I32,
  type Instruction,
  kernelModule,
  op,
  V128,
  vectorLoop,
} from "../simd_module.ts";
import { sigmoid, SIGMOID_LOCALS, sigmoidSetup } from "./sigmoid.ts";

/** The activations a fused convolution may end with that these passes apply. */
export type FusedActivation = "linear" | "relu" | "sigmoid";

/** Whether tfjs's fused activation `name` is one of {@link FusedActivation}. */
export function isFusedActivation(name: string): name is FusedActivation {
  return name === "linear" || name === "relu" || name === "sigmoid";
}

/** Parameters (the values' and the bias's addresses, the channels' and the values' bytes), then locals. */
const [VALUES, BIAS, CHANNEL_BYTES, BYTES, AT, CHANNEL, ZERO] = [0, 1, 2, 3, 4, 5, 6];
/** The sigmoid's vector locals, after ZERO. */
const SIGMOID = ZERO + 1;
const LOCALS = [I32, I32, V128, ...Array(SIGMOID_LOCALS).fill(V128)];

/** What runs before the loop: the sigmoid's constants into their locals. */
function setup(activation: FusedActivation): Instruction[] {
  return activation === "sigmoid" ? sigmoidSetup(SIGMOID) : [];
}

/** The activation of the vector on the stack, in its place. */
function activate(activation: FusedActivation): Instruction[] {
  if (activation === "relu") return [op.localGet(ZERO), op.f32x4Pmax];
  return activation === "sigmoid" ? sigmoid(SIGMOID) : [];
}

/** CHANNEL + 16, or 0 at the end of the channels. */
const NEXT_CHANNEL: Instruction[] = [
  op.i32Const(0),
  op.localGet(CHANNEL),
  op.i32Const(16),
  op.i32Add,
  op.localTee(CHANNEL),
  op.localGet(CHANNEL),
  op.localGet(CHANNEL_BYTES),
  op.i32Eq,
  op.select,
  op.localSet(CHANNEL),
];

/**
 * `activation(v + b)` in place, b cycling through the bias (the float32
 * sum, as JavaScript rounds it): bias_ACTIVATION(values, bias,
 * channelBytes, bytes); or without a bias `activation(v)`:
 * activate_ACTIVATION(values, unused, unused, bytes).
 */
function passKernel(activation: FusedActivation, withBias: boolean) {
  const bias = [...addressOf(BIAS, CHANNEL), op.v128Load, op.f32x4Add];
  return {
    name: `${withBias ? "bias" : "activate"}_${activation}`,
    params: [I32, I32, I32, I32],
    locals: LOCALS,
    code: [
      ...setup(activation),
      ...vectorLoop({
        at: AT,
        bytes: BYTES,
        body: [
          ...addressOf(VALUES, AT),
          ...addressOf(VALUES, AT),
          op.v128Load,
          ...(withBias ? bias : []),
          ...activate(activation),
          op.v128Store,
          ...(withBias ? NEXT_CHANNEL : []),
        ],
      }),
    ],
  };
}

const ACTIVATIONS: FusedActivation[] = ["linear", "relu", "sigmoid"];

const MODULE = kernelModule([
  ...ACTIVATIONS.map((activation) => passKernel(activation, true)),
  passKernel("relu", false),
  passKernel("sigmoid", false),
]);

/** `values[from..]` plus the bias and through the activation, in JavaScript. */
function finishInJavaScript(
  values: Float32Array,
  from: number,
  options: { bias?: Float32Array; activation: FusedActivation },
): void {
  const { bias, activation } = options;
  if (bias) {
    for (let i = from; i < values.length; i++) values[i] += bias[i % bias.length];
  }
  if (activation === "relu") {
    // Without a branch (half the values are negative: a branch mispredicts, 7× slower):
    // the sign bit, spread over the word, clears a negative float to +0.
    const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
    for (let i = from; i < bits.length; i++) bits[i] &= ~(bits[i] >> 31);
  } else if (activation === "sigmoid") {
    for (let i = from; i < values.length; i++) values[i] = 1 / (1 + Math.exp(-values[i]));
  }
}

/**
 * `values` (pixels × channels, on `heap`) plus `bias` (one per channel, on
 * `heap` too) where given, through `activation`, in place: by the SIMD
 * kernels, in JavaScript where they cannot run (the heap out of reach, a
 * bias whose channels are not in fours) and for the last floats short of
 * four.
 */
export function addBiasAndActivate(
  heap: WasmHeap,
  values: Float32Array,
  options: { bias?: Float32Array; activation: FusedActivation },
): void {
  const { bias, activation } = options;
  if (!bias && activation === "linear") return;
  const kernels = heapKernels(heap, MODULE);
  if (!kernels || (bias && bias.length % 4 !== 0)) {
    finishInJavaScript(values, 0, options);
    return;
  }
  const bytes = 4 * values.length;
  const whole = bytes - (bytes % 16);
  const kernel = kernels[`${bias ? "bias" : "activate"}_${activation}`] as (
    ...args: number[]
  ) => void;
  kernel(values.byteOffset, bias?.byteOffset ?? 0, 4 * (bias?.length ?? 0), whole);
  finishInJavaScript(values, whole / 4, options);
}
