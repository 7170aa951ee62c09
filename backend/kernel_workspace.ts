import * as tf from "@tensorflow/tfjs";

/**
 * A backend's own kernels run directly, for a kernel made of other kernels:
 * no tape, no engine bookkeeping, and every intermediate result freed by
 * `release`.
 */
export class KernelWorkspace {
  private readonly temporaries: tf.TensorInfo[] = [];

  constructor(readonly backend: tf.KernelBackend, readonly backendName: string) {}

  /** Runs the backend's kernel `name`; its output is a temporary. */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
    const kernel = tf.getKernel(name, this.backendName);
    if (kernel === undefined) {
      throw new Error(`the ${this.backendName} backend has no ${name} kernel`);
    }
    const result = kernel.kernelFunc({ inputs, attrs, backend: this.backend }) as tf.TensorInfo;
    this.temporaries.push(result);
    return result;
  }

  /** Makes `tensor`, made elsewhere, one of this workspace's temporaries. */
  adopt(tensor: tf.TensorInfo): void {
    this.temporaries.push(tensor);
  }

  /**
   * Frees every temporary but the memory of `kept` (the result, which the
   * caller now owns, possibly under another shape).
   */
  release(kept?: tf.TensorInfo): void {
    for (const t of this.temporaries.splice(0)) {
      if (t.dataId !== kept?.dataId) this.backend.disposeData(t.dataId);
    }
  }
}
