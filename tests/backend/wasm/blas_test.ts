import * as tf from "@tensorflow/tfjs";
import { assert, relativeError } from "../../support/assert.ts";
import { setupBackend } from "../../../backend/setup.ts";
import { BlasError, chooseBlas, describeBlas, useBlas } from "../../../backend/wasm/blas.ts";
import { seededRandom } from "../../../data/random.ts";
import { assertThrows } from "../../support/assert.ts";
import { BLAS_RUNS, forEachBlas } from "../../support/blas_choices.ts";
import { uniformTensor } from "../../support/test_data.ts";

const installed = BLAS_RUNS.filter((run) => run.choice !== "none");
if (installed.length === 0) {
  console.warn(
    "SKIPPED: no BLAS opened (apt-get install libopenblas0-pthread libblis4-pthread; the test task grants their paths)",
  );
}

Deno.test({
  name:
    "wasm products by each BLAS installed and by XNNPACK equal the CPU's (dense, every transpose; Winograd and im2col convolutions, conv1's, the stems', ResNet's strided and LeNet's forward, 1×1 convolutions)",
  ignore: installed.length === 0,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const random = seededRandom(12);
    await setupBackend("cpu");
    const a = uniformTensor([37, 300], random);
    const b = uniformTensor([300, 41], random);
    const x = uniformTensor([3, 13, 13, 64], random);
    const filter = uniformTensor([3, 3, 64, 72], random);
    const dy = uniformTensor([3, 13, 13, 72], random);
    const stridedDy = uniformTensor([3, 7, 7, 72], random);
    const conv1 = uniformTensor([2, 67, 67, 1], random);
    const conv1Dy = uniformTensor([2, 15, 15, 96], random);
    // A side the stride divides: on XNNPACK, the space-to-depth route.
    const conv1Input = uniformTensor([2, 68, 68, 1], random);
    const conv1Filter = uniformTensor([11, 11, 1, 96], random);
    const conv1Bias = uniformTensor([96], random);
    // The 7×7 stride-2 stem of GoogLeNet, ResNet and DenseNet, padded by 3.
    const stem = uniformTensor([2, 32, 32, 1], random);
    const stemFilter = uniformTensor([7, 7, 1, 64], random);
    const stemBias = uniformTensor([64], random);
    // 1×1 convolutions (NiN's, Inception's): products of the pixels by the filter.
    const pointwiseX = uniformTensor([3, 6, 5, 24], random);
    const pointwiseFilter = uniformTensor([1, 1, 24, 40], random);
    const pointwiseDy = uniformTensor([3, 6, 5, 40], random);
    // Few output channels (LeNet's conv2): im2col on the BLAS, batch-as-channels without.
    const narrowX = uniformTensor([3, 14, 14, 6], random);
    const narrowDy = uniformTensor([3, 10, 10, 16], random);
    const lenetFilter = uniformTensor([5, 5, 6, 16], random);
    const lenetInput = uniformTensor([3, 28, 28, 1], random);
    const stridedBias = uniformTensor([72], random);
    const same = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 };
    const kernels = () => [
      tf.matMul(a, b),
      tf.matMul(a.transpose(), b, true, false),
      tf.matMul(a, b.transpose(), false, true),
      tf.engine().runKernel("Conv2D", { x, filter }, same) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
        ...same,
        inputShape: x.shape,
      }) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        ...same,
        filterShape: filter.shape,
      }) as tf.Tensor,
      // Strided: dy times the filter, added back patch by patch (ResNet's downsampling).
      tf.engine().runKernel("Conv2DBackpropInput", { dy: stridedDy, filter }, {
        strides: 2,
        pad: 1,
        dataFormat: "NHWC",
        inputShape: x.shape,
      }) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropFilter", { x: conv1, dy: conv1Dy }, {
        strides: 4,
        pad: "valid",
        dataFormat: "NHWC",
        filterShape: [11, 11, 1, 96],
      }) as tf.Tensor,
      // At 67 the stride does not divide the side: on the BLAS, im2col all the same.
      ...([[conv1, "relu"], [conv1Input, "relu"], [conv1Input, "linear"]] as const).map((
        [input, activation],
      ) =>
        tf.fused.conv2d({
          x: input as tf.Tensor4D,
          filter: conv1Filter as tf.Tensor4D,
          strides: 4,
          pad: "valid",
          bias: conv1Bias,
          activation,
        })
      ),
      // Bias and activation by the SIMD pass (channels in fours) and in JavaScript (NiN's last 10).
      ...([[40, "relu"], [40, "linear"], [40, "sigmoid"], [10, "relu"], [10, "sigmoid"]] as const)
        .map(([channels, activation]) =>
          tf.fused.conv2d({
            x: pointwiseX as tf.Tensor4D,
            filter: pointwiseFilter.slice([0, 0, 0, 0], [1, 1, 24, channels]) as tf.Tensor4D,
            strides: 1,
            pad: "valid",
            bias: stemBias.slice(0, channels),
            activation,
          })
        ),
      tf.engine().runKernel("Conv2DBackpropInput", { dy: pointwiseDy, filter: pointwiseFilter }, {
        ...same,
        inputShape: pointwiseX.shape,
      }) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropFilter", { x: narrowX, dy: narrowDy }, {
        strides: 1,
        pad: "valid",
        dataFormat: "NHWC",
        filterShape: [5, 5, 6, 16],
      }) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropFilter", { x: pointwiseX, dy: pointwiseDy }, {
        ...same,
        filterShape: pointwiseFilter.shape,
      }) as tf.Tensor,
      // ResNet's downsampling forward: many channels, stride 2, padded by 1; its 1×1 shortcut.
      ...([[filter, 1, "relu"], [
        pointwiseFilter.pad([[0, 0], [0, 0], [0, 40], [0, 0]]),
        0,
        "linear",
      ]] as const)
        .map(([weights, pad, activation]) =>
          tf.fused.conv2d({
            x: x as tf.Tensor4D,
            filter: weights as tf.Tensor4D,
            strides: 2,
            pad,
            bias: stridedBias.slice(0, weights.shape[3]),
            activation,
          })
        ),
      // LeNet's 5×5 stride-1 layers over one channel ("same", and unpadded) and six: im2col rows.
      ...([
        [lenetInput, 1, "same", "sigmoid"],
        [lenetInput, 1, "valid", "linear"],
        [narrowX, 6, "valid", "sigmoid"],
      ] as const)
        .map(([input, channels, pad, activation]) =>
          tf.fused.conv2d({
            x: input as tf.Tensor4D,
            filter: lenetFilter.slice([0, 0, 0, 0], [5, 5, channels, 16]) as tf.Tensor4D,
            strides: 1,
            pad,
            bias: stemBias.slice(0, 16),
            activation,
          })
        ),
      // A strided "same" convolution, padded more at the bottom and right than at the top and left.
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: filter.slice([0, 0, 0, 0], [2, 2, 64, 72]) as tf.Tensor4D,
        strides: 2,
        pad: "same",
        bias: stridedBias,
        activation: "relu",
      }),
      ...(["relu", "linear"] as const).map((activation) =>
        tf.fused.conv2d({
          x: stem as tf.Tensor4D,
          filter: stemFilter as tf.Tensor4D,
          strides: 2,
          pad: 3,
          bias: stemBias,
          activation,
        })
      ),
    ];
    const expected = await Promise.all(kernels().map((t) => t.data()));
    await setupBackend("wasm");
    await forEachBlas(async ({ label }) => {
      const actual = await Promise.all(kernels().map((t) => t.data()));
      actual.forEach((values, i) => {
        const error = relativeError(values, expected[i]);
        assert(error <= 1e-4, `${label}, kernel ${i}: relative error ${error}`);
      });
    });
    console.log(`compared: ${BLAS_RUNS.map((run) => run.label).join(", ")}`);
  },
});

Deno.test("a BLAS path that is missing or not granted throws a BlasError saying so; auto and none never throw", () => {
  const missing = assertThrows(() => chooseBlas("/nonexistent/libopenblas.so.0"), BlasError);
  assert(missing.problem === "not found", missing.message);
  // The file behind Debian's symlink: installed, but not a path the task grants.
  const link = installed.find((run) => Deno.lstatSync(run.choice).isSymlink)?.choice;
  if (link) {
    const refused = assertThrows(() => chooseBlas(Deno.realPathSync(link)), BlasError);
    assert(refused.problem === "not granted", refused.message);
  }
  chooseBlas("none");
  assert(describeBlas() === "matrix products on XNNPACK: --blas none", describeBlas());
  chooseBlas("auto");
  useBlas(false);
  assert(describeBlas() === "matrix products on XNNPACK: --blas none", describeBlas());
  useBlas(true);
  const expected = installed[0]
    ? new RegExp(`^matrix products on ${installed[0].label}, /\\S+, found by --blas auto$`)
    : /^matrix products on XNNPACK: --blas auto found no BLAS/;
  assert(expected.test(describeBlas()), describeBlas());
});
