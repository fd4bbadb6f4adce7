/**
 * 16-bit gradient emulation and per-residual-block gradient scaling (paper App. D).
 *
 * - {@linkcode roundToFormat} / {@linkcode roundArrayToFormat} / {@linkcode roundTensorToFormat}:
 *   round to IEEE float16 or DALL-E's 1-6-9 format (ties to even, subnormals, overflow to ∞).
 * - {@linkcode GradScaler}: one dynamic scale per residual block (or one global scale), applied to
 *   float32 gradients that are then rounded to 16 bits, with underflow/overflow counts per block;
 *   its rules ({@linkcode GradScaler.update}) and checkpointable state.
 * - {@linkcode gradScale}: the same scales as a wrapper around any reducer of the trainer's
 *   gradient exchange (`lib/nn/reduce.ts`): shards send scaled 16-bit gradients, the coordinator
 *   unscales, skips a step with a non-finite block and backs that block's scale off.
 *
 * @example
 * ```ts
 * import { FLOAT16, formatLimits, roundToFormat } from "./mod.ts";
 * console.log(formatLimits(FLOAT16).maxFinite, roundToFormat(1e-8, FLOAT16)); // 65504 0
 * ```
 *
 * @module
 */
export {
  FLOAT16,
  FLOAT32,
  FLOAT_1_6_9,
  type FloatFormat,
  type FloatFormatName,
  formatByName,
  type FormatLimits,
  formatLimits,
  roundArrayToFormat,
  roundTensorToFormat,
  roundToFormat,
} from "./float_format.ts";
export {
  type BlockReport,
  GradScaler,
  type GradScalerConfig,
  type GradScaleResult,
  type RoundingCounts,
  scaleToFormat,
} from "./grad_scaler.ts";
export {
  gradScale,
  type GradScaleCoordinator,
  type GradScaleOptions,
  type GradScaleShard,
  type ScaleInfo,
} from "./reducer.ts";
