import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals } from "../../support/assert.ts";
import { scanHotLoops, workgroupBytesPerMultiplyAdd } from "../../support/wgsl_scan.ts";
import { MomentProgram, WeightProgram } from "../../../backend/webgpu/adam.ts";
import { filterGradientProduct } from "../../../backend/webgpu/convolution/conv_filter_gradient.ts";
import { convolutionProduct } from "../../../backend/webgpu/convolution/convolution.ts";
import { DropoutMaskProgram } from "../../../backend/webgpu/dropout_mask.ts";
import { FilterGradientTiledProgram } from "../../../backend/webgpu/convolution/filter_gradient_tiled.ts";
import { matmulSpec } from "../../../backend/webgpu/matmul.ts";
import { convGeometry } from "../../../backend/webgpu/products/operands.ts";
import { productProgram, SumSplitsProgram } from "../../../backend/webgpu/products/run.ts";
import type { WebGPUProgram } from "../../../backend/webgpu/program.ts";

/** AlexNet's convolutions at 224 on a micro-batch of 64, and LeNet's at 28 on 128. */
const CONVOLUTIONS: [number[], number[], number, "same" | "valid"][] = [
  [[64, 224, 224, 1], [11, 11, 1, 96], 4, "valid"],
  [[64, 26, 26, 96], [5, 5, 96, 256], 1, "same"],
  [[64, 12, 12, 256], [3, 3, 256, 384], 1, "same"],
  [[64, 12, 12, 384], [3, 3, 384, 384], 1, "same"],
  [[64, 12, 12, 384], [3, 3, 384, 256], 1, "same"],
  [[128, 28, 28, 1], [5, 5, 1, 6], 1, "same"],
  [[128, 14, 14, 6], [5, 5, 6, 16], 1, "valid"],
];

/** Every program a training step of AlexNet or LeNet runs of this project's, by name. */
function stepPrograms(): [string, WebGPUProgram][] {
  const programs: [string, WebGPUProgram][] = [];
  for (const [x, filter, stride, pad] of CONVOLUTIONS) {
    const info = tf.backend_util.computeConv2DInfo(
      x as [number, number, number, number],
      filter as [number, number, number, number],
      stride,
      1,
      pad,
    );
    const g = convGeometry(info);
    programs.push(
      [`filter gradient ${filter}`, productProgram(filterGradientProduct(g).spec, filter, true)],
      [
        `convolution ${filter}`,
        productProgram(
          convolutionProduct(g, { bias: true, activation: "relu" }).spec,
          info.outShape,
          false,
        ),
      ],
    );
  }
  for (const [rows, terms, columns] of [[128, 6400, 4096], [128, 4096, 4096], [128, 4096, 10]]) {
    for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false]]) {
      const spec = matmulSpec({ rows, columns, terms }, transposeA, transposeB, { bias: false });
      programs.push([`matmul ${spec.key}`, productProgram(spec, [rows, columns], true)]);
    }
  }
  programs.push(
    ["sum of splits", new SumSplitsProgram([11, 11, 1, 96])],
    ["Adam's first moment", new MomentProgram([4096], false)],
    ["Adam's second moment", new MomentProgram([4096], true)],
    ["Adam's weight", new WeightProgram([4096])],
    ["dropout mask", new DropoutMaskProgram([128, 4096])],
  );
  return programs;
}

Deno.test("no kernel of a training step divides, loops on data or indexes a private array in a loop", () => {
  const programs = stepPrograms();
  assertEquals(programs.length, 28);
  for (const [name, program] of programs) {
    assertEquals(scanHotLoops(program.getUserCode()), [], `${name}: hot-loop findings`);
  }
});

Deno.test("the products read at most 1 byte of workgroup memory per multiply-add", () => {
  for (const [name, program] of stepPrograms()) {
    if (!program.shaderKey.startsWith("tiledProduct")) continue;
    const bytes = workgroupBytesPerMultiplyAdd(program.getUserCode());
    assert(bytes <= 1, `${name}: ${bytes} bytes per multiply-add`);
  }
});

Deno.test("the scan finds each pattern in the previous tiled filter gradient", () => {
  const findings = scanHotLoops(
    new FilterGradientTiledProgram([5, 5, 96, 256], 2400, 256, 1).getUserCode(),
  );
  const rules = new Set(findings.map((finding) => finding.rule));
  assertEquals([...rules].sort(), ["division", "modulo", "private array", "while"]);
});
