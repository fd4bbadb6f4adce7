/**
 * Gradients that tfjs-core 4.22 gets wrong, replaced for every backend (gradients are built from
 * ops, so one registration serves tensorflow, wasm and cpu alike).
 *
 * - `Cumsum`: the gradient of a cumulative sum along `axis` is the cumulative sum of dy along the
 *   same axis in the other direction, which tfjs computes, but then it transposes the result by
 *   the permutation that would move `axis` last (a leftover from when the op itself transposed).
 *   Along the last axis that permutation is null and the gradient right; along any other axis it
 *   throws a shape error, or, where the two swapped sides are equal, silently returns the gradient
 *   transposed. lib/backend/gradients_test.ts checks every variant against finite differences.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

let registered = false;

/** Registers the corrected gradients; idempotent. lib/backend/mod.ts calls it on import. */
export function registerGradientFixes(): void {
  if (registered) return;
  tf.registerGradient({
    kernelName: "Cumsum",
    inputsToSave: ["x"],
    gradFunc: (dy, _saved, attrs) => {
      const { axis, exclusive, reverse } = attrs as unknown as {
        axis: number;
        exclusive: boolean;
        reverse: boolean;
      };
      return { x: () => tf.cumsum(dy as tf.Tensor, axis, exclusive, !reverse) };
    },
  });
  registered = true;
}
