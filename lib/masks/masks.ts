/**
 * The attention masks of DALL-E's prior (paper §2.2, App. B.1, Figure 11), built exactly.
 *
 * The prior sees one stream: T text positions, then the n×n image tokens in raster order, so the
 * stream length is L = T + n² and image token a = r·n + c sits at stream position T + a. A mask is
 * a `Uint8Array` of length L·L, row-major `[query][key]`, where 1 means "the query may attend the
 * key". Every mask here is causal (key ≤ query), keeps the diagonal, makes text attend text
 * causally, and lets every image token see every text position (pad positions included: the paper
 * learns one pad embedding per text position instead of masking pads). Only the image→image block
 * differs between kinds:
 *
 * ```
 *   kind                 image query a sees image key b (d = a − b) when
 *   row                  0 ≤ d ≤ n                       (back to the same column, previous row)
 *   column               d ≥ 0 and d mod n = 0           (same column, rows above)
 *   column-transposed    the column mask on transposed image states: block-diagonal triangles
 *   conv (k = 2h + 1)    d = dr·n + dc, 0 ≤ dr ≤ h, |dc| ≤ h, dc ≥ 0 when dr = 0   (raster wrap)
 *   dense                d ≥ 0                           (plain causal)
 * ```
 *
 * @module
 */

/** An image→image attention pattern, chosen by name so an ablation is one argument. */
export type MaskKind = "row" | "column" | "column-transposed" | "conv" | "dense";

/** The kinds a layer of the paper's prior uses (App. B.1). */
export type LayerMaskKind = "row" | "column" | "conv";

/** Every mask kind, in the order Figure 11 and the tables list them. */
export const MASK_KINDS: readonly MaskKind[] = [
  "row",
  "column",
  "column-transposed",
  "conv",
  "dense",
];

/** The paper's convolutional kernel width (an 11×11 causal neighbourhood). */
export const PAPER_CONV_KERNEL = 11;

function checkSizes(textLength: number, gridSize: number): void {
  if (!Number.isInteger(textLength) || textLength < 0) {
    throw new RangeError(`text length T must be an integer ≥ 0, got ${textLength}`);
  }
  if (!Number.isInteger(gridSize) || gridSize < 1) {
    throw new RangeError(`image grid size n must be an integer ≥ 1, got ${gridSize}`);
  }
}

function checkKernel(kernel: number): void {
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
    throw new RangeError(`conv kernel must be an odd integer ≥ 1, got ${kernel}`);
  }
}

/**
 * Builds a mask from its image→image rule; the text rows and the image→text block are the same
 * for every kind, so they are written once here.
 */
function buildMask(
  textLength: number,
  gridSize: number,
  imageAllows: (query: number, key: number) => boolean,
): Uint8Array {
  const imageTokens = gridSize * gridSize;
  const streamLength = textLength + imageTokens;
  const mask = new Uint8Array(streamLength * streamLength);
  for (let i = 0; i < textLength; i++) {
    mask.fill(1, i * streamLength, i * streamLength + i + 1); // text → text, causal
  }
  for (let a = 0; a < imageTokens; a++) {
    const row = (textLength + a) * streamLength;
    mask.fill(1, row, row + textLength); // image → every text position
    for (let b = 0; b <= a; b++) {
      if (imageAllows(a, b)) mask[row + textLength + b] = 1;
    }
  }
  return mask;
}

/**
 * The causal (dense) mask: every position attends itself and everything before it.
 *
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1); the stream holds n² image tokens.
 * @returns The L×L mask, L = T + n², row-major [query][key], 1 = allowed.
 * @example
 * ```ts
 * import { causalMask } from "./masks.ts";
 * const mask = causalMask(1, 1); // L = 2
 * console.log(Array.from(mask)); // [1, 0, 1, 1]
 * ```
 */
export function causalMask(textLength: number, gridSize: number): Uint8Array {
  checkSizes(textLength, gridSize);
  return buildMask(textLength, gridSize, () => true);
}

