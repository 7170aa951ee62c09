import * as tf from "@tensorflow/tfjs";

/**
 * Replaces the kernel `kernelName` of `backendName` with the one `replace`
 * builds from tfjs's own (which it may call for the cases it leaves to
 * tfjs), keeping the kernel's setup.
 */
export function overrideKernel(
  kernelName: string,
  backendName: string,
  replace: (original: tf.KernelFunc) => tf.KernelFunc,
): void {
  const original = tf.getKernel(kernelName, backendName);
  if (original === undefined) {
    throw new Error(`the ${backendName} backend has no ${kernelName} kernel`);
  }
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...original, kernelFunc: replace(original.kernelFunc) });
}

/**
 * `register` made safe to call again: it runs on the first call only.
 * tfjs's kernel registry is global, and backends are set up more than once
 * in a process (the tests, `--backend auto` measuring both): a kernel
 * registered twice throws, and an override applied twice would wrap itself.
 */
export function once(register: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    register();
  };
}
