/**
 * A gradient task for `parallel_test.ts` that fails on request: one parameter `w` (length 2), the
 * gradient of `sum(w × x)`, and per step a `mode` — answer, throw, hang, die, or reply malformed.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { tf } from "../../backend/mod.ts";
import { Module } from "../module.ts";
import type { TaskGradients } from "../parallel.ts";

/** What a step does. */
export type FaultMode = "ok" | "throw" | "hang" | "die" | "malformed";

/** A step's options: the mode, and `busyMs` of busy work before answering (mode "ok"). */
export interface FaultOptions {
  mode: FaultMode;
  busyMs?: number;
}

class Tiny extends Module {
  readonly w: tf.Variable;
  constructor() {
    super();
    this.w = this.param("w", tf.zeros([2]));
  }
}

/** The model: one parameter of two zeros. */
export function createModel(_config: unknown): Module {
  return new Tiny();
}

/** The gradient of `sum(w × x)` for `batch` = x, or the failure `options.mode` asks for. */
export function gradients(
  _model: Module,
  params: tf.Variable[],
  batch: Float32Array,
  options: FaultOptions,
): TaskGradients {
  const until = performance.now() + (options.busyMs ?? 0);
  switch (options.mode) {
    case "throw":
      throw new Error("the task threw on purpose");
    case "hang":
      for (;;) { /* a synchronous hang: the worker can answer nothing */ }
    case "die":
      self.close(); // the worker ends without a word
      return { grads: [], values: {} };
    case "malformed":
      self.postMessage({ type: "payload", payload: "not arrays", values: {} });
      break;
  }
  while (performance.now() < until) { /* busy */ }
  const x = tf.tensor1d(batch);
  const grads = tf.grads((w: tf.Tensor) => w.mul(x).sum())([params[0]]);
  x.dispose();
  return { grads, values: { sum: new Float32Array([batch.reduce((a, b) => a + b, 0)]) } };
}

/** One target per shard: the tests weigh nothing. */
export function targets(_batch: Float32Array): Record<string, number> {
  return { examples: 1 };
}
