/**
 * Orthonormalising the columns of PowerSGD's small n × r matrix P.
 *
 * Both methods run in float64 on the host: P is small (n × r with r ≪ n), and tfjs's
 * `tf.linalg.qr` forms the full n × n Q (about 500 ms for 1024 × 32 on wasm, against ~1 ms here).
 *
 * - Gram-Schmidt (Vogels et al.; torch's powerSGD_hook): column by column, subtract the
 *   projections on the earlier columns and divide by (norm + ε), so a zero column stays zero
 *   instead of becoming NaN. The projection is done twice ("twice is enough", Giraud et al. 2005)
 *   so that columns of a rank-deficient P come out orthogonal to the earlier ones, not rounding
 *   noise pointing anywhere.
 * - Householder QR (DALL-E, App. E): add shift·I to P first (P[i][i] += shift, i < r), so that P
 *   has full column rank, then take the thin Q of a Householder QR, with column signs chosen so
 *   that R's diagonal is positive (then both methods agree on a full-rank P).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** Which orthogonalisation PowerSGD uses. */
export type Orthogonalization = "gram-schmidt" | "householder";

/**
 * Orthonormalises the columns of a row-major n × r matrix in place by Gram-Schmidt with
 * re-orthogonalisation and an ε-guarded division.
 *
 * @param p Row-major n × r values; overwritten with the result.
 * @param n Rows.
 * @param r Columns.
 * @param epsilon Added to each column norm before dividing. @default 1e-8
 * @returns `p`.
 * @example
 * ```ts
 * import { gramSchmidtInPlace } from "./orthogonalize.ts";
 * const p = new Float64Array([3, 1, 4, 1]); // [[3, 1], [4, 1]]
 * console.log(gramSchmidtInPlace(p, 2, 2)); // ≈ [0.6, 0.8, 0.8, -0.6]
 * ```
 */
export function gramSchmidtInPlace(
  p: Float64Array,
  n: number,
  r: number,
  epsilon = 1e-8,
): Float64Array {
  checkSize(p, n, r);
  for (let k = 0; k < r; k++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += p[i * r + j] * p[i * r + k];
        for (let i = 0; i < n; i++) p[i * r + k] -= dot * p[i * r + j];
      }
    }
    let sq = 0;
    for (let i = 0; i < n; i++) sq += p[i * r + k] * p[i * r + k];
    const scale = 1 / (Math.sqrt(sq) + epsilon);
    for (let i = 0; i < n; i++) p[i * r + k] *= scale;
  }
  return p;
}

/**
 * The thin Q factor (n × r, orthonormal columns) of a Householder QR of a row-major n × r
 * matrix, after adding `shift` to its diagonal; columns signed so that R's diagonal is ≥ 0.
 *
 * @param p Row-major n × r values (not modified); needs r ≤ n.
 * @param n Rows.
 * @param r Columns.
 * @param shift Added to p[i][i] for i < r before factorising. @default 1e-6
 * @returns A new row-major n × r Float64Array.
 * @example
 * ```ts
 * import { householderQ } from "./orthogonalize.ts";
 * console.log(householderQ(new Float64Array([3, 1, 4, 1]), 2, 2, 0)); // ≈ [0.6, 0.8, 0.8, -0.6]
 * ```
 */
