/**
 * Which gradients PowerSGD compresses, at which rank, and which ranks make sense at all.
 *
 * A gradient is compressed when it is a matrix (rank ≥ 2, see `matrix_view.ts`) and worth it:
 * n·m > (n + m)·r·minCompressionRate, as in torch's powerSGD_hook. Vectors and small matrices are
 * sent whole. A matrix smaller than the rank is compressed at min(r, n, m) (possible only with
 * minCompressionRate < 1; at the default 2 such a matrix is never worth compressing).
 *
 * Rank check of the reducer ({@linkcode checkRank}): a rank that compresses no matrix at full rank
 * (every matrix is sent whole, or only clamped) is a mistake, not a configuration: the run would
 * silently be the plain mean, or a smaller rank than asked for. Such a rank is a `RangeError` that
 * names it, the largest rank the gradients allow, and the parameter that allows it.
 *
 * @module
 */
import { matrixShape } from "./matrix_view.ts";

/** What PowerSGD does with one gradient tensor. */
export interface CompressionPlanEntry {
  /** The gradient's shape. */
  shape: number[];
  /** Its matrix view: "vector", "matrix" or "conv" (HWIO kernel). */
  view: "vector" | "matrix" | "conv";
  /** Rows of the matrix view. */
  n: number;
  /** Columns of the matrix view. */
  m: number;
  /** Rank used: min(rank, n, m) when compressed, else 0. */
  rank: number;
  /** Whether it is compressed. */
  compressed: boolean;
  /** Elements per step without compression: n·m. */
  elementsUncompressed: number;
  /** Elements sent per step: (n + m)·rank if compressed, else n·m. */
  elementsSent: number;
}

function checkRankValue(rank: number): void {
  if (!Number.isInteger(rank) || rank < 1) {
    throw new RangeError(`rank must be a positive integer, got ${rank}`);
  }
}

function checkRate(minCompressionRate: number): void {
  if (!(minCompressionRate >= 0)) {
    throw new RangeError(`minCompressionRate must be ≥ 0, got ${minCompressionRate}`);
  }
}

/**
 * Decides, for each gradient shape, whether and with which rank PowerSGD compresses it.
 *
 * @param shapes The gradient shapes.
 * @param rank The requested rank r.
 * @param minCompressionRate Compress only if n·m > (n + m)·r·minCompressionRate. @default 2
 * @returns One entry per shape.
 * @example
 * ```ts
 * import { planCompression } from "./plan.ts";
 * const plan = planCompression([[256, 1024], [1024], [8, 8]], 4);
 * console.log(plan.map((e) => [e.compressed, e.elementsSent])); // [[true, 5120], [false, 1024], [false, 64]]
 * ```
 */
export function planCompression(
  shapes: readonly (readonly number[])[],
  rank: number,
  minCompressionRate = 2,
): CompressionPlanEntry[] {
  checkRankValue(rank);
  checkRate(minCompressionRate);
  return shapes.map((shape) => {
    const { view, n, m } = matrixShape(shape);
    const r = Math.min(rank, n, m);
    const compressed = view !== "vector" && (n + m) * r * minCompressionRate < n * m;
    return {
      shape: [...shape],
      view,
      n,
      m,
      rank: compressed ? r : 0,
      compressed,
      elementsUncompressed: n * m,
      elementsSent: compressed ? (n + m) * r : n * m,
    };
  });
}

/** The largest rank some gradient matrix is compressed at in full. */
export interface RankLimit {
  /** That rank; 0 when no matrix is compressed even at rank 1. */
  rank: number;
  /** Index of the parameter allowing it (the largest matrix when rank is 0; -1: no matrix). */
  param: number;
}

/** Largest r ≤ min(n, m) with (n + m)·r·rate < n·m, or 0. */
function largestRankOf(n: number, m: number, rate: number): number {
  if (rate === 0) return Math.min(n, m);
  let r = Math.min(n, m, Math.ceil((n * m) / ((n + m) * rate)));
  while (r > 0 && !((n + m) * r * rate < n * m)) r--;
  return r;
}

/**
 * The largest rank at which some gradient matrix is compressed without clamping.
 *
 * @param shapes The gradient shapes.
 * @param minCompressionRate As in {@linkcode planCompression}. @default 2
 * @returns The rank and the parameter that allows it.
 * @example
 * ```ts
 * import { largestRank } from "./plan.ts";
 * console.log(largestRank([[64], [32, 48], [8, 8]])); // { rank: 9, param: 1 } (80·9·2 < 1536)
 * ```
 */
export function largestRank(
  shapes: readonly (readonly number[])[],
  minCompressionRate = 2,
): RankLimit {
  checkRate(minCompressionRate);
  let best: RankLimit = { rank: 0, param: -1 };
  let bestSize = 0;
  shapes.forEach((shape, i) => {
    const { view, n, m } = matrixShape(shape);
    if (view === "vector") return;
    const r = largestRankOf(n, m, minCompressionRate);
    if (r > best.rank || (r === best.rank && best.rank === 0 && n * m > bestSize)) {
      best = { rank: r, param: i };
      bestSize = n * m;
    }
  });
  return best;
}

/**
 * Rejects a rank the gradients do not allow: one at which no matrix would be compressed at that
 * full rank (see the module comment).
 *
 * @param rank The requested rank.
 * @param shapes The gradient shapes.
 * @param names The parameter names, same order (for the message).
 * @param minCompressionRate As in {@linkcode planCompression}. @default 2
 * @throws {RangeError} Naming the rank, the largest allowed rank and its parameter.
 * @example
 * ```ts
 * import { checkRank } from "./plan.ts";
 * checkRank(4, [[64, 64]], ["w"]); // fine
 * try { checkRank(32, [[64, 64]], ["w"]); } catch (e) { console.log((e as Error).message); }
 * // powerSgd rank 32 is larger than the gradients allow: the largest is 15, by "w" (64 × 64 …)
 * ```
 */
export function checkRank(
  rank: number,
  shapes: readonly (readonly number[])[],
  names: readonly string[],
  minCompressionRate = 2,
): void {
  checkRankValue(rank);
  const limit = largestRank(shapes, minCompressionRate);
  if (rank <= limit.rank) return;
  if (limit.param < 0) {
    throw new RangeError(
      `powerSgd rank ${rank}: no gradient is a matrix (all ${shapes.length} are vectors), ` +
        `so nothing can be compressed; use the mean reducer`,
    );
  }
  const { n, m } = matrixShape(shapes[limit.param]);
  const name = names[limit.param] ?? `parameter ${limit.param}`;
  const where = `"${name}" (${n} × ${m} matrix view, minCompressionRate ${minCompressionRate})`;
  throw new RangeError(
    limit.rank === 0
      ? `powerSgd rank ${rank} is larger than the gradients allow: no matrix is worth ` +
        `compressing even at rank 1, the largest is ${where}; use the mean reducer or a lower ` +
        `minCompressionRate`
      : `powerSgd rank ${rank} is larger than the gradients allow: the largest rank at which a ` +
        `matrix is compressed is ${limit.rank}, by ${where}`,
  );
}
