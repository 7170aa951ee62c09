/** What every network of the registry is built from. */
export interface NetworkOptions {
  /** Side of the square input images. */
  resize: number;
  /** Seed of the initial weights; `null`: all zero (see `torchDefaultInit`). */
  seed: number | null;
  /**
   * Rate of the Dropout layers (AlexNet's two; 0.5 unless given). 0 turns
   * them into identities: the parity tests compare training with PyTorch's
   * without dropout's random masks.
   */
  dropout?: number;
}
