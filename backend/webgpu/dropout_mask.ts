import { ElementwiseProgram } from "./program.ts";

/** The same hash as `hash32` of `dropout_mask.ts`, in WGSL (u32 arithmetic wraps as `Math.imul` does). */
const HASH32_WGSL = `
fn hash32(value : u32) -> u32 {
  var x = value;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}`;

/** A dropout mask drawn on the GPU, equal to `fillDropoutMask`'s (see `dropout_mask.ts`). */
export class DropoutMaskProgram extends ElementwiseProgram {
  variableNames: string[] = [];
  uniforms = "key : u32, first : u32, threshold : u32, scale : f32,";
  shaderKey = "dropoutMask";

  getUserCode(): string {
    return `
      ${HASH32_WGSL}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let drawn = hash32((uniforms.first + u32(index)) ^ uniforms.key) >> 8u;
          setOutputAtIndex(index, select(0.0, uniforms.scale, drawn >= uniforms.threshold));
        }
      }
    `;
  }
}
