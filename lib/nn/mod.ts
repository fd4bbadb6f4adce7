/**
 * The small module toolkit every dalle-lab model is built from (nanoGPT-style, readable):
 * named parameters, Linear / Conv2d / LayerNorm / Embedding, AdamW with an EMA, gradient
 * clipping, schedules, a seeded RNG, and safetensors weights and checkpoints.
 *
 * @example
 * ```ts
 * import { AdamW, Linear, valueAndGrads } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const fc = new Linear(3, 1, { seed: 0 });
 * const opt = new AdamW({ lr: 0.01 });
 * const x = tf.ones([4, 3]);
 * const { loss, grads } = valueAndGrads(fc.parameters(), () => fc.apply(x).square().mean() as tf.Scalar);
 * opt.step(fc.parameters(), grads);
 * tf.dispose([loss, ...grads, x]); opt.dispose(); fc.dispose();
 * ```
 *
 * @module
 */
export { Conv2d, Embedding, LayerNorm, Linear, Module, paramCount, seedStream } from "./module.ts";
export type { InitOptions } from "./module.ts";
export { gelu, type KvCacheMode, type LayerKv, TransformerBlock } from "./transformer.ts";
export { tidyObject } from "./_tidy.ts";
export {
  AdamW,
  checkAdamWOptions,
  clipGradNorm,
  clipScale,
  globalNorm,
  valueAndGrads,
} from "./optim.ts";
export type { AdamWOptions } from "./optim.ts";
// The generator lives in lib/io (free of TensorFlow); re-exported here for convenience.
export { Rng } from "../io/mod.ts";
export { constant, cosine, linear, scaleSteps, warmupCosine } from "./schedule.ts";
export type { Schedule } from "./schedule.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  loadWeights,
  saveCheckpoint,
  saveWeights,
} from "./safetensors.ts";
export type { StoredTensor } from "./safetensors.ts";
export {
  GradientWorkers,
  ShardedStep,
  shardSeed,
  shardSizes,
  shardSlices,
  WorkerFailure,
} from "./parallel.ts";
export type {
  GradientReply,
  GradientRequest,
  GradientTask,
  PoolSetup,
  PoolTimeouts,
  RemotePayload,
  ShardContext,
  ShardedResult,
  ShardedStepOptions,
  TaskGradients,
  TaskValues,
  WorkerFailureReason,
} from "./parallel.ts";
export { traceableGradients, type TraceableTask } from "./traced_task.ts";
export { decodeValues, encodeValues, loadReducer, meanReducer, sumEntry } from "./reduce.ts";
export type {
  Combined,
  Coordinator,
  MeanReducerOptions,
  Payload,
  ReducerContext,
  ReducerModule,
  ReducerSpec,
  ShardReducer,
} from "./reduce.ts";
export {
  checkpointStep,
  isTimingColumn,
  NonFiniteError,
  stepSeed,
  train,
  trainOptionsOf,
} from "./trainer.ts";
export type {
  ModelDefaults,
  ModelTrainOptions,
  TrainOptions,
  TrainResult,
  TrainSpec,
} from "./trainer.ts";
export { checkpointOf, openRunLog } from "./run.ts";