/**
 * The row mask: image token a attends image tokens a−n … a, i.e. the previous n tokens in raster
 * order, which reach back to the same column of the previous row (Child et al.'s strided pattern).
 *
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @returns The L×L mask, L = T + n².
 * @example
 * ```ts
 * import { rowMask } from "./masks.ts";
 * const n = 4, L = 16;
 * const mask = rowMask(0, n);
 * // image token 9 (row 2, column 1) sees tokens 5…9: n + 1 = 5 keys
 * console.log(mask.subarray(9 * L, 10 * L).join("")); // "0000011111000000"
 * ```
 */
export function rowMask(textLength: number, gridSize: number): Uint8Array {
  checkSizes(textLength, gridSize);
  return buildMask(textLength, gridSize, (a, b) => a - b <= gridSize);
}

/**
 * The column mask: image token a attends the tokens of its own column at or above its row.
 *
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @returns The L×L mask, L = T + n².
 * @example
 * ```ts
 * import { columnMask } from "./masks.ts";
 * const L = 16;
 * const mask = columnMask(0, 4);
 * // image token 9 (row 2, column 1) sees tokens 1, 5 and 9
 * console.log(mask.subarray(9 * L, 10 * L).join("")); // "0100010001000000"
 * ```
 */
export function columnMask(textLength: number, gridSize: number): Uint8Array {
  checkSizes(textLength, gridSize);
  return buildMask(textLength, gridSize, (a, b) => (a - b) % gridSize === 0);
}

/**
 * The column mask as it looks when the image states are transposed first (image index c·n + r
 * instead of r·n + c): each column becomes a contiguous block of n tokens, so the mask is
 * block-diagonal with causal triangles. The paper attends this way for GPU efficiency; it equals
 * P·column·Pᵀ for the permutation of {@link transposeImagePermutation}.
 *
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @returns The L×L mask, L = T + n², indexed by transposed stream positions.
 * @example
 * ```ts
 * import { columnTransposedMask } from "./masks.ts";
 * const L = 16;
 * const mask = columnTransposedMask(0, 4);
 * // transposed index 6 = column 1, row 2: it sees rows 0…2 of column 1, indices 4, 5, 6
 * console.log(mask.subarray(6 * L, 7 * L).join("")); // "0000111000000000"
 * ```
 */
export function columnTransposedMask(textLength: number, gridSize: number): Uint8Array {
  checkSizes(textLength, gridSize);
  return buildMask(
    textLength,
    gridSize,
    (p, q) => Math.floor(p / gridSize) === Math.floor(q / gridSize),
  );
}

/**
 * The image offsets d = a − b ≥ 0 a causal k×k convolutional mask allows on an n-wide grid with
 * raster wrap-around: d = dr·n + dc, 0 ≤ dr ≤ h, −h ≤ dc ≤ h, dc ≥ 0 when dr = 0.
 */
function convOffsets(gridSize: number, kernel: number): Set<number> {
  const half = (kernel - 1) / 2;
  const offsets = new Set<number>();
  for (let dr = 0; dr <= half; dr++) {
    for (let dc = dr === 0 ? 0 : -half; dc <= half; dc++) {
      const d = dr * gridSize + dc;
      // On grids narrower than the kernel an upward offset can point forward; causality wins.
      if (d >= 0) offsets.add(d);
    }
  }
  return offsets;
}

/**
 * The causal convolutional mask with raster wrap-around (like the row mask): image token a
 * attends b when a − b = dr·n + dc with 0 ≤ dr ≤ h, −h ≤ dc ≤ h and dc ≥ 0 on its own row
 * (dr = 0), kernel k = 2h + 1. An interior token sees h·k + h + 1 image keys (61 for k = 11).
 *
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @param kernel k, the odd kernel width. @default 11
 * @returns The L×L mask, L = T + n².
 * @example
 * ```ts
 * import { convMask } from "./masks.ts";
 * const L = 16;
 * const mask = convMask(0, 4, 3);
 * // image token 10 (row 2, column 2) sees 5, 6, 7 above and 9, 10 on its row: h·k + h + 1 = 5
 * console.log(mask.subarray(10 * L, 11 * L).join("")); // "0000011101100000"
 * ```
 */
