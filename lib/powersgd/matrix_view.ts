/**
 * How PowerSGD sees a gradient tensor as a matrix, and back.
 *
 * Convention (on the tfjs tensor as stored, not torch's):
 * - rank 0 and 1 (biases, norm gains): a "vector", never compressed;
 * - rank 4: a conv kernel in tfjs's HWIO layout [kh, kw, in, out]; viewed as out × (kh·kw·in) by
 *   transposing to [out, kh, kw, in] and flattening, so that rows are output channels as in
 *   torch's [out, in, kh, kw] view (the column order differs, which a rank-r approximation
 *   does not care about);
 * - any other rank: first dimension × the product of the rest. A lib/nn `Linear` weight is stored
 *   [in, out], so its matrix is in × out, the transpose of torch's out × in. PowerSGD then
 *   orthogonalises the other side, but the compressed size (n + m)·r is the same.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** The matrix view of a gradient shape. */
export interface MatrixShape {
  /** "vector" (rank ≤ 1), "conv" (rank 4, HWIO) or "matrix" (other ranks). */
  view: "vector" | "matrix" | "conv";
  /** Rows (for a vector: its length). */
  n: number;
  /** Columns (for a vector: 1). */
  m: number;
}

/**
 * The matrix view of a tensor shape.
 *
 * @param shape The tensor's shape.
 * @returns Its view kind and n × m.
 * @example
 * ```ts
 * import { matrixShape } from "./matrix_view.ts";
 * console.log(matrixShape([3, 3, 16, 32])); // { view: "conv", n: 32, m: 144 }
 * console.log(matrixShape([64, 256])); // { view: "matrix", n: 64, m: 256 }
 * ```
 */
export function matrixShape(shape: readonly number[]): MatrixShape {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length <= 1) return { view: "vector", n: size, m: 1 };
  if (shape.length === 4) {
    const [kh, kw, inCh, outCh] = shape;
    return { view: "conv", n: outCh, m: kh * kw * inCh };
  }
  return { view: "matrix", n: shape[0], m: size / shape[0] };
}

/**
 * Views a tensor as its n × m matrix (see the module comment for the convention).
 *
 * @param x A tensor of rank ≥ 2.
 * @returns A new n × m tensor.
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { toMatrix } from "./matrix_view.ts";
 * const k = tf.zeros([3, 3, 4, 8]); // HWIO
 * console.log(toMatrix(k).shape); // [8, 36]
 * ```
 */
export function toMatrix(x: tf.Tensor): tf.Tensor2D {
  const { view, n, m } = matrixShape(x.shape);
  if (view === "vector") {
    throw new RangeError(`a matrix view needs rank ≥ 2, got shape [${x.shape}]`);
  }
  return tf.tidy(() => {
    if (view === "conv") {
      // [kh, kw, in, out] → [out, kh, kw, in] → [out, kh·kw·in]
      return x.transpose([3, 0, 1, 2]).reshape([n, m]) as tf.Tensor2D;
    }
    return x.reshape([n, m]) as tf.Tensor2D; // [d0, d1, …] → [d0, d1·…]
  });
}

/**
 * Undoes {@linkcode toMatrix}: turns an n × m matrix back into a tensor of the given shape.
 *
 * @param matrix The n × m matrix.
 * @param shape The original tensor shape.
 * @returns A new tensor of that shape.
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { fromMatrix, toMatrix } from "./matrix_view.ts";
 * const k = tf.randomNormal([3, 3, 4, 8]);
 * const back = fromMatrix(toMatrix(k), k.shape);
 * console.log(back.shape); // [3, 3, 4, 8]
 * ```
 */
export function fromMatrix(matrix: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const { view, n, m } = matrixShape(shape);
  if (matrix.shape.length !== 2 || matrix.shape[0] !== n || matrix.shape[1] !== m) {
    throw new RangeError(
      `expected a ${n} × ${m} matrix for shape [${shape}], got [${matrix.shape}]`,
    );
  }
  return tf.tidy(() => {
    if (view === "conv") {
      const [kh, kw, inCh, outCh] = shape;
      // [out, kh·kw·in] → [out, kh, kw, in] → [kh, kw, in, out]
      return matrix.reshape([outCh, kh, kw, inCh]).transpose([1, 2, 3, 0]);
    }
    return matrix.reshape([...shape]);
  });
}
