/**
 * The one TensorFlow.js engine of a dalle-lab process, and the choice of the backend it runs on.
 *
 * Every module of the toolkit imports `tf` from here, never from `@tensorflow/tfjs` directly, so
 * there is exactly one engine (one memory counter, one set of registered kernels) per process.
 *
 * Backends, fastest first where they can start:
 * - `tensorflow`: `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` (libtensorflow, CUDA);
 *   optional: map one of them in `deno.json` on a machine that can install it.
 * - `webgpu`: `@tensorflow/tfjs-backend-webgpu` where `navigator.gpu` exists (optional).
 * - `wasm`: XNNPACK kernels, SIMD; the default here. The training kernels it lacks
 *   (`Conv2DBackpropFilter`, `UnsortedSegmentSum`) are registered from its own fast kernels.
 * - `cpu`: pure JavaScript; correct but far too slow for conv training.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "./_wasm_kernels.ts";

export { tf };

/** A backend a caller may ask for; `auto` picks the fastest that starts. */
export type BackendPreference = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** Environment variable that overrides the `auto` preference. */
export const BACKEND_ENV = "DALLE_LAB_BACKEND";

let initialised: Promise<string> | null = null;

const PREFERENCES: readonly BackendPreference[] = ["auto", "tensorflow", "webgpu", "wasm", "cpu"];

// Bare specifiers so that the optional packages are only fetched where a user mapped them in
// deno.json; held in variables so `deno check` does not try to resolve them.
const TFJS_NODE_GPU = "@tensorflow/tfjs-node-gpu";
const TFJS_NODE = "@tensorflow/tfjs-node";
const TFJS_WEBGPU = "@tensorflow/tfjs-backend-webgpu";

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

async function tryImport(specifier: string): Promise<string | null> {
  try {
    await import(specifier);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0] : String(err);
  }
}

async function startTensorflow(): Promise<void> {
  const errors: string[] = [];
  for (const pkg of [TFJS_NODE_GPU, TFJS_NODE]) {
    const failure = await tryImport(pkg);
    if (failure === null && tf.findBackend("tensorflow")) {
      await tf.setBackend("tensorflow");
      await tf.ready();
      return;
    }
    errors.push(`${pkg}: ${failure ?? "imported but registered no 'tensorflow' backend"}`);
  }
  throw new Error(
    `backend "tensorflow" cannot start: neither ${TFJS_NODE_GPU} nor ${TFJS_NODE} loads ` +
      `(${errors.join("; ")}). Map one of them to npm:...@4.22.0 in deno.json "imports" on a ` +
      `machine where its install script can fetch libtensorflow (see README).`,
  );
}

async function startWebgpu(): Promise<void> {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (!nav?.gpu) {
    throw new Error(
      'backend "webgpu" cannot start: navigator.gpu is missing (run Deno with --unstable-webgpu ' +
        "on a machine with a GPU driver)",
    );
  }
  const failure = await tryImport(TFJS_WEBGPU);
  if (failure !== null) {
    throw new Error(
      `backend "webgpu" cannot start: ${TFJS_WEBGPU} does not load (${failure}). ` +
        `Map it to npm:${TFJS_WEBGPU}@4.22.0 in deno.json "imports".`,
    );
  }
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error('backend "webgpu" cannot start: no WebGPU adapter was found');
  }
  await tf.ready();
}

async function startWasm(): Promise<void> {
  if (!(await tf.setBackend("wasm"))) {
    throw new Error('backend "wasm" cannot start: tfjs-backend-wasm failed to initialise');
  }
  await tf.ready();
  registerWasmTrainingKernels();
}

async function startCpu(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
  // The cpu backend greets Node-like hosts with advice to install tfjs-node on first use;
  // initBackend's own error messages already say that, so keep notebooks quiet.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if ("firstUse" in cpu) cpu.firstUse = false;
}

/**
 * Starts a backend and makes it the engine's current one.
 *
 * `auto` (the default, or the value of `DALLE_LAB_BACKEND` when set) tries `tensorflow`
 * (tfjs-node-gpu, then tfjs-node) when a user has mapped it, else `wasm`, else `cpu`. A backend
 * asked for by name that cannot start throws an error saying what is missing; it never falls back.
 *
 * @param preferred Which backend to use. @default "auto" (or `$DALLE_LAB_BACKEND`)
 * @returns The name of the backend in use: "tensorflow", "webgpu", "wasm" or "cpu".
 * @example
 * ```ts
 * import { initBackend, tf } from "./mod.ts";
 * const name = await initBackend("wasm");
 * console.log(name, tf.getBackend()); // "wasm wasm"
 * ```
 */
export async function initBackend(preferred?: BackendPreference): Promise<string> {
  const env = readEnv(BACKEND_ENV);
  const choice = preferred ?? ((env && env.length > 0) ? env : "auto") as BackendPreference;
  if (!PREFERENCES.includes(choice)) {
    throw new RangeError(
      `unknown backend "${choice}"${preferred ? "" : ` (from $${BACKEND_ENV})`}: ` +
        `expected one of ${PREFERENCES.join(", ")}`,
    );
  }
  switch (choice) {
    case "tensorflow":
      await startTensorflow();
      break;
    case "webgpu":
      await startWebgpu();
      break;
    case "wasm":
      await startWasm();
      break;
    case "cpu":
      await startCpu();
      break;
    case "auto": {
      try {
        await startTensorflow();
      } catch {
        try {
          await startWasm();
        } catch {
          await startCpu();
        }
      }
      break;
    }
  }
  const name = tf.getBackend();
  initialised = Promise.resolve(name);
  return name;
}

/**
 * Makes sure some backend is running: starts the default one unless one was already chosen.
 * Library entry points call this so a notebook cell works without a set-up cell.
 *
 * @returns The name of the backend in use.
 * @example
 * ```ts
 * import { ensureBackend } from "./mod.ts";
 * console.log(await ensureBackend());
 * ```
 */
export async function ensureBackend(): Promise<string> {
  return await (initialised ??= initBackend());
}

export { registerWasmTrainingKernels };