export function convMask(
  textLength: number,
  gridSize: number,
  kernel = PAPER_CONV_KERNEL,
): Uint8Array {
  checkSizes(textLength, gridSize);
  checkKernel(kernel);
  const offsets = convOffsets(gridSize, kernel);
  return buildMask(textLength, gridSize, (a, b) => offsets.has(a - b));
}

/**
 * The mask of a kind chosen by name.
 *
 * @param kind Which pattern: "row", "column", "column-transposed", "conv" or "dense".
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @param kernel k, the conv kernel width; ignored by the other kinds. @default 11
 * @returns The L×L mask, L = T + n².
 * @example
 * ```ts
 * import { maskFor, rowMask } from "./masks.ts";
 * console.log(maskFor("row", 6, 4).join("") === rowMask(6, 4).join("")); // true
 * ```
 */
export function maskFor(
  kind: MaskKind,
  textLength: number,
  gridSize: number,
  kernel = PAPER_CONV_KERNEL,
): Uint8Array {
  switch (kind) {
    case "row":
      return rowMask(textLength, gridSize);
    case "column":
      return columnMask(textLength, gridSize);
    case "column-transposed":
      return columnTransposedMask(textLength, gridSize);
    case "conv":
      return convMask(textLength, gridSize, kernel);
    case "dense":
      return causalMask(textLength, gridSize);
    default: {
      const unknown: never = kind;
      throw new TypeError(`mask kind must be one of ${MASK_KINDS.join(", ")}, got ${unknown}`);
    }
  }
}

/**
 * The stream permutation P that transposes the image states: stream position T + r·n + c goes to
 * T + c·n + r, text positions stay. Transposing a square grid twice is the identity, so P is its
 * own inverse: gathering states by P moves them to transposed order and gathering again moves them
 * back.
 *
 * @param textLength T, the number of text positions (≥ 0).
 * @param gridSize n, the image side in tokens (≥ 1).
 * @returns perm with perm[streamIndex] = transposed index, length L = T + n².
 * @example
 * ```ts
 * import { transposeImagePermutation } from "./masks.ts";
 * console.log(Array.from(transposeImagePermutation(1, 2))); // [0, 1, 3, 2, 4]
 * ```
 */
export function transposeImagePermutation(textLength: number, gridSize: number): Int32Array {
  checkSizes(textLength, gridSize);
  const perm = new Int32Array(textLength + gridSize * gridSize);
  for (let i = 0; i < textLength; i++) perm[i] = i;
  for (let r = 0; r < gridSize; r++) {
    for (let c = 0; c < gridSize; c++) {
      perm[textLength + r * gridSize + c] = textLength + c * gridSize + r;
    }
  }
  return perm;
}

/**
 * The mask's rows and columns moved by a stream permutation: out[perm[i]][perm[j]] = mask[i][j],
 * i.e. P·mask·Pᵀ for the permutation matrix with P[perm[i]][i] = 1.
 *
 * @param mask An L×L mask.
 * @param perm A permutation of 0…L−1.
 * @returns The permuted L×L mask.
 * @example
 * ```ts
 * import { columnMask, columnTransposedMask, permuteMask, transposeImagePermutation } from "./masks.ts";
 * const moved = permuteMask(columnMask(6, 4), transposeImagePermutation(6, 4));
 * console.log(moved.join("") === columnTransposedMask(6, 4).join("")); // true
 * ```
 */
export function permuteMask(mask: Uint8Array, perm: Int32Array): Uint8Array {
  const streamLength = perm.length;
  if (mask.length !== streamLength * streamLength) {
    throw new RangeError(
      `mask must hold L·L = ${streamLength * streamLength} entries for a permutation of ` +
        `length ${streamLength}, got ${mask.length}`,
    );
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < streamLength; i++) {
    const outRow = perm[i] * streamLength;
    for (let j = 0; j < streamLength; j++) out[outRow + perm[j]] = mask[i * streamLength + j];
  }
  return out;
}

