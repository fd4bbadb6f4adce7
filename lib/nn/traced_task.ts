/**
 * A gradient task written so that its whole forward and backward pass can run as one TensorFlow
 * call (lib/backend's {@link TracedFunction}): every value a step makes in JavaScript (the shard's
 * data, noise, schedule values, target counts) becomes a tensor in `inputs()`, before the traced
 * part, and `loss()` computes from tensors only. The eager and the compiled path run this same
 * code, so with `compile` off nothing changes but where the tensors are made.
 *
 * @module
 */
import { tf, TracedFunction } from "../backend/mod.ts";
import type { ShardContext, TaskGradients, TaskValues } from "./_pool.ts";
import { valueAndGrads } from "./optim.ts";

/** A task's step split into what JavaScript makes and what tensors compute. */
export interface TraceableTask<M, S, O> {
  /** The task's name, for messages. */
  name: string;
  /**
   * The step's tensors made from JavaScript: the shard's data, noise drawn with the shard's seed,
   * schedule values and target counts (the caller disposes them).
   */
  inputs(model: M, shard: S, options: O & ShardContext): tf.Tensor[];
  /**
   * What changes the ops of `loss()` (switches, not values): a new key traces anew. @default ""
   */
  key?(shard: S, options: O & ShardContext): string;
  /**
   * The shard's share of the loss, and side values to read back, from `inputs()`'s tensors and
   * the model's weights; no reads, no assignments. `options` and `shard` may only pick ops
   * (switches named by `key`): a value read from them would be frozen into the trace (and caught
   * by its check).
   */
  loss(
    model: M,
    inputs: tf.Tensor[],
    options: O & ShardContext,
    shard: S,
  ): { loss: tf.Scalar; values: tf.Tensor[] };
  /** The task values from the loss (a scalar) and the side values, read back. */
  read(loss: tf.Tensor, values: tf.Tensor[], model: M): TaskValues;
}

/** A model's traced function, and the step it is called for (its switches). */
interface Compiled {
  fn: TracedFunction;
  step: { options: unknown; shard: unknown };
}

const compiled = new WeakMap<object, Compiled>();

/**
 * One shard's gradients through a {@link TraceableTask}: eagerly, or with `options.compile` as one
 * TensorFlow call per step once traced (the same numbers to float32 rounding: TensorFlow's graph
 * runtime may fuse and reorder).
 *
 * @param task The task.
 * @param model The model (a compiled function is kept per model).
 * @param params Its parameters, the gradients' order.
 * @param shard The shard.
 * @param options The task's options and the shard's context.
 * @returns The gradients (the caller disposes them) and the values read back.
 * @throws {TraceError} When compiling and the task's loss makes a changing value itself.
 */
export function traceableGradients<M extends object, S, O>(
  task: TraceableTask<M, S, O>,
  model: M,
  params: tf.Variable[],
  shard: S,
  options: O & ShardContext,
): TaskGradients {
  const inputs = task.inputs(model, shard, options);
  try {
    let outputs: tf.Tensor[];
    if (options.compile) {
      let entry = compiled.get(model);
      if (!entry) {
        const step = { options: options as unknown, shard: shard as unknown };
        const fn = new TracedFunction(
          `${task.name}_gradients`,
          (x) => body(task, model, params, x, step.options as O & ShardContext, step.shard as S),
        );
        compiled.set(model, entry = { fn, step });
      }
      entry.step.options = options;
      entry.step.shard = shard;
      outputs = entry.fn.call(inputs, task.key?.(shard, options) ?? "");
    } else {
      outputs = tf.tidy(() => body(task, model, params, inputs, options, shard));
    }
    const sides = outputs.length - 1 - params.length;
    const [loss, values, grads] = [
      outputs[0],
      outputs.slice(1, 1 + sides),
      outputs.slice(1 + sides),
    ];
    try {
      return { grads, values: task.read(loss, values, model) };
    } catch (err) {
      tf.dispose(grads); // a failed read leaves no gradient behind
      throw err;
    } finally {
      tf.dispose([loss, ...values]);
    }
  } finally {
    tf.dispose(inputs);
  }
}

/** [loss, ...side values, ...gradients]. */
function body<M, S, O>(
  task: TraceableTask<M, S, O>,
  model: M,
  params: tf.Variable[],
  inputs: tf.Tensor[],
  options: O & ShardContext,
  shard: S,
): tf.Tensor[] {
  let values: tf.Tensor[] = [];
  const { loss, grads } = valueAndGrads(params, () => {
    const out = task.loss(model, inputs, options, shard);
    values = out.values.map((v) => tf.keep(v)); // side outputs outlive the tape's tidy
    return out.loss;
  });
  return [loss, ...values, ...grads];
}
