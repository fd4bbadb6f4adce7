/**
 * The paper's PowerSGD compression figures (App. E, Table 1).
 *
 * @module
 */
import { planCompression } from "./plan.ts";

/**
 * DALL-E's compression rate for rank r at width d_model: 1 − 5r/(8·d_model). Each of the 8 GPUs
 * of a machine holds 1/8 of a sharded layer and compresses it with rank r/8 (App. E).
 *
 * @param rank The PowerSGD rank r of the whole (unsharded) layer.
 * @param dModel The model width d_model.
 * @returns The fraction of communication saved, e.g. 0.86.
 * @example
 * ```ts
 * import { paperCompressionRate } from "./paper.ts";
 * console.log(paperCompressionRate(896, 3968).toFixed(3)); // "0.859"
 * ```
 */
export function paperCompressionRate(rank: number, dModel: number): number {
  if (!(rank > 0) || !(dModel > 0)) {
    throw new RangeError(`rank and dModel must be positive, got ${rank} and ${dModel}`);
  }
  return 1 - (5 * rank) / (8 * dModel);
}

/** One row of the paper's Table 1. */
export interface Table1Row {
  /** Model size as the paper names it. */
  model: string;
  /** Width d_model. */
  dModel: number;
  /** Minimum rank (a multiple of 128) with no loss gap in the first 10% of training. */
  rank: number;
  /** The compression rate the paper prints, in whole percent. */
  paperPercent: number;
  /** Our {@linkcode paperCompressionRate} for that rank and width. */
  compressionRate: number;
}

/**
 * Table 1 of the paper: minimum PowerSGD rank per model size and its compression rate.
 *
 * @returns The three rows (2.8B, 5.6B, 12B), each with the paper's percent and ours.
 * @example
 * ```ts
 * import { paperTable1 } from "./paper.ts";
 * for (const row of paperTable1()) {
 *   console.log(row.model, Math.round(100 * row.compressionRate), row.paperPercent);
 * } // 2.8B 83 83 · 5.6B 85 85 · 12B 86 86
 * ```
 */
export function paperTable1(): Table1Row[] {
  const rows = [
    { model: "2.8B", dModel: 1920, rank: 512, paperPercent: 83 },
    { model: "5.6B", dModel: 2688, rank: 640, paperPercent: 85 },
    { model: "12B", dModel: 3968, rank: 896, paperPercent: 86 },
  ];
  return rows.map((row) => ({
    ...row,
    compressionRate: paperCompressionRate(row.rank, row.dModel),
  }));
}

/**
 * The per-GPU shards of one transformer layer's weight matrices under the paper's 8-way sharding,
 * for which PowerSGD at rank r/8 sends exactly 5r/(8·d_model) of the uncompressed elements.
 *
 * A layer has four d × d attention matrices and two d × 4d MLP matrices (12d² weights). Split
 * over g GPUs along the longer side, a GPU holds four d × d/g and two d × 4d/g blocks. At rank
 * r/g, it sends 4(d + d/g)·r/g + 2(d + 4d/g)·r/g elements instead of 12d²/g; for g = 8 the ratio is
 * 7.5d·(r/8) / 1.5d² = 5r/(8d), the formula of App. E.
 *
 * @param dModel Width d_model (divisible by gpusPerMachine).
 * @param gpusPerMachine Shards per layer. @default 8
 * @returns Six shard shapes [d, d/g] ×4 and [d, 4d/g] ×2.
 * @example
 * ```ts
 * import { shardedLayerShapes } from "./paper.ts";
 * console.log(shardedLayerShapes(1920)); // [[1920, 240] ×4, [1920, 960] ×2]
 * ```
 */
export function shardedLayerShapes(dModel: number, gpusPerMachine = 8): number[][] {
  if (!Number.isInteger(dModel / gpusPerMachine) || dModel <= 0) {
    throw new RangeError(
      `dModel must be a positive multiple of gpusPerMachine (${gpusPerMachine}), got ${dModel}`,
    );
  }
  const attention = [dModel, dModel / gpusPerMachine];
  const mlp = [dModel, (4 * dModel) / gpusPerMachine];
  return [attention, attention, attention, attention, mlp, mlp].map((s) => [...s]);
}

/** One row of {@link table1Rows}. */
export interface Table1Out {
  /** Any further column, as the table writer takes it. */
  [column: string]: string | number;
  /** The model, as the paper names it. */
  model: string;
  /** Model width. */
  d_model: number;
  /** PowerSGD rank. */
  rank: number;
  /** Rank over model width. */
  rank_per_d_model: number;
  /** The paper's compression rate, percent. */
  paper_percent: number;
  /** Compression rate from the paper's formula, percent. */
  formula_percent: number;
  /** Compression rate from counting elements, percent. */
  element_counts_percent: number;
}

/**
 * The paper's Table 1 (minimum PowerSGD rank and compression rate per model size), with the rate
 * from the formula 1 − 5r/(8·d_model) and recomputed from PowerSGD's element counts on a GPU's
 * shards of one layer (8 GPUs per machine, each compressing its shard with rank r/8).
 *
 * @returns One row per model.
 * @example
 * ```ts
 * import { table1Rows } from "./paper.ts";
 * const rows = table1Rows();
 * console.log(rows.map((r) => Math.round(r.formula_percent))); // e.g. [83, 85, 86]
 * ```
 */
export function table1Rows(): Table1Out[] {
  return paperTable1().map((row) => {
    const plan = planCompression(shardedLayerShapes(row.dModel), row.rank / 8, 0);
    const sent = plan.reduce((a, e) => a + e.elementsSent, 0);
    const full = plan.reduce((a, e) => a + e.elementsUncompressed, 0);
    return {
      model: row.model,
      d_model: row.dModel,
      rank: row.rank,
      rank_per_d_model: row.rank / row.dModel,
      paper_percent: row.paperPercent,
      formula_percent: 100 * row.compressionRate,
      element_counts_percent: 100 * (1 - sent / full),
    };
  });
}
