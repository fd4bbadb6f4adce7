/**
 * The Fréchet distance between two sets of feature vectors (Heusel et al. 2017's FID when the
 * features are an image classifier's penultimate activations): fit a Gaussian to each set and
 * measure the 2-Wasserstein distance between the Gaussians,
 * ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).
 * The matrix square roots come from the eigenvalues of symmetric matrices (Jacobi rotations in
 * float64), which keeps the trace real where a general square root of Σ₁Σ₂ picks up imaginary
 * rounding. Plain JavaScript: features are read back once, the rest is small matrices.
 *
 * @module
 */

/** A set of feature vectors, row-major. */
export interface FeatureSet {
  /** `count × dim` values. */
  values: ArrayLike<number>;
  /** Vectors. */
  count: number;
  /** Length of each. */
  dim: number;
}

/** A Gaussian fitted to a {@link FeatureSet}. */
export interface FittedGaussian {
  /** Mean, length dim. */
  mean: Float64Array;
  /** Covariance (unbiased, divided by count − 1), dim × dim row-major. */
  cov: Float64Array;
  /** Its dimension. */
  dim: number;
}

/**
 * The mean and covariance of a set of vectors.
 *
 * @param set The vectors (at least 2).
 * @returns The fitted Gaussian.
 * @throws {RangeError} Fewer than 2 vectors, a length that does not match, or a non-finite value.
 */
export function fitGaussian(set: FeatureSet): FittedGaussian {
  const { values, count: n, dim: d } = set;
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(d) || d < 1 || values.length !== n * d) {
    throw new RangeError(
      `fitGaussian needs at least 2 vectors of length ≥ 1 (count × dim values): got count ${n}, ` +
        `dim ${d}, ${values.length} values`,
    );
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < n * d; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(`fitGaussian: value ${values[i]} at vector ${Math.floor(i / d)}`);
    }
    mean[i % d] += values[i] / n;
  }
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) centred[j] = values[r * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) cov[a * d + b] += (centred[a] * centred[b]) / (n - 1);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a];
  return { mean, cov, dim: d };
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi rotations.
 *
 * @param matrix d × d symmetric, row-major (not modified).
 * @param d Its side.
 * @returns `values` (length d) and `vectors` (column k is the k-th eigenvector).
 */
export function symmetricEigen(
  matrix: ArrayLike<number>,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  const scale = a.reduce((s, x) => s + x * x, 0);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off <= 1e-30 * Math.max(scale, 1e-300)) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < d; k++) { // rotate columns p and q
          const akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) { // and rows p and q
          const apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p], vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => a[i * d + i]), vectors: v };
}

/** V · diag(f(λ)) · Vᵀ of a symmetric matrix, negative rounding of λ clipped to 0. */
function symmetricFunction(matrix: Float64Array, d: number, f: (x: number) => number) {
  const { values, vectors } = symmetricEigen(matrix, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const w = f(Math.max(0, values[k]));
    for (let i = 0; i < d; i++) {
      const vik = vectors[i * d + k] * w;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * vectors[j * d + k];
    }
  }
  return out;
}

function multiply(x: Float64Array, y: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const xik = x[i * d + k];
      for (let j = 0; j < d; j++) out[i * d + j] += xik * y[k * d + j];
    }
  }
  return out;
}

/**
 * The Fréchet distance between the Gaussians fitted to two feature sets (see the module's note).
 *
 * @param a One set (or its fitted Gaussian).
 * @param b The other, of the same dimension.
 * @returns The distance (squared units of the features), ≥ 0.
 * @throws {RangeError} Sets of different dimensions, or one {@link fitGaussian} refuses.
 * @example
 * ```ts
 * import { frechetDistance } from "./frechet.ts";
 * const a = { values: [0, 0, 1, 1, 2, 0, 1, 2], count: 4, dim: 2 };
 * const b = { values: [5, 0, 6, 1, 7, 0, 6, 2], count: 4, dim: 2 };
 * console.log(frechetDistance(a, a).toFixed(6), frechetDistance(a, b).toFixed(6)); // "0.000000" "25.000000"
 * ```
 */
export function frechetDistance(
  a: FeatureSet | FittedGaussian,
  b: FeatureSet | FittedGaussian,
): number {
  const ga = "cov" in a ? a : fitGaussian(a), gb = "cov" in b ? b : fitGaussian(b);
  if (ga.dim !== gb.dim) {
    throw new RangeError(`frechetDistance: features of ${ga.dim} and ${gb.dim} dimensions`);
  }
  const d = ga.dim;
  let meanTerm = 0, traces = 0;
  for (let i = 0; i < d; i++) {
    meanTerm += (ga.mean[i] - gb.mean[i]) ** 2;
    traces += ga.cov[i * d + i] + gb.cov[i * d + i];
  }
  const rootA = symmetricFunction(ga.cov, d, Math.sqrt);
  const inner = multiply(multiply(rootA, gb.cov, d), rootA, d);
  // Symmetrise the rounding before the eigen-solver, which reads the upper triangle's rotations.
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      inner[i * d + j] = inner[j * d + i] = (inner[i * d + j] + inner[j * d + i]) / 2;
    }
  }
  const { values } = symmetricEigen(inner, d);
  const crossTrace = values.reduce((s, x) => s + Math.sqrt(Math.max(0, x)), 0);
  return Math.max(0, meanTerm + traces - 2 * crossTrace);
}