/**
 * The image→image mask kind of each layer of the prior (paper App. B.1): the last layer is
 * convolutional; layer l (1-based) is column when (l − 2) mod 4 = 0, otherwise row. That reads
 * "row, column, row, row, row, column, …"; 64 layers hold 47 row, 16 column and 1 conv layer.
 *
 * @param numLayers How many transformer layers (≥ 1).
 * @returns One kind per layer, first layer first.
 * @example
 * ```ts
 * import { layerMaskKinds } from "./masks.ts";
 * console.log(layerMaskKinds(6).join(" ")); // "row column row row row conv"
 * ```
 */
export function layerMaskKinds(numLayers: number): LayerMaskKind[] {
  if (!Number.isInteger(numLayers) || numLayers < 1) {
    throw new RangeError(`number of layers must be an integer ≥ 1, got ${numLayers}`);
  }
  const kinds: LayerMaskKind[] = [];
  for (let layer = 1; layer <= numLayers; layer++) {
    if (layer === numLayers) kinds.push("conv");
    else kinds.push((layer - 2) % 4 === 0 ? "column" : "row"); // layer 1 gives −1, never 0
  }
  return kinds;
}

/**
 * Draws a mask as text, one line per query: '#' allowed, '.' forbidden.
 *
 * @param mask An L×L mask.
 * @returns L lines of L characters, joined by "\n" (no trailing newline).
 * @example
 * ```ts
 * import { causalMask, maskToAscii } from "./masks.ts";
 * console.log(maskToAscii(causalMask(1, 1))); // "#.\n##"
 * ```
 */
export function maskToAscii(mask: Uint8Array): string {
  const streamLength = sideOf(mask);
  const lines: string[] = [];
  for (let i = 0; i < streamLength; i++) {
    let line = "";
    for (let j = 0; j < streamLength; j++) line += mask[i * streamLength + j] ? "#" : ".";
    lines.push(line);
  }
  return lines.join("\n");
}

/**
 * Reads a mask drawn by {@link maskToAscii} ('#' allowed, '.' forbidden; blank lines ignored).
 *
 * @param text L lines of L characters.
 * @returns The L×L mask.
 * @example
 * ```ts
 * import { maskFromAscii } from "./masks.ts";
 * console.log(Array.from(maskFromAscii("#.\n##\n"))); // [1, 0, 1, 1]
 * ```
 */
export function maskFromAscii(text: string): Uint8Array {
  const lines = text.split("\n").map((line) => line.trim()).filter((line) => line.length > 0);
  const streamLength = lines.length;
  const mask = new Uint8Array(streamLength * streamLength);
  lines.forEach((line, i) => {
    if (line.length !== streamLength) {
      throw new RangeError(
        `line ${i + 1} must hold ${streamLength} characters, got ${line.length}`,
      );
    }
    for (let j = 0; j < streamLength; j++) {
      const ch = line[j];
      if (ch !== "#" && ch !== ".") {
        throw new RangeError(`mask characters must be '#' or '.', got '${ch}' on line ${i + 1}`);
      }
      mask[i * streamLength + j] = ch === "#" ? 1 : 0;
    }
  });
  return mask;
}

/**
 * The side L of a square L×L mask.
 *
 * @param mask A mask of length L·L.
 * @returns L.
 * @example
 * ```ts
 * import { rowMask, sideOf } from "./masks.ts";
 * console.log(sideOf(rowMask(6, 4))); // 22
 * ```
 */
export function sideOf(mask: Uint8Array): number {
  const side = Math.round(Math.sqrt(mask.length));
  if (side * side !== mask.length) {
    throw new RangeError(`mask length must be a perfect square L·L, got ${mask.length}`);
  }
  return side;
}
