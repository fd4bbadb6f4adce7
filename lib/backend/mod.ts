/**
 * The one TensorFlow.js engine of a dalle-lab process, and the choice of the backend it runs on.
 *
 * Every module of the toolkit imports `tf` from here, never from `@tensorflow/tfjs` directly, so
 * there is exactly one engine (one memory counter, one set of registered kernels) per process.
 *
 * Backends, fastest first where they can start:
 * - `tensorflow`: `@tensorflow/tfjs-node` (or `-gpu`) over TensorFlow's own C runtime, the
 *   default. `.ci/setup` builds its addon against the TensorFlow 2.21 library of the
 *   `tensorflow-cpu` wheel (see `.ci/tensorflow`), since the package's own install script
 *   downloads a library our machines cannot reach.
 * - `webgpu`: `@tensorflow/tfjs-backend-webgpu` where `navigator.gpu` exists (optional).
 * - `wasm`: XNNPACK kernels, SIMD, one thread. The training kernels it lacks or gets wrong
 *   (`Conv2DBackpropFilter`, `UnsortedSegmentSum`, `MaxPoolGrad`, padded `AvgPoolGrad`) are
 *   registered from its own kernels or plain loops; no trainer needs depthwise backprop.
 * - `cpu`: pure JavaScript; correct (its wrong `ResizeNearestNeighborGrad` and padded
 *   `AvgPoolGrad` are replaced) but far too slow for conv training.
 *
 * `auto` never degrades silently: when `tensorflow` cannot start it says why on stderr, once.
 *
 * @module
 */
import * as tfjs from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "./_wasm_kernels.ts";
import { registerCpuFixes } from "./_cpu_kernels.ts";
import { registerGradientFixes } from "./_gradients.ts";
import { registerTensorflowKernels } from "./_tensorflow_kernels.ts";
import { filterNativeStderr } from "./_stderr.ts";

/**
 * The process's one TensorFlow.js engine: `@tensorflow/tfjs`'s namespace, with the kernels and
 * gradients this module fixes registered on import.
 *
 * A constant typed as the namespace rather than a namespace re-export, so that `deno doc` documents
 * one symbol instead of all of tfjs; the type namespace of the same name below keeps
 * `tf.Tensor4D` and the other tensor types usable in type positions.
 *
 * @example
 * ```ts
 * import { ensureBackend, tf } from "./mod.ts";
 * await ensureBackend();
 * const sum = tf.tidy(() => tf.tensor1d([1, 2, 3]).sum().dataSync()[0]);
 * console.log(sum); // 6
 * ```
 */
export const tf: typeof tfjs = tfjs;

/** The tfjs types that the toolkit's signatures name as `tf.<Type>`. */
export declare namespace tf {
  /** A tensor of any rank (`tfjs.Tensor`). */
  export type Tensor = tfjs.Tensor;
  /** A rank-0 tensor. */
  export type Scalar = tfjs.Scalar;
  /** A rank-1 tensor. */
  export type Tensor1D = tfjs.Tensor1D;
  /** A rank-2 tensor, e.g. (batch, features). */
  export type Tensor2D = tfjs.Tensor2D;
  /** A rank-3 tensor, e.g. (batch, tokens, width). */
  export type Tensor3D = tfjs.Tensor3D;
  /** A rank-4 tensor, e.g. images (batch, height, width, channels). */
  export type Tensor4D = tfjs.Tensor4D;
  /** A trainable tensor. */
  export type Variable = tfjs.Variable;
  /** A tensor's rank, as tfjs's `Rank` enum. */
  export type Rank = tfjs.Rank;
  /** A tensor's element type: "float32", "int32", "bool", "complex64" or "string". */
  export type DataType = tfjs.DataType;
  /** Anything `tf.tidy` may return: tensors, or arrays and maps of them. */
  export type TensorContainer = tfjs.TensorContainer;
  /** Tensors by name. */
  export type NamedTensorMap = tfjs.NamedTensorMap;
  /** A kernel's attributes by name. */
  export type NamedAttrMap = tfjs.NamedAttrMap;
  /** A registered kernel: its name, backend and implementation. */
  export type KernelConfig = tfjs.KernelConfig;
  /** Saves tensors from a custom gradient's forward pass for its backward pass. */
  export type GradSaveFunc = tfjs.GradSaveFunc;
}

// Gradients are backend independent: tfjs-core's wrong ones are replaced once, on import.
registerGradientFixes();

/** A backend a caller may ask for; `auto` picks the fastest that starts. */
export type BackendPreference = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** Environment variable that overrides the `auto` preference. */
export const BACKEND_ENV = "DALLE_LAB_BACKEND";

let initialised: Promise<string> | null = null;
let warned = false;

/** `auto` fell back: say so once, on stderr, so a slower run is never a silent one. */
function warnDegraded(name: string, cause: unknown): void {
  if (warned) return;
  warned = true;
  const why = cause instanceof Error ? cause.message : String(cause);
  console.error(`[dalle-lab] WARNING: backend "tensorflow" unavailable, using "${name}": ${why}`);
}

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

