/**
 * Entry point of a gradient worker (see `parallel.ts`): one backend and one model replica, built
 * by the task module named at "init", answering each "step" with its shard's gradients.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { type BackendPreference, initBackend, tf } from "../backend/mod.ts";
import type { Module } from "./module.ts";
import type { GradientReply, GradientRequest, GradientTask } from "./parallel.ts";

let task: GradientTask | null = null;
let model: Module | null = null;

function post(reply: GradientReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

async function handle(request: GradientRequest): Promise<void> {
  try {
    if (request.type === "init") {
      await initBackend(request.backend as BackendPreference);
      task = (await import(request.taskUrl)) as GradientTask;
      model = task.createModel(request.config);
      post({ type: "ready" });
      return;
    }
    if (!task || !model) throw new Error("gradient worker got a step before init");
    const params = model.parameters();
    if (request.weights.length !== params.length) {
      throw new RangeError(
        `expected ${params.length} weight arrays, got ${request.weights.length}`,
      );
    }
    tf.tidy(() => params.forEach((p, i) => p.assign(tf.tensor(request.weights[i], p.shape))));
    const result = task.gradients(model, params, request.batch, request.options);
    const grads = result.grads.map((g) => g.dataSync() as Float32Array);
    tf.dispose(result.grads);
    post(
      { type: "grads", grads, values: result.values },
      grads.map((g) => g.buffer as ArrayBuffer),
    );
  } catch (err) {
    post({ type: "error", message: err instanceof Error ? err.stack ?? err.message : String(err) });
  }
}

self.onmessage = (event: MessageEvent<GradientRequest>) => void handle(event.data);
self.onmessageerror = () =>
  post({ type: "error", message: "gradient worker could not deserialize a request" });
