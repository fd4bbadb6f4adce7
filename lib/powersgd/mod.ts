/**
 * PowerSGD gradient compression (Vogels et al., 2019) as DALL-E used it (paper §2.5, App. E): as
 * a reducer of the trainer's gradient exchange, in a simulated all-reduce, and the paper's Table 1.
 *
 * - {@linkcode powerSgd}: `powerSgd({ rank, variant: "vogels" | "dalle", bits: 32 | 16 })`, a
 *   lib/nn reducer spec (`lib/nn/reduce.ts`) the trainer's workers run; error feedback per shard,
 *   warm start, checkpointable state, a `RangeError` for a rank the gradients do not allow.
 * - {@linkcode SimulatedAllReduce}: W simulated workers running any reducer spec through the same
 *   rounds, counting elements and bytes sent.
 * - {@linkcode PowerSGD}: the study API over the simulation, `step(workerGrads)` → averaged
 *   decompressed gradients; Q modes "warm" / "fixed" / "fresh", Gram-Schmidt or Householder,
 *   error feedback, 16-bit communication, cumulative `stats()` in elements and bytes.
 * - {@linkcode planCompression}, {@linkcode largestRank}, {@linkcode checkRank},
 *   {@linkcode matrixShape}, {@linkcode toMatrix}, {@linkcode fromMatrix}: which gradients are
 *   compressed and how tensors become matrices.
 * - {@linkcode orthogonalize}, {@linkcode gramSchmidtInPlace}, {@linkcode householderQ}.
 * - {@linkcode paperCompressionRate}, {@linkcode paperTable1}, {@linkcode table1Rows} (its rates
 *   recomputed from the compression plan's element counts).
 *
 * @example
 * ```ts
 * import { paperTable1, powerSgd } from "./mod.ts";
 * console.log(paperTable1().map((r) => Math.round(100 * r.compressionRate))); // [83, 85, 86]
 * console.log(powerSgd({ rank: 8, bits: 16 }).label); // "powerSgd(rank 8, vogels, 16-bit)"
 * ```
 *
 * @module
 */
export { type CompressionStats, PowerSGD, type PowerSgdConfig } from "./powersgd.ts";
export {
  powerSgd,
  type PowerSgdCoordinator,
  type PowerSgdOptions,
  type PowerSgdSettings,
  powerSgdSettings,
  type PowerSgdShard,
  type PowerSgdVariant,
  type QMode,
} from "./reducer.ts";
export {
  SimulatedAllReduce,
  type SimulatedStep,
  type SimulationOptions,
  type SimulationState,
  type TrafficStats,
} from "./simulate.ts";
export {
  checkRank,
  type CompressionPlanEntry,
  largestRank,
  planCompression,
  type RankLimit,
} from "./plan.ts";
export { fromMatrix, type MatrixShape, matrixShape, toMatrix } from "./matrix_view.ts";
export {
  gramSchmidtInPlace,
  householderQ,
  type Orthogonalization,
  orthogonalize,
  type OrthogonalizeOptions,
} from "./orthogonalize.ts";
export {
  paperCompressionRate,
  paperTable1,
  shardedLayerShapes,
  type Table1Out,
  type Table1Row,
  table1Rows,
} from "./paper.ts";