export function householderQ(p: Float64Array, n: number, r: number, shift = 1e-6): Float64Array {
  checkSize(p, n, r);
  if (r > n) throw new RangeError(`Householder QR needs columns ≤ rows, got ${n} × ${r}`);
  const a = Float64Array.from(p);
  for (let i = 0; i < r; i++) a[i * r + i] += shift;
  const reflectors: (Float64Array | null)[] = [];
  const rDiagonal = new Float64Array(r);
  for (let k = 0; k < r; k++) {
    let sq = 0;
    for (let i = k; i < n; i++) sq += a[i * r + k] * a[i * r + k];
    const norm = Math.sqrt(sq);
    if (norm === 0) {
      reflectors.push(null); // H_k = I
      continue;
    }
    // Reflect x = a[k:, k] onto alpha·e_1, alpha of the opposite sign to x_0 to avoid cancellation.
    const alpha = a[k * r + k] >= 0 ? -norm : norm;
    const v = new Float64Array(n - k);
    for (let i = k; i < n; i++) v[i - k] = a[i * r + k];
    v[0] -= alpha;
    let vv = 0;
    for (let i = 0; i < v.length; i++) vv += v[i] * v[i];
    for (let i = 0; i < v.length; i++) v[i] *= Math.SQRT2 / Math.sqrt(vv); // now H = I − v vᵀ
    for (let j = k; j < r; j++) {
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i - k] * a[i * r + j];
      for (let i = k; i < n; i++) a[i * r + j] -= dot * v[i - k];
    }
    rDiagonal[k] = a[k * r + k];
    reflectors.push(v);
  }
  // Q = H_0 H_1 … H_{r−1} applied to the first r columns of the identity.
  const q = new Float64Array(n * r);
  for (let i = 0; i < r; i++) q[i * r + i] = 1;
  for (let k = r - 1; k >= 0; k--) {
    const v = reflectors[k];
    if (v === null) continue;
    for (let j = 0; j < r; j++) {
      let dot = 0;
      for (let i = k; i < n; i++) dot += v[i - k] * q[i * r + j];
      for (let i = k; i < n; i++) q[i * r + j] -= dot * v[i - k];
    }
  }
  for (let k = 0; k < r; k++) {
    if (rDiagonal[k] < 0) { for (let i = 0; i < n; i++) q[i * r + k] = -q[i * r + k]; }
  }
  return q;
}

function checkSize(p: Float64Array, n: number, r: number): void {
  if (p.length !== n * r) {
    throw new RangeError(`expected ${n} × ${r} = ${n * r} values, got ${p.length}`);
  }
}

/** Options of {@linkcode orthogonalize}. */
export interface OrthogonalizeOptions {
  /** Gram-Schmidt's guard added to each norm. @default 1e-8 */
  epsilon?: number;
  /** Householder's diagonal shift. @default 1e-6 */
  shift?: number;
}

/**
 * Orthonormalises the columns of an n × r tensor with the chosen method.
 *
 * @param p The n × r matrix (not disposed).
 * @param method "gram-schmidt" or "householder".
 * @param options Guard ε and Householder shift.
 * @returns A new n × r float32 tensor P̂ with P̂ᵀP̂ ≈ I (columns that were zero stay zero for
 *   Gram-Schmidt).
 * @example
 * ```ts
 * import { tf } from "../backend/mod.ts";
 * import { orthogonalize } from "./orthogonalize.ts";
 * const q = orthogonalize(tf.tensor2d([[3, 1], [4, 1]]), "householder", { shift: 0 });
 * console.log(q.arraySync()); // ≈ [[0.6, 0.8], [0.8, -0.6]]
 * ```
 */
export function orthogonalize(
  p: tf.Tensor,
  method: Orthogonalization,
  options: OrthogonalizeOptions = {},
): tf.Tensor2D {
  if (p.shape.length !== 2) throw new RangeError(`expected an n × r matrix, got [${p.shape}]`);
  const [n, r] = p.shape;
  const values = Float64Array.from(p.dataSync());
  let result: Float64Array;
  switch (method) {
    case "gram-schmidt":
      result = gramSchmidtInPlace(values, n, r, options.epsilon ?? 1e-8);
      break;
    case "householder":
      result = householderQ(values, n, r, options.shift ?? 1e-6);
      break;
    default:
      throw new RangeError(
        `orthogonalize: expected "gram-schmidt" or "householder", got "${method}"`,
      );
  }
  return tf.tensor2d(Float32Array.from(result), [n, r]);
}
