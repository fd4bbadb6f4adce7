/**
 * How sparse each mask is, and what a kernel that computes only the allowed pairs would pay
 * against a causal (dense lower-triangle) one. Counted in closed form per query, without building
 * the L×L mask, so it is cheap at the paper's size (T = 256, n = 32) and beyond.
 *
 * @module
 */
import { MASK_KINDS, type MaskKind, PAPER_CONV_KERNEL } from "./masks.ts";

/** Pair counts and cost ratios of one mask. */
export interface SparsityStats {
  /** The mask kind. */
  kind: MaskKind;
  /** T, the number of text positions. */
  textLength: number;
  /** n, the image side in tokens. */
  gridSize: number;
  /** k, the conv kernel width; null for the other kinds. */
  kernel: number | null;
  /** L = T + n². */
  streamLength: number;
  /** Allowed query→key pairs in the whole L×L mask. */
  allowedPairs: number;
  /** Pairs of the causal mask, L(L + 1)/2. */
  causalPairs: number;
  /** allowedPairs / L²: the useful share of the work a dense masked implementation does. */
  allowedFraction: number;
  /** allowedPairs / causalPairs: a sparse kernel's attention cost relative to causal attention. */
  costVsCausal: number;
  /** Allowed image→image pairs. */
  imagePairsAllowed: number;
  /** Causal image→image pairs, n²(n² + 1)/2. */
  imagePairsCausal: number;
  /** imagePairsAllowed / imagePairsCausal: the saving where the masks differ. */
  imageCostVsCausal: number;
  /** Mean number of image keys an image query attends. */
  meanImageKeysPerQuery: number;
}

/** Image keys that image query a attends under the conv mask: offsets d ≤ a in the kernel. */
function convKeys(a: number, gridSize: number, kernel: number): number {
  const half = (kernel - 1) / 2;
  const seen = new Set<number>();
  for (let dr = 0; dr <= half; dr++) {
    for (let dc = dr === 0 ? 0 : -half; dc <= half; dc++) {
      const d = dr * gridSize + dc;
      if (d >= 0 && d <= a) seen.add(d); // a Set: narrow grids map two (dr, dc) to one offset
    }
  }
  return seen.size;
}

function imageKeysOf(kind: MaskKind, a: number, gridSize: number, kernel: number): number {
  switch (kind) {
    case "dense":
      return a + 1;
    case "row":
      return Math.min(a, gridSize) + 1;
    case "column":
      return Math.floor(a / gridSize) + 1;
    case "column-transposed":
      return (a % gridSize) + 1; // a is a transposed index: its row within its column block
    case "conv":
      return convKeys(a, gridSize, kernel);
    default: {
      const unknown: never = kind;
      throw new TypeError(`mask kind must be one of ${MASK_KINDS.join(", ")}, got ${unknown}`);
    }
  }
}

/**
 * Pair counts and cost ratios of one mask kind at one size.
 *
 * @param kind Which mask.
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @param kernel k, the conv kernel width (odd ≥ 1); ignored by the other kinds. @default 11
 * @returns The counts and ratios.
 * @example
 * ```ts
 * import { sparsityStats } from "./sparsity.ts";
 * const stats = sparsityStats("row", 256, 32);
 * console.log(stats.meanImageKeysPerQuery.toFixed(2)); // "32.48" (n + 1 = 33 in the interior)
 * console.log(stats.imageCostVsCausal.toFixed(4)); // "0.0634"
 * ```
 */
export function sparsityStats(
  kind: MaskKind,
  textLength: number,
  gridSize: number,
  kernel = PAPER_CONV_KERNEL,
): SparsityStats {
  if (!MASK_KINDS.includes(kind)) {
    throw new TypeError(`mask kind must be one of ${MASK_KINDS.join(", ")}, got ${kind}`);
  }
  if (!Number.isInteger(textLength) || textLength < 0) {
    throw new RangeError(`text length T must be an integer ≥ 0, got ${textLength}`);
  }
  if (!Number.isInteger(gridSize) || gridSize < 1) {
    throw new RangeError(`image grid size n must be an integer ≥ 1, got ${gridSize}`);
  }
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
    throw new RangeError(`conv kernel must be an odd integer ≥ 1, got ${kernel}`);
  }
  const imageTokens = gridSize * gridSize;
  const streamLength = textLength + imageTokens;
  let imagePairsAllowed = 0;
  for (let a = 0; a < imageTokens; a++) imagePairsAllowed += imageKeysOf(kind, a, gridSize, kernel);
  const textPairs = (textLength * (textLength + 1)) / 2; // causal text → text
  const imageToText = imageTokens * textLength; // every image token sees every text position
  const allowedPairs = textPairs + imageToText + imagePairsAllowed;
  const causalPairs = (streamLength * (streamLength + 1)) / 2;
  const imagePairsCausal = (imageTokens * (imageTokens + 1)) / 2;
  return {
    kind,
    textLength,
    gridSize,
    kernel: kind === "conv" ? kernel : null,
    streamLength,
    allowedPairs,
    causalPairs,
    allowedFraction: allowedPairs / (streamLength * streamLength),
    costVsCausal: allowedPairs / causalPairs,
    imagePairsAllowed,
    imagePairsCausal,
    imageCostVsCausal: imagePairsAllowed / imagePairsCausal,
    meanImageKeysPerQuery: imagePairsAllowed / imageTokens,
  };
}

/**
 * Sparsity statistics of every mask kind at each image size, for a notebook table.
 *
 * @param textLength T, the number of text positions (≥ 0). @default 256 (the paper's)
 * @param gridSizes The image sides n to tabulate. @default [8, 16, 32] (32 is the paper's)
 * @param kernel k, the conv kernel width. @default 11
 * @returns One row per (n, kind), n ascending, kinds in {@link MASK_KINDS} order.
 * @example
 * ```ts
 * import { sparsityTable } from "./sparsity.ts";
 * const rows = sparsityTable(256, [32]);
 * console.log(rows.map((r) => `${r.kind} ${r.imageCostVsCausal.toFixed(3)}`).join(", "));
 * // row 0.063, column 0.032, column-transposed 0.032, conv 0.109, dense 1.000
 * ```
 */
export function sparsityTable(
  textLength = 256,
  gridSizes: readonly number[] = [8, 16, 32],
  kernel = PAPER_CONV_KERNEL,
): SparsityStats[] {
  return gridSizes.flatMap((gridSize) =>
    MASK_KINDS.map((kind) => sparsityStats(kind, textLength, gridSize, kernel))
  );
}
