/**
 * Entry point of a gradient worker (see `_pool.ts`): one backend, one model replica built by the
 * task module named at "init", and its shard's reducer; a "step" computes the shard's gradients
 * and answers with the reducer's first payload, a "round" with its next.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type BackendPreference, initBackend, tf } from "../backend/mod.ts";
import type { Module } from "./module.ts";
import type { GradientReply, GradientRequest, GradientTask } from "./_pool.ts";
import { loadReducer, type Payload, type ShardReducer } from "./reduce.ts";

let task: GradientTask | null = null;
let model: Module | null = null;
let reducer: ShardReducer | null = null;

function post(reply: GradientReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

function postPayload(payload: Payload, values: Record<string, Float32Array | Int32Array> = {}) {
  // Transfer (not copy) each buffer once; two entries may share one.
  const buffers = new Set(payload.map((a) => a.buffer as ArrayBuffer));
  post({ type: "payload", payload, values }, [...buffers]);
}

async function handle(request: GradientRequest): Promise<void> {
  try {
    if (request.type === "init") {
      await initBackend(request.backend as BackendPreference);
      task = (await import(request.taskUrl)) as GradientTask;
      model = task.createModel(request.config);
      const module = await loadReducer(request.reducer);
      reducer = await module.createShardReducer(request.reducer.config, request.context);
      post({ type: "ready" });
      return;
    }
    if (!task || !model || !reducer) {
      throw new Error(`gradient worker got "${request.type}" before init`);
    }
    if (request.type === "round") {
      postPayload(reducer.round(request.k, request.broadcast));
      return;
    }
    if (request.type === "state") {
      post({ type: "state", state: reducer.state() });
      return;
    }
    if (request.type === "restore") {
      reducer.restore(request.state);
      post({ type: "ready" });
      return;
    }
    const params = model.parameters();
    if (request.weights.length !== params.length) {
      throw new RangeError(
        `expected ${params.length} weight arrays, got ${request.weights.length}`,
      );
    }
    tf.tidy(() => params.forEach((p, i) => p.assign(tf.tensor(request.weights[i], p.shape))));
    const result = task.gradients(
      model,
      params,
      request.batch,
      request.options as Parameters<GradientTask["gradients"]>[3],
    );
    let payload: Payload;
    try {
      payload = reducer.begin(result.grads, request.info);
    } finally {
      tf.dispose(result.grads);
    }
    postPayload(payload, result.values);
  } catch (err) {
    post({ type: "error", message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
}

self.onmessage = (event: MessageEvent<GradientRequest>) => void handle(event.data);
self.onmessageerror = () =>
  post({ type: "error", message: "gradient worker could not deserialize a request" });
