/**
 * Faster replacements for tfjs-node kernels that are composites of many full-size ops.
 *
 * `Step` (the relu gradient's mask, also inside fused conv and matMul gradients) is seven
 * TensorFlow ops in tfjs-node 4.22 (IsNan, Greater, Ones, Fill, Select, Select, and their
 * scalars); here it is Greater and Cast. NaN inputs give 0 instead of NaN, as TensorFlow's own
 * `ReluGrad` does; a NaN activation makes the loss NaN anyway, which the trainers skip.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

function step({ inputs, attrs }: { inputs: Record<string, tf.TensorInfo>; attrs?: unknown }) {
  const x = inputs.x as tf.Tensor;
  const alpha = (attrs as { alpha?: number } | undefined)?.alpha ?? 0;
  return tf.tidy(() => {
    const positive = tf.greater(x, 0).cast(x.dtype);
    return alpha === 0 ? positive : positive.mul(1 - alpha).add(alpha);
  });
}

let registered = false;

/** Registers the replacements on `tensorflow`; idempotent. `initBackend("tensorflow")` calls it. */
export function registerTensorflowKernels(): void {
  if (registered || !tf.getKernel("Step", "tensorflow")) return;
  tf.unregisterKernel("Step", "tensorflow");
  tf.registerKernel({
    kernelName: "Step",
    backendName: "tensorflow",
    kernelFunc: step as unknown as tf.KernelFunc,
  });
  registered = true;
}
