/**
 * PowerSGD gradient compression (Vogels et al., 2019) as DALL-E used it (paper §2.5, App. E),
 * over simulated data-parallel workers, and the paper's Table 1.
 *
 * - {@linkcode PowerSGD}: `step(workerGrads)` → averaged decompressed gradients; Q modes
 *   "warm" / "fixed" / "fresh", Gram-Schmidt or Householder, error feedback, 16-bit communication,
 *   cumulative `stats()`.
 * - {@linkcode planCompression}, {@linkcode matrixShape}, {@linkcode toMatrix},
 *   {@linkcode fromMatrix}: which gradients are compressed and how tensors become matrices.
 * - {@linkcode orthogonalize}, {@linkcode gramSchmidtInPlace}, {@linkcode householderQ}.
 * - {@linkcode paperCompressionRate}, {@linkcode paperTable1}.
 *
 * @example
 * ```ts
 * import { paperTable1 } from "./mod.ts";
 * console.log(paperTable1().map((r) => Math.round(100 * r.compressionRate))); // [83, 85, 86]
 * ```
 *
 * @module
 */
export {
  type CompressionPlanEntry,
  type CompressionStats,
  planCompression,
  PowerSGD,
  type PowerSgdConfig,
  type QMode,
} from "./powersgd.ts";
export { fromMatrix, type MatrixShape, matrixShape, toMatrix } from "./matrix_view.ts";
export {
  gramSchmidtInPlace,
  householderQ,
  type Orthogonalization,
  orthogonalize,
  type OrthogonalizeOptions,
} from "./orthogonalize.ts";
export { paperCompressionRate, paperTable1, shardedLayerShapes, type Table1Row } from "./paper.ts";
