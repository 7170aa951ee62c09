/**
 * The operands of `TiledProductProgram`: dense matrices, and the two views
 * of a convolution's input as an im2col matrix (gathered where it is read,
 * never materialised).
 *
 * @module
 */
import { advanceDigits, type OperandLoader } from "./generator.ts";

/**
 * A dense row-major matrix read as the operand X(r, o): stored `[R, O]`
 * (`outer` contiguous, as a layer's weights [in, out] seen from the
 * reduction over `in`) or `[O, R]` (`reduction` contiguous, as a batch of
 * rows). Read four values at a time along the contiguous axis when its
 * size is a multiple of 4.
 */
export function denseOperand(
  options: { variable: string; terms: number; outer: number; contiguous: "outer" | "reduction" },
): OperandLoader {
  const { variable, terms: R, outer: O, contiguous } = options;
  const vector = (contiguous === "outer" ? O : R) % 4 === 0;
  const reads = vector ? contiguous : "scalar";
  // Address of (r, o), and how much one step of r moves it, in the input's own elements.
  const lanes = vector ? 4 : 1;
  const address = contiguous === "outer"
    ? (r: string, o: string) => `${r} * ${O / lanes} + ${o}${vector ? " / 4" : ""}`
    : (r: string, o: string) => `${o} * ${R / lanes} + ${r}${vector ? " / 4" : ""}`;
  const stride = contiguous === "outer" ? O / lanes : 1 / lanes;
  return {
    variable,
    vectorInput: vector,
    reads,
    shared: (tag, outer) => `let o${tag} = ${outer};\nlet oInside${tag} = o${tag} < ${O};`,
    setup: (tag, n, reduction) =>
      `var r${tag}${n} = ${reduction};\nvar p${tag}${n} = ${address(`r${tag}${n}`, `o${tag}`)};`,
    load: (tag, n, value) =>
      `if (oInside${tag} && r${tag}${n} < kEnd) { ${value} = ${variable}[p${tag}${n}]; }`,
    advance: (tag, n, depth) => `r${tag}${n} += ${depth};\np${tag}${n} += ${depth * stride};`,
  };
}

/** The geometry of a 2-D convolution (NHWC, no dilation). */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * Whether no window of the convolution reaches outside its input: no
 * padding at the top and left, and the last window ending inside (tfjs's
 * strided "same" pads only the bottom and right where the sides call for it).
 */
function alwaysInside(g: ConvGeometry): boolean {
  return g.padTop === 0 && g.padLeft === 0 &&
    (g.outHeight - 1) * g.strideHeight + g.filterHeight <= g.inHeight &&
    (g.outWidth - 1) * g.strideWidth + g.filterWidth <= g.inWidth;
}

/** WGSL that tells whether (ih, iw) lies inside the input. */
function insideImage(g: ConvGeometry, ih: string, iw: string): string {
  return alwaysInside(g)
    ? "true"
    : `${ih} >= 0 && ${ih} < ${g.inHeight} && ${iw} >= 0 && ${iw} < ${g.inWidth}`;
}

/**
 * WGSL that sets `value` to the input element at row `ih` and column `iw`
 * (each a name and the expression it is given) of image `batch`, channel
 * (or group of four) `channel` of `channels`, where `inside` holds and the
 * pixel lies inside the image (zero padding: `value` is left as it was).
 */
function inputLoad(variable: string, g: ConvGeometry, at: {
  value: string;
  ih: [string, string];
  iw: [string, string];
  inside: string;
  batch: string;
  channel: string;
  channels: number;
}): string {
  const [ih, ihValue] = at.ih;
  const [iw, iwValue] = at.iw;
  return [
    `let ${ih} = ${ihValue};`,
    `let ${iw} = ${iwValue};`,
    `if (${at.inside} && ${insideImage(g, ih, iw)}) {`,
    `  ${at.value} = ${variable}[((${at.batch} * ${g.inHeight} + ${ih}) * ${g.inWidth} + ${iw}) * ${at.channels} + ${at.channel}];`,
    `}`,
  ].join("\n");
}

/**
 * The im2col matrix of a convolution's input `x` as the operand X(r, o)
 * with the reduction over output pixels r = (b, oh, ow) and the outer axis
 * over filter elements o = (kh, kw, ci): the filter gradient's
 * x[b, oh·s − p + kh, ow·s − p + kw, ci]. Reads four input channels at a
 * time when they come in fours.
 */
