/**
 * A fused convolution's last pass over its product on tfjs's wasm heap —
 * plus the bias, through a ReLU — as one WebAssembly SIMD loop, four
 * channels at a time (the 1×1 convolutions' and the im2col ones'): in
 * JavaScript it took as long as NiN's 1×1 products themselves.
 *
 * @module
 */
import type { WasmHeap } from "./heap.ts";
import {
  addressOf,
  heapKernels,
  I32,
  type Instruction,
  kernelModule,
  op,
  V128,
  vectorLoop,
} from "./simd_module.ts";

/** Parameters (the values' and the bias's addresses, the channels' and the values' bytes), then locals. */
const [VALUES, BIAS, CHANNEL_BYTES, BYTES, AT, CHANNEL, ZERO] = [0, 1, 2, 3, 4, 5, 6];

/** `max(v + b, 0)` or `v + b` in place, b cycling through the bias (the float32 sum, as JavaScript rounds it). */
function biasKernel(name: string, relu: boolean) {
  const nextChannel: Instruction[] = [
    // CHANNEL + 16, or 0 at the end of the channels.
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
  return {
    name,
    params: [I32, I32, I32, I32],
    locals: [I32, I32, V128],
    code: vectorLoop({
      at: AT,
      bytes: BYTES,
      body: [
        ...addressOf(VALUES, AT),
        ...addressOf(VALUES, AT),
        op.v128Load,
        ...addressOf(BIAS, CHANNEL),
        op.v128Load,
        op.f32x4Add,
        ...(relu ? [op.localGet(ZERO), op.f32x4Max] : []),
        op.v128Store,
        ...nextChannel,
      ],
    }),
  };
}

/** `relu(values, bytes)`: `max(v, 0)` in place; its locals, parameters first. */
const [RELU_VALUES, RELU_BYTES, RELU_AT, RELU_ZERO] = [0, 1, 2, 3];
const RELU_KERNEL = {
  name: "relu",
  params: [I32, I32],
  locals: [I32, V128],
  code: vectorLoop({
    at: RELU_AT,
    bytes: RELU_BYTES,
    body: [
      ...addressOf(RELU_VALUES, RELU_AT),
      ...addressOf(RELU_VALUES, RELU_AT),
      op.v128Load,
      op.localGet(RELU_ZERO),
      op.f32x4Max,
      op.v128Store,
    ],
  }),
};

const MODULE = kernelModule([biasKernel("bias", false), biasKernel("biasRelu", true), RELU_KERNEL]);

/**
 * `values` (pixels × channels, on `heap`) plus `bias` (one per channel, on
 * `heap` too) where given, through a ReLU if `relu`, in place; false (and
 * nothing done) where the SIMD kernels cannot run: the heap out of reach,
 * or a bias whose channels are not in fours.
 */
export function addBiasAndActivate(
  heap: WasmHeap,
  values: Float32Array,
  options: { bias?: Float32Array; relu: boolean },
): boolean {
  const { bias, relu } = options;
  if (!bias && !relu) return true;
  if (bias && bias.length % 4 !== 0) return false;
  const kernels = heapKernels(heap, MODULE);
  if (!kernels) return false;
  const bytes = 4 * values.length;
  const whole = bytes - (bytes % 16);
  if (bias) {
    const kernel = (relu ? kernels.biasRelu : kernels.bias) as (...args: number[]) => void;
    kernel(values.byteOffset, bias.byteOffset, 4 * bias.length, whole);
  } else {
    (kernels.relu as (at: number, bytes: number) => void)(values.byteOffset, whole);
    for (let i = whole / 4; i < values.length; i++) values[i] = Math.max(values[i], 0);
  }
  return true;
}