/**
 * tfjs-node 4.22 calls `util.isNullOrUndefined`, which Node deprecated and Deno's `node:util`
 * does not have; define it before the package is imported.
 */
async function patchNodeUtil(): Promise<void> {
  const util = (await import("node:util")).default as unknown as Record<string, unknown>;
  util.isNullOrUndefined ??= (x: unknown) => x === null || x === undefined;
}

/**
 * TensorFlow's settings, read when its library loads; a value the user set wins. oneDNN's
 * kernels are off by default in this build of TensorFlow 2.21 on our machines; on, the dVAE bench
 * step ran 1.48× and the prior's 1.10× as fast (2 cores, AVX-512). The start-up log is noise.
 */
function configureTensorflow(): void {
  const defaults: Record<string, string> = {
    TF_CPP_MIN_LOG_LEVEL: "2",
    TF_ENABLE_ONEDNN_OPTS: "1",
  };
  try {
    for (const [name, value] of Object.entries(defaults)) {
      if (Deno.env.get(name) === undefined) Deno.env.set(name, value);
    }
  } catch { /* no --allow-env: TensorFlow's own defaults */ }
}

async function startTensorflow(): Promise<void> {
  if (tf.findBackend("tensorflow")) {
    await tf.setBackend("tensorflow");
    await tf.ready();
    registerTensorflowKernels();
    return;
  }
  configureTensorflow();
  await patchNodeUtil();
  const errors: string[] = [];
  for (const pkg of [TFJS_NODE_GPU, TFJS_NODE]) {
    // TensorFlow prints INFO lines as it loads that no setting silences: hold them back.
    const failure = await filterNativeStderr(async () => {
      const failure = await tryImport(pkg);
      if (failure === null && tf.findBackend("tensorflow")) {
        await tf.setBackend("tensorflow");
        await tf.ready();
        tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1))); // the first op logs too
      }
      return failure;
    });
    if (failure === null && tf.findBackend("tensorflow")) {
      registerTensorflowKernels();
      return;
    }
    errors.push(`${pkg}: ${failure ?? "imported but registered no 'tensorflow' backend"}`);
  }
  const setup = new URL("../../.ci/tensorflow", import.meta.url).pathname;
  throw new Error(
    `backend "tensorflow" cannot start: neither ${TFJS_NODE_GPU} nor ${TFJS_NODE} loads ` +
      `(${errors.join("; ")}). Run \`deno task setup\` in the toolkit: it builds tfjs-node's ` +
      `addon against the TensorFlow library of the tensorflow-cpu wheel (see .ci/tensorflow); ` +
      `in a project that imports the toolkit, then \`bash ${setup} --into=.\` there.`,
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
  registerCpuFixes();
  // The cpu backend greets Node-like hosts with advice to install tfjs-node on first use;
  // initBackend's own error messages already say that, so keep notebooks quiet.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if ("firstUse" in cpu) cpu.firstUse = false;
}

/**
 * Starts a backend and makes it the engine's current one.
 *
 * `auto` (the default, or the value of `DALLE_LAB_BACKEND` when set) tries `tensorflow`
 * (tfjs-node-gpu, then tfjs-node), else `wasm` (with a warning on stderr saying why), else `cpu`.
 * A backend asked for by name that cannot start throws an error saying what is missing; it never
 * falls back.
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
      } catch (tfError) {
        try {
          await startWasm();
        } catch {
          await startCpu();
        }
        warnDegraded(tf.getBackend(), tfError);
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

/**
 * How many processes a trainer splits each batch over unless told otherwise: TensorFlow runs its
 * own thread pool over every core, so one process; wasm and cpu run one thread per process, so
 * one per core (Deno Workers, `lib/nn/parallel.ts`). Measured per backend by `deno task bench`.
 *
 * @param backend A backend name. @default the current one
 * @returns The process count, ≥ 1.
 * @throws {RangeError} A name that is not one of tensorflow, webgpu, wasm, cpu.
 * @example
 * ```ts
 * import { defaultWorkers } from "./mod.ts";
 * console.log(defaultWorkers("tensorflow"), defaultWorkers("wasm")); // 1 and the core count
 * ```
 */
export function defaultWorkers(backend: string = tf.getBackend()): number {
  const known: readonly string[] = PREFERENCES.filter((name) => name !== "auto");
  if (!known.includes(backend)) {
    throw new RangeError(`unknown backend "${backend}": expected one of ${known.join(", ")}`);
  }
  if (backend === "tensorflow" || backend === "webgpu") return 1;
  return Math.max(1, navigator.hardwareConcurrency ?? 1);
}

export { registerWasmTrainingKernels };
export {
  canTrace,
  COMPILE_ENV,
  compileByDefault,
  TracedFunction,
  TraceError,
  type TraceStats,
  traceTotals,
} from "./_trace.ts";