export function im2colByFilterElement(variable: string, g: ConvGeometry): OperandLoader {
  const vector = g.inChannels % 4 === 0;
  const elements = g.filterHeight * g.filterWidth * g.inChannels;
  const channels = vector ? g.inChannels / 4 : g.inChannels;
  return {
    variable,
    vectorInput: vector,
    reads: vector ? "outer" : "scalar",
    shared: (tag, outer) =>
      [
        `let m${tag} = ${outer};`,
        `let mInside${tag} = m${tag} < ${elements};`,
        `let tap${tag} = m${tag} / ${g.inChannels};`,
        `let ci${tag} = (m${tag} % ${g.inChannels})${vector ? " / 4" : ""};`,
        `let offH${tag} = tap${tag} / ${g.filterWidth} - ${g.padTop};`,
        `let offW${tag} = tap${tag} % ${g.filterWidth} - ${g.padLeft};`,
      ].join("\n"),
    setup: (tag, n, reduction) =>
      [
        `var k${tag}${n} = ${reduction};`,
        `var ow${tag}${n} = k${tag}${n} % ${g.outWidth};`,
        `var oh${tag}${n} = (k${tag}${n} / ${g.outWidth}) % ${g.outHeight};`,
        `var b${tag}${n} = k${tag}${n} / ${g.outWidth * g.outHeight};`,
      ].join("\n"),
    load: (tag, n, value) =>
      inputLoad(variable, g, {
        value,
        ih: [`ih${tag}${n}`, `oh${tag}${n} * ${g.strideHeight} + offH${tag}`],
        iw: [`iw${tag}${n}`, `ow${tag}${n} * ${g.strideWidth} + offW${tag}`],
        inside: `mInside${tag} && k${tag}${n} < kEnd`,
        batch: `b${tag}${n}`,
        channel: `ci${tag}`,
        channels,
      }),
    advance: (tag, n, depth) =>
      `k${tag}${n} += ${depth};\n` +
      advanceDigits([
        [`ow${tag}${n}`, g.outWidth],
        [`oh${tag}${n}`, g.outHeight],
        [`b${tag}${n}`, Infinity],
      ], depth),
  };
}

/**
 * The im2col matrix of a convolution's input `x` as the operand X(r, o)
 * with the reduction over filter elements r = (kh, kw, ci) and the outer
 * axis over output pixels o = (b, oh, ow): the forward convolution's
 * x[b, oh·s − p + kh, ow·s − p + kw, ci]. Reads four input channels at a
 * time when they come in fours.
 */
export function im2colByOutputPixel(variable: string, g: ConvGeometry): OperandLoader {
  const vector = g.inChannels % 4 === 0;
  const pixels = g.batch * g.outHeight * g.outWidth;
  const channels = vector ? g.inChannels / 4 : g.inChannels;
  return {
    variable,
    vectorInput: vector,
    reads: vector ? "reduction" : "scalar",
    shared: (tag, outer) =>
      [
        `let k${tag} = ${outer};`,
        `let kInside${tag} = k${tag} < ${pixels};`,
        `let b${tag} = k${tag} / ${g.outWidth * g.outHeight};`,
        `let baseH${tag} = ((k${tag} / ${g.outWidth}) % ${g.outHeight}) * ${g.strideHeight} - ${g.padTop};`,
        `let baseW${tag} = (k${tag} % ${g.outWidth}) * ${g.strideWidth} - ${g.padLeft};`,
      ].join("\n"),
    setup: (tag, n, reduction) =>
      [
        `var m${tag}${n} = ${reduction};`,
        `var ci${tag}${n} = (m${tag}${n} % ${g.inChannels})${vector ? " / 4" : ""};`,
        `var kw${tag}${n} = (m${tag}${n} / ${g.inChannels}) % ${g.filterWidth};`,
        `var kh${tag}${n} = m${tag}${n} / ${g.inChannels * g.filterWidth};`,
      ].join("\n"),
    load: (tag, n, value) =>
      inputLoad(variable, g, {
        value,
        ih: [`ih${tag}${n}`, `baseH${tag} + kh${tag}${n}`],
        iw: [`iw${tag}${n}`, `baseW${tag} + kw${tag}${n}`],
        inside: `kInside${tag} && m${tag}${n} < kEnd`,
        batch: `b${tag}`,
        channel: `ci${tag}${n}`,
        channels,
      }),
    advance: (tag, n, depth) =>
      `m${tag}${n} += ${depth};\n` +
      advanceDigits([
        [`ci${tag}${n}`, channels],
        [`kw${tag}${n}`, g.filterWidth],
        [`kh${tag}${n}`, Infinity],
      ], vector ? depth / 4 : depth),
  };
}

/** The geometry of a convolution from tfjs's convolution info. */
export function convGeometry(info: {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padInfo: { top: number; left: number };
}): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}
