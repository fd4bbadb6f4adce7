/**
 * Linear layers applied through a matrix product whose gradient uses only untransposed
 * products.
 *
 * Why: on the wasm backend (tfjs 4.22) `BatchMatMul` reaches XNNPACK only for a plain 2-D
 * product; with `transposeA` or `transposeB` it falls back to a naive loop that measured 10–25×
 * slower here ([1536, 256]ᵀ·[1536, 1024]: 3.6 s against 0.14 s for an explicit transpose and a
 * plain product). tfjs's own matMul gradient asks for exactly those transposed products (dX =
 * dY·Wᵀ, dW = Xᵀ·dY), so training through `Linear.apply` spends most of its time there.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Linear } from "../nn/mod.ts";

type MatMul2d = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** (N, K)·(K, M) → (N, M); gradients dA = dY·transpose(B), dB = transpose(A)·dY. */
const matMul2d = tf.customGrad(
  ((a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([a, b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as tf.Tensor2D[];
        return [tf.matMul(dy, sb.transpose()), tf.matMul(sa.transpose(), dy)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as MatMul2d;

/**
 * y = x·W + b with a lib/nn `Linear`'s parameters, over the last axis of x.
 *
 * @param layer The layer (weight [in, out], optional bias [out]).
 * @param x (..., in).
 * @returns (..., out).
 */
export function dense(layer: Linear, x: tf.Tensor): tf.Tensor {
  return denseWith(layer.weight as tf.Tensor2D, layer.bias, x);
}

/**
 * y = x·W + b for explicit weight (in, out) and bias (out) tensors, e.g. column blocks of a
 * fused projection.
 *
 * @param weight (in, out).
 * @param bias (out) or null.
 * @param x (..., in).
 * @returns (..., out).
 */
export function denseWith(weight: tf.Tensor2D, bias: tf.Tensor | null, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [inFeatures, outFeatures] = weight.shape;
    const lead = x.shape.slice(0, -1);
    const flat = x.reshape([-1, inFeatures]) as tf.Tensor2D; // (N, in)
    let y: tf.Tensor = matMul2d(flat, weight); // (N, out)
    if (bias) y = y.add(bias);
    return y.reshape([...lead, outFeatures]);
  });
}

type BatchMatMul = (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/**
 * (G, M, K)·(G, K, N) → (G, M, N) as one depthwise convolution, which XNNPACK runs as grouped
 * GEMMs: channel g of a (1, M, K, G) image meets a 1×K filter with N outputs per channel.
 * wasm's own batched `BatchMatMul` is a naive loop; this measured ~3× faster on attention shapes.
 */
function batchMatMulForward(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [G, M, K] = a.shape;
  const N = b.shape[2];
  return tf.tidy(() => {
    const image = a.transpose([1, 2, 0]).reshape([1, M, K, G]) as tf.Tensor4D; // (1, M, K, G)
    const filter = b.transpose([1, 0, 2]).reshape([1, K, G, N]) as tf.Tensor4D; // (1, K, G, N)
    const out = tf.depthwiseConv2d(image, filter, 1, "valid"); // (1, M, 1, G·N)
    return out.reshape([M, G, N]).transpose([1, 0, 2]) as tf.Tensor3D; // (G, M, N)
  });
}

/** {@link batchMatMulForward} with a gradient made of the same grouped products. */
const batchMatMul3d = tf.customGrad(
  ((a: tf.Tensor3D, b: tf.Tensor3D, save: tf.GradSaveFunc) => {
    save([a, b]);
    return {
      value: batchMatMulForward(a, b),
      gradFunc: (dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as tf.Tensor3D[];
        return [
          batchMatMulForward(dy, sb.transpose([0, 2, 1])), // dA = dY·Bᵀ
          batchMatMulForward(sa.transpose([0, 2, 1]), dy), // dB = Aᵀ·dY
        ];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
) as unknown as BatchMatMul;

/**
 * Batched matrix product over leading dims: (..., M, K)·(..., K, N) → (..., M, N), both inputs
 * with the same leading dims, run as grouped convolutions (see {@link batchMatMulForward}).
 *
 * @param a (..., M, K).
 * @param b (..., K, N).
 * @returns (..., M, N).
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.rank - 1];
  return tf.tidy(() => {
    const groups = lead.reduce((p, d) => p * d, 1);
    const out = batchMatMul3d(
      a.reshape([groups, M, K]) as tf.Tensor3D,
      b.reshape([groups, K, N]) as tf.Tensor3D,
    );
    return out.reshape([...lead, M, N]);
  });
}
