/** A 2-D convolution to test a kernel on: input and filter shapes (NHWC, HWIO), stride, padding. */
export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: "same" | "valid";
}

/**
 * LeNet's two convolutions, AlexNet's first three at 67 (the first: one
 * channel, stride 4), and an odd one (stride 2, channels not multiples of 4).
 */
export const NETWORK_CONVOLUTIONS: ConvCase[] = [
  { x: [3, 28, 28, 1], filter: [5, 5, 1, 6], stride: 1, pad: "same" },
  { x: [3, 14, 14, 6], filter: [5, 5, 6, 16], stride: 1, pad: "valid" },
  { x: [4, 67, 67, 1], filter: [11, 11, 1, 96], stride: 4, pad: "valid" },
  { x: [4, 7, 7, 96], filter: [5, 5, 96, 256], stride: 1, pad: "same" },
  { x: [4, 3, 3, 256], filter: [3, 3, 256, 384], stride: 1, pad: "same" },
  { x: [3, 10, 9, 5], filter: [3, 2, 5, 7], stride: 2, pad: "valid" },
];
