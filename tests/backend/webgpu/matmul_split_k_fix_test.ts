import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { seededRandom } from "../../../data/random.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { hasWebGPUAdapter } from "../../../backend/webgpu/setup.ts";

const noAdapter = !(await hasWebGPUAdapter());

Deno.test({
  name: "WebGPU matMul with a transposed B, a long inner size and a small output equals the CPU's",
  ignore: noAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const random = seededRandom(9);
    for (const [rows, inner, cols] of [[4, 4096, 256], [8, 2048, 512], [16, 4096, 256]]) {
      await setupBackend("cpu");
      const a = tf.tensor2d(Float32Array.from({ length: rows * inner }, () => random() - 0.5), [
        rows,
        inner,
      ]);
      const b = tf.tensor2d(Float32Array.from({ length: cols * inner }, () => random() - 0.5), [
        cols,
        inner,
      ]);
      const expected = await tf.matMul(a, b, false, true).data();
      await setupBackend("webgpu");
      const product = tf.matMul(a, b, false, true);
      const fused = tf.fused.matMul({ a, b, transposeB: true, activation: "relu" });
      const [actual, actualFused] = [await product.data(), await fused.data()];
      const worst = relativeError(actual, expected);
      const worstFused = relativeError(actualFused, expected.map((v) => Math.max(v, 0)));
      assert(
        worst <= 1e-5 && worstFused <= 1e-5,
        `[${rows},${inner}]·[${cols},${inner}]ᵀ: relative error ${worst}, fused ${worstFused}`,
      );
      tf.dispose([a, b, product, fused]);
    }
    await setupBackend("cpu");
  },
});
