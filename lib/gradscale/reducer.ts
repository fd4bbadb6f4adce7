/**
 * Per-residual-block gradient scaling (paper App. D) as a wrapper around any gradient reducer of
 * lib/nn's protocol (`lib/nn/reduce.ts`), for fp16-emulated gradients in the trainer's exchange.
 *
 * Each step the coordinator hands out the current block scales with the step's info. Each shard
 * multiplies its (weighted) gradients by their block's scale and rounds them to the 16-bit
 * format, as a scaled 16-bit backward pass would give them (the emulation of
 * {@linkcode GradScaler}), and hands them to the inner shard reducer: the inner reducer exchanges
 * scaled gradients, so a 16-bit exchange (`meanReducer({ bits: 16 })`, `powerSgd({ bits: 16 })`)
 * does not underflow. The coordinator divides the inner result by the scales; a block with a
 * non-finite gradient (on any shard, or in the result) skips the step, with a reason naming the
 * block, and the scales follow App. D's rules ({@linkcode GradScaler.update}: growth when finite,
 * back-off at most once per cooldown, clamps). A skipped step leaves no trace in the inner
 * reducer: both sides restore its state from before the step (the shards in one extra round, only
 * when their inner reducer keeps state, e.g. PowerSGD's error buffers).
 *
 * Metrics per block: `grad_scale_log2_<block>` (the scale used) and `grad_underflow_<block>`
 * (non-zero entries flushed to zero, over all shards), and `grad_scale_skipped`. The scales start
 * at 2¹³·W for W shards (each shard's gradients are about 1/W of the batch's).
 *
 * @module
 */
import {
  loadReducer,
  type ReducerContext,
  type ReducerSpec,
  type ShardReducer,
} from "../nn/reduce.ts";
import { GradScaler, type GradScalerConfig } from "./grad_scaler.ts";
import { GradScaleCoordinator } from "./_scale_coordinator.ts";
import { GradScaleShard } from "./_scale_shard.ts";

export type { GradScaleCoordinator } from "./_scale_coordinator.ts";
export type { GradScaleShard, ScaleInfo } from "./_scale_shard.ts";

/**
 * Options of {@linkcode gradScale}: a {@linkcode GradScalerConfig} (`blocks`: the residual block
 * of each parameter, in parameter order; `mode`, `format`, scales and rules). `workers` defaults
 * to the number of shards.
 */
export type GradScaleOptions = GradScalerConfig;

interface GradScaleConfig {
  inner: ReducerSpec;
  scaler: GradScalerConfig;
}

/**
 * Wraps a reducer for fp16-emulated gradients with per-block (or global) dynamic scales.
 *
 * @param inner The reducer that exchanges the scaled 16-bit gradients.
 * @param options Blocks and the scaler's options.
 * @returns The wrapper's spec.
 * @example
 * ```ts
 * import { meanReducer } from "../nn/reduce.ts";
 * import { gradScale } from "./reducer.ts";
 * const spec = gradScale(meanReducer({ bits: 16 }), { blocks: ["enc.0", "enc.0", "dec.0"] });
 * console.log(spec.label); // "gradScale(mean (16-bit), per-block float16)"
 * ```
 */
export function gradScale(inner: ReducerSpec, options: GradScaleOptions): ReducerSpec {
  const scaler = new GradScaler(options); // validates
  const config: GradScaleConfig = { inner, scaler: { ...options, blocks: [...options.blocks] } };
  return {
    url: import.meta.url,
    config,
    label: `gradScale(${inner.label}, ${scaler.mode} ${scaler.format.name})`,
  };
}

function parse(config: unknown, context: ReducerContext) {
  const { inner, scaler } = (config ?? {}) as Partial<GradScaleConfig>;
  if (!inner || typeof inner.url !== "string" || !scaler) {
    throw new TypeError("gradScale's config needs an inner reducer spec and scaler options");
  }
  if (scaler.blocks?.length !== context.shapes.length) {
    throw new RangeError(
      `gradScale has a block for ${scaler.blocks?.length ?? 0} parameters, the model has ` +
        `${context.shapes.length} (${context.names.slice(0, 3).join(", ")}…)`,
    );
  }
  const gradScaler = new GradScaler({ workers: context.shards, ...scaler });
  const paramBlock = scaler.blocks.map((b) => gradScaler.blockIds.indexOf(b));
  return { inner, gradScaler, paramBlock };
}

/**
 * ReducerModule: the wrapper's shard side (loads the inner reducer's module).
 *
 * @param config A {@linkcode gradScale} spec's config.
 * @param context Shapes, names, this shard, the number of shards.
 * @returns The shard reducer.
 */
export async function createShardReducer(
  config: unknown,
  context: ReducerContext,
): Promise<ShardReducer> {
  const { inner, gradScaler, paramBlock } = parse(config, context);
  const module = await loadReducer(inner);
  const shard = await module.createShardReducer(inner.config, context);
  return new GradScaleShard(shard, paramBlock, gradScaler.blockIds.length, gradScaler.format);
}

/**
 * ReducerModule: the wrapper's coordinator (loads the inner reducer's module).
 *
 * @param config A {@linkcode gradScale} spec's config.
 * @param context Shapes, names, the number of shards.
 * @returns The coordinator.
 */
export async function createCoordinator(
  config: unknown,
  context: ReducerContext,
): Promise<GradScaleCoordinator> {
  const { inner, gradScaler, paramBlock } = parse(config, context);
  const module = await loadReducer(inner);
  const coordinator = await module.createCoordinator(inner.config, context);
  return new GradScaleCoordinator(coordinator, gradScaler, paramBlock, context.shards);
}
