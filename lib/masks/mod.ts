/**
 * Attention masks of DALL-E's prior: text/row/column/convolutional masks built exactly, the
 * paper's layer schedule, the additive bias tensor the prior uses, sparsity statistics, and the
 * panels of Figure 11 as data (lib/display draws them: `figure11`, `figure11Png`).
 *
 * @example
 * ```ts
 * import { layerMaskKinds, maskFor, maskToAscii } from "./mod.ts";
 * console.log(layerMaskKinds(4).join(" ")); // "row column row conv"
 * console.log(maskToAscii(maskFor("row", 1, 2)));
 * ```
 *
 * @module
 */
export {
  causalMask,
  columnMask,
  columnTransposedMask,
  convMask,
  type LayerMaskKind,
  layerMaskKinds,
  MASK_KINDS,
  maskFor,
  maskFromAscii,
  type MaskKind,
  maskToAscii,
  PAPER_CONV_KERNEL,
  permuteMask,
  rowMask,
  sideOf,
  transposeImagePermutation,
} from "./masks.ts";
export { MASKED_LOGIT, maskTensor, type MaskTensorOptions } from "./tensor.ts";
export { type SparsityStats, sparsityStats, sparsityTable } from "./sparsity.ts";
export { FIGURE11_SIZES, figure11Panels, type MaskPanel, maskPanel } from "./panels.ts";
