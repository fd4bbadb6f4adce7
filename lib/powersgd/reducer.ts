/**
 * PowerSGD (Vogels et al., 2019; DALL-E §2.5, App. E) as a gradient reducer of lib/nn's protocol
 * (`lib/nn/reduce.ts`): the trainer's real workers, and the simulation (`simulate.ts`), run it.
 *
 * Each shard's gradients G_w arrive weighted by its share of the batch, so the update is their
 * sum. Per compressed matrix, with M_w = G_w + e_w (its error buffer):
 *
 *     round 0  shard w:      P_w = M_w·Q                          → n × r
 *              coordinator:  P̂ = orthogonalise(Σ_w P_w)           → broadcast P̂
 *     round 1  shard w:      P̂ᵀ·M_w (= (M_wᵀ·P̂)ᵀ)                 → r × m
 *              coordinator:  Q' = Σ_w M_wᵀ·P̂, out = P̂·Q'ᵀ         → broadcast Q'ᵀ
 *     round 2  shard w:      e_w ← M_w − out/W;  Q ← Q' (warm)     → nothing
 *              coordinator:  the update: out (and the other gradients, summed whole)
 *
 * out = P̂P̂ᵀ·Σ_w M_w, and Σ_w e_w = Σ_w M_w − out: error feedback carries over exactly what the
 * update left out. With equal weights 1/W this is the usual mean formulation (workers' M scaled
 * by 1/W; errors too). Vectors and matrices not worth compressing (`plan.ts`) are sent whole in
 * round 0. Both sides use what was actually sent (P̂ and Q' after 16-bit rounding), so the
 * shards' error buffers match the coordinator's update.
 *
 * Variants: "vogels" = warm-start Q (the last Q') and Gram-Schmidt (the paper's baseline);
 * "dalle" = a fixed seeded Gaussian Q, Householder QR of P + 10⁻⁶·I, error buffers stored in the
 * 1-6-9 format (App. E). `bits: 16` sends every value (P, Q, whole tensors, and both broadcasts)
 * as IEEE halves, so a step's bytes really halve.
 *
 * @module
 */
import type { ReducerContext, ReducerSpec } from "../nn/reduce.ts";
import { type PowerSgdSettings, resolveSettings } from "./_config.ts";
import { PowerSgdCoordinator } from "./_coordinator.ts";
import { PowerSgdShard } from "./_shard.ts";
import { checkRank } from "./plan.ts";

export type { PowerSgdCoordinator } from "./_coordinator.ts";
export type { PowerSgdShard } from "./_shard.ts";
export type { PowerSgdSettings, QMode } from "./_config.ts";

/** DALL-E's or Vogels et al.'s PowerSGD (see the module comment). */
export type PowerSgdVariant = "vogels" | "dalle";

/** Options of {@linkcode powerSgd}. */
export interface PowerSgdOptions {
  /**
   * Rank r. A rank at which no gradient matrix is compressed in full is a `RangeError` when the
   * reducer is created (it names the largest rank allowed and its parameter; `plan.ts`); smaller
   * matrices are then sent whole.
   */
  rank: number;
  /** "vogels" (warm Q, Gram-Schmidt) or "dalle" (fixed Q, Householder, 1-6-9 errors). @default "vogels" */
  variant?: PowerSgdVariant;
  /** Bits per value sent: 32 or 16 (IEEE halves). @default 32 */
  bits?: 32 | 16;
  /** Compress a matrix only if n·m > (n + m)·r·minCompressionRate. @default 2 */
  minCompressionRate?: number;
  /** Seed of the Gaussian Q. @default 0 */
  seed?: number;
}

/**
 * The settings a variant stands for.
 *
 * @param options The reducer's options.
 * @returns Complete settings (validated).
 * @example
 * ```ts
 * import { powerSgdSettings } from "./reducer.ts";
 * console.log(powerSgdSettings({ rank: 4, variant: "dalle" }).errorPrecision); // "1-6-9"
 * ```
 */
export function powerSgdSettings(options: PowerSgdOptions): PowerSgdSettings {
  const variant = options.variant ?? "vogels";
  if (variant !== "vogels" && variant !== "dalle") {
    throw new RangeError(`variant must be "vogels" or "dalle", got "${variant}"`);
  }
  return resolveSettings({
    rank: options.rank,
    bits: options.bits ?? 32,
    ...(options.minCompressionRate === undefined
      ? {}
      : { minCompressionRate: options.minCompressionRate }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(variant === "dalle"
      ? { q: "fixed", orthogonalize: "householder", errorPrecision: "1-6-9" }
      : { q: "warm", orthogonalize: "gram-schmidt", errorPrecision: "float32" }),
    strictRank: true,
  });
}

/**
 * PowerSGD as a reducer for the trainer's gradient exchange.
 *
 * @param options Rank, variant, bits per value, minCompressionRate, seed.
 * @returns The reducer's spec (this module, and its settings).
 * @example
 * ```ts
 * import { powerSgd } from "./reducer.ts";
 * console.log(powerSgd({ rank: 4, variant: "dalle", bits: 16 }).label);
 * // "powerSgd(rank 4, dalle, 16-bit)"
 * ```
 */
export function powerSgd(options: PowerSgdOptions): ReducerSpec {
  const settings = powerSgdSettings(options);
  const variant = options.variant ?? "vogels";
  return {
    url: import.meta.url,
    config: settings,
    label: `powerSgd(rank ${settings.rank}, ${variant}${settings.bits === 16 ? ", 16-bit" : ""})`,
  };
}

function settingsFor(config: unknown, context: ReducerContext): PowerSgdSettings {
  const settings = resolveSettings(config);
  if (settings.strictRank) {
    checkRank(settings.rank, context.shapes, context.names, settings.minCompressionRate);
  }
  return settings;
}

/**
 * {@link ReducerModule}: PowerSGD's shard side.
 *
 * @param config A spec's config ({@linkcode PowerSgdSettings}, partial ones get defaults).
 * @param context Shapes, names, this shard, the number of shards.
 * @returns The shard reducer.
 * @throws {RangeError} For a rank the gradients do not allow (see {@linkcode PowerSgdOptions}).
 */
export function createShardReducer(config: unknown, context: ReducerContext): PowerSgdShard {
  return new PowerSgdShard(settingsFor(config, context), context);
}

/**
 * {@link ReducerModule}: PowerSGD's coordinator.
 *
 * @param config A spec's config.
 * @param context Shapes, names, the number of shards.
 * @returns The coordinator.
 * @throws {RangeError} For a rank the gradients do not allow.
 */
export function createCoordinator(config: unknown, context: ReducerContext): PowerSgdCoordinator {
  return new PowerSgdCoordinator(settingsFor(config, context), context);
}
