// A max-pool that pads every side with −∞, as PyTorch's `MaxPool2d(padding=p)`; tfjs has no such
// layer. The same code defines it in Deno (model/graph/padded_max_pool.ts) and in the training page
// (view/page/page.js), so that a checkpoint holding it loads in both.

/**
 * Defines the `PaddedMaxPooling2D` layer class on the tfjs given (the module's in Deno, the
 * page's global one in a browser) and registers it for deserialisation. Its config is tfjs's
 * `maxPooling2d`'s with `padding` a number: the padding of each side.
 *
 * @param {any} tf
 * @returns {any} the class
 */
export function definePaddedMaxPooling2D(tf) {
  class PaddedMaxPooling2D extends tf.layers.Layer {
    /** @param {{ poolSize: number, strides: number, padding: number, name?: string }} config */
    constructor(config) {
      super(config);
      this.poolSize = config.poolSize;
      this.strides = config.strides;
      this.padding = config.padding;
    }

    /** @param {(number | null)[]} shape */
    computeOutputShape(shape) {
      const side = (/** @type {number | null} */ n) =>
        n === null ? null : Math.floor((n + 2 * this.padding - this.poolSize) / this.strides) + 1;
      return [shape[0], side(shape[1]), side(shape[2]), shape[3]];
    }

    /** @param {any} inputs */
    call(inputs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      // A numeric padding is ignored by every backend's max-pool: the same as −∞.
      return tf.maxPool(x, this.poolSize, this.strides, this.padding);
    }

    getConfig() {
      return {
        ...super.getConfig(),
        poolSize: this.poolSize,
        strides: this.strides,
        padding: this.padding,
      };
    }
  }
  PaddedMaxPooling2D.className = "PaddedMaxPooling2D";
  tf.serialization.registerClass(PaddedMaxPooling2D);
  return PaddedMaxPooling2D;
}
