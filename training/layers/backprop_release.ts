import * as tf from "@tensorflow/tfjs";

/** What this module touches of a node of tfjs's gradient tape. */
interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

/**
 * Makes the backward pass of the gradients being recorded free each op's
 * output gradients and saved tensors as soon as the op's input gradients
 * are computed. Call it inside the function given to `tf.variableGrads`,
 * once the loss is computed: it wraps the ops recorded so far.
 *
 * tfjs keeps every intermediate gradient and every saved activation until
 * the whole backward pass ends. At AlexNet's first layer (64 examples at
 * 224) that is about 230 MiB more than needed, and each fresh page costs a
 * page fault on the first step.
 *
 * The backward pass walks the ops in reverse, one at a time, and calls an
 * op's input-gradient functions before it moves on, so an op's tensors are
 * released when the next op's gradient starts. An input gradient that is
 * one of those tensors itself is kept. tfjs disposes the released tensors
 * again when the pass ends, which does nothing to a disposed tensor.
 */
export function releaseGradientsEarly(): void {
  const engine = tf.engine() as unknown as { state: { activeTape: TapeNode[] | null } };
  const tape = engine.state.activeTape;
  if (tape === null) return;
  let pending: tf.Tensor[] = [];
  let computed = new Set<tf.Tensor>();
  const releasePending = () => {
    for (const tensor of pending) if (!computed.has(tensor)) tensor.dispose();
    pending = [];
    computed = new Set();
  };
  for (const node of tape) {
    const gradient = node.gradient;
    if (gradient === undefined) continue;
    node.gradient = (dys) => {
      releasePending();
      const inputGradients = gradient(dys);
      pending = [...dys.filter((dy): dy is tf.Tensor => dy !== null), ...(node.saved ?? [])];
      const tracked: Record<string, () => tf.Tensor> = {};
      for (const [name, compute] of Object.entries(inputGradients)) {
        tracked[name] = () => {
          const dx = compute();
          computed.add(dx);
          return dx;
        };
      }
      return tracked;
    };
  }
}
