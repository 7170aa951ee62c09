import * as tf from "@tensorflow/tfjs";
import { once, overrideKernel } from "../kernel_override.ts";

/** tfjs-backend-webgpu's `MatMulProgramType.MatMulSmallOutputSizeProgram`. */
const SMALL_OUTPUT_PROGRAM = 2;
/** Inner size from which tfjs picks its split-K program. */
const SPLIT_K_MIN_INNER = 2000;

interface MatMulInputs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
}

/**
 * Whether tfjs-backend-webgpu 4.22 would run this product with its split-K
 * program and a transposed B, mirroring the choice in its `batchMatMulImpl`.
 */
function hitsBrokenSplitK(
  { a, b }: MatMulInputs,
  attrs: { transposeA?: boolean; transposeB?: boolean },
  threshold: number,
): boolean {
  if (!attrs.transposeB) return false;
  const batch = Math.max(
    a.shape.slice(0, -2).reduce((x, y) => x * y, 1),
    b.shape.slice(0, -2).reduce((x, y) => x * y, 1),
  );
  const rows = attrs.transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const inner = b.shape[b.shape.length - 1];
  const cols = b.shape[b.shape.length - 2];
  const tiles = batch * Math.ceil(rows / 32) * Math.ceil(cols / 32);
  const fewTiles = tiles <= threshold || (rows <= 8 && tiles <= threshold * 2);
  return fewTiles && batch * rows * cols > 128 && batch === 1 && inner >= SPLIT_K_MIN_INNER;
}

/**
 * Works around a bug of tfjs-backend-webgpu 4.22: for a single product
 * with a long inner dimension and a small output (AlexNet's first dense
 * layer's input gradient for a batch of up to 8, for instance) it picks
 * its split-K program, which reads a transposed B with vec4 loads and
 * returns wrong values (relative error about 1.4 on `[4,4096]·[256,4096]ᵀ`,
 * on lavapipe and in the shader's logic alike). This wraps the
 * `BatchMatMul` and `_FusedMatMul` kernels so that such products use the
 * small-output program instead; every other product is untouched.
 */
export const avoidBrokenSplitK: () => void = once(() => {
  for (const name of ["BatchMatMul", "_FusedMatMul"]) {
    overrideKernel(name, "webgpu", (original) => (args) => {
      const backend = args.backend as unknown as { thresholdToIncreaseWorkgroups: number };
      const flags = tf.env();
      const chosen = flags.getNumber("WEBGPU_MATMUL_PROGRAM_TYPE");
      const inputs = args.inputs as unknown as MatMulInputs;
      if (
        chosen >= 0 ||
        !hitsBrokenSplitK(inputs, args.attrs as object, backend.thresholdToIncreaseWorkgroups)
      ) {
        return original(args);
      }
      flags.set("WEBGPU_MATMUL_PROGRAM_TYPE", SMALL_OUTPUT_PROGRAM);
      try {
        return original(args);
      } finally {
        flags.set("WEBGPU_MATMUL_PROGRAM_TYPE", chosen);
      }
    });
  }
});
