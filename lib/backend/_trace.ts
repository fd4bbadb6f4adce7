/**
 * A function of tensors run as one TensorFlow call: traced once while it runs eagerly, then built
 * into a TensorFlow function (TensorFlow's graph runtime: Grappler's rewrites, oneDNN's fused
 * kernels, inter-op parallelism) that every later call with the same input shapes runs as one op.
 *
 * How: tfjs-node's addon, as `.ci/tensorflow` builds it, records each op it executes while a trace
 * is open (`.ci/addon/graph_trace.cc`). Inside the trace, a tensor that existed before it (a
 * weight, a cached mask) becomes an input that every call reads afresh (a variable's current
 * value), a tensor made from JavaScript values during it becomes a constant, and the body's
 * results become the function's outputs.
 *
 * What keeps a call honest:
 * - **Two traces, every result from the graph.** The first two calls with a signature also run
 *   eagerly while recording; the second recording must equal the first (the same ops, wiring,
 *   attributes and constants, and the same captured tensors), else {@link TraceError} says which
 *   constant changed: a value made from JavaScript inside the body that differs between calls (a
 *   step size, noise) must be passed as an input instead. Every call's results, those two
 *   included, come from the built function, so which calls were traced never shows in them.
 * - **One function per signature** (the inputs' shapes and dtypes, and a key the caller gives for
 *   switches that change the ops): a new signature traces anew, never runs another's graph.
 * - **No side effects in the body:** assigning a variable inside it is a {@link TraceError}
 *   (return the new value and assign it outside).
 * - Reads inside the body (`dataSync`) happen during the traces only; a body whose ops depend on
 *   what it reads must not be traced (the second trace catches it only when the read changes).
 *
 * @module
 */
import * as tfjs from "@tensorflow/tfjs";

/** A traced function that cannot run as one call (a changing constant, a side effect, …). */
export class TraceError extends Error {
  /**
   * @param message What went wrong and what to do.
   */
  constructor(message: string) {
    super(message);
    this.name = "TraceError";
  }
}

/** What the addon's trace calls look like (see .ci/addon/graph_trace.h). */
interface TraceBinding {
  traceBegin(): void;
  traceConst(id: number): void;
  traceEnd(name: string, outputIds: number[]): TraceInfo;
  traceAbort(): void;
  traceRemove(name: string): void;
}

interface TraceInfo {
  name: string;
  inputIds: number[];
  consts: string[];
  structure: string;
  ops: number;
}

/** The parts of tfjs-node's kernel backend a trace uses. */
interface NodeBackend {
  binding: TraceBinding & { TF_ATTR_BOOL: number };
  tensorMap: { get(dataId: object): { values: unknown; id: number } | undefined };
  getInputTensorIds(tensors: tfjs.Tensor[]): number[];
  executeMultipleOutputs(
    name: string,
    attrs: unknown[],
    inputs: tfjs.Tensor[],
    count: number,
  ): tfjs.Tensor[];
}

/** Where each input of a traced function comes from at a call. */
type Feed = { input: number } | { tensor: tfjs.Tensor };

interface Recording {
  name: string;
  feeds: Feed[];
  consts: string[];
  structure: string;
  ops: number;
  outputs: number;
}

function nodeBackend(): NodeBackend | null {
  if (tfjs.getBackend() !== "tensorflow") return null;
  const backend = tfjs.backend() as unknown as Partial<NodeBackend>;
  return typeof backend.binding?.traceBegin === "function" ? backend as NodeBackend : null;
}

/**
 * Whether functions can be traced here: the `tensorflow` backend, with an addon built by
 * `.ci/tensorflow` (which adds the trace). Elsewhere {@link TracedFunction.call} runs its body
 * eagerly.
 *
 * @returns Whether {@link TracedFunction} compiles.
 * @example
 * ```ts
 * import { canTrace } from "./mod.ts";
 * console.log(typeof canTrace()); // "boolean"
 * ```
 */
export function canTrace(): boolean {
  return nodeBackend() !== null;
}

/**
 * The environment variable that sets `compile` wherever a caller leaves it unset (the trainers,
 * `Pipeline.generate`): "0" runs eagerly (for debugging, or to compare), "1" asks for compilation
 * (with a warning where the backend cannot trace).
 */
export const COMPILE_ENV = "DALLE_LAB_COMPILE";

/**
 * Whether a caller that leaves `compile` unset compiles: {@link COMPILE_ENV} when it says "0" or
 * "1", else {@link canTrace}.
 *
 * @returns The default of `compile`.
 * @example
 * ```ts
 * import { compileByDefault } from "./mod.ts";
 * console.log(typeof compileByDefault()); // "boolean"
 * ```
 */
export function compileByDefault(): boolean {
  const fromEnv = Deno.env.get(COMPILE_ENV);
  return fromEnv === "1" ? true : fromEnv === "0" ? false : canTrace();
}

let functionCount = 0;
const totals: TraceStats = { traced: 0, compiled: 0, eager: 0, ops: 0 };

/**
 * The process's counters over every {@link TracedFunction} (`ops`: the newest recording's), so a
 * run or a test can say how its steps ran.
 *
 * @returns A copy of the counters.
 * @example
 * ```ts
 * import { traceTotals } from "./mod.ts";
 * console.log(traceTotals().compiled >= 0); // true
 * ```
 */
export function traceTotals(): TraceStats {
  return { ...totals };
}

/** Counters of a {@link TracedFunction}. */
export interface TraceStats {
  /** Calls also run eagerly while recording (the first two of each signature). */
  traced: number;
  /** Calls whose results came from the TensorFlow function (every call, traced ones too). */
  compiled: number;
  /** Calls run eagerly because this backend cannot trace. */
  eager: number;
  /** Ops in the newest recording. */
  ops: number;
}

/**
 * A function of tensors that runs as one TensorFlow call after two traces (see the module docs).
 *
 * @example
 * ```ts
 * import { initBackend, tf, TracedFunction } from "./mod.ts";
 * await initBackend();
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const f = new TracedFunction("scale", ([x]) => [x.mul(w).sum()]);
 * const x = tf.tensor1d([3, 4]);
 * for (let i = 0; i < 3; i++) {
 *   const [y] = f.call([x]);
 *   console.log(y.dataSync()[0]); // 11 each time (traced at the first two calls)
 *   y.dispose();
 * }
 * f.dispose(); tf.dispose([w, x]);
 * ```
 */
export class TracedFunction {
  /** For messages and the function's name. */
  readonly name: string;
  readonly #body: (inputs: tfjs.Tensor[]) => tfjs.Tensor[];
  readonly #bySignature = new Map<string, { first?: Recording; built?: Recording }>();
  /** What ran so far. */
  readonly stats: TraceStats = { traced: 0, compiled: 0, eager: 0, ops: 0 };

  /** Whether the built function is compiled by XLA (see the constructor). */
  readonly xla: boolean;

  /**
   * @param name For messages.
   * @param body The computation: new tensors from its inputs (and from tensors it reads, such as
   *   a model's weights); no variable assignments. It runs inside `tf.tidy`.
   * @param options `xla`: have XLA's CPU JIT compile the built function (`_XlaMustCompile`):
   *   it pays where one small graph runs many times, costs a compile (about a second) per
   *   signature, and fails for ops XLA has no kernel for. @default false
   */
  constructor(
    name: string,
    body: (inputs: tfjs.Tensor[]) => tfjs.Tensor[],
    options: { xla?: boolean } = {},
  ) {
    this.name = name;
    this.#body = body;
    this.xla = options.xla ?? false;
  }

  /**
   * Runs the function as one TensorFlow op; the first two calls of a signature also run the body
   * eagerly, to record it.
   *
   * @param inputs The inputs (shapes and dtypes pick the function).
   * @param key What else changes the body's ops (switches), so that it picks the function too.
   *   @default ""
   * @returns New tensors, the body's results (the caller disposes them).
   * @throws {TraceError} When the second trace differs from the first, or the body assigns a
   *   variable, or the recording cannot be built into a function.
   */
  call(inputs: tfjs.Tensor[], key = ""): tfjs.Tensor[] {
    const backend = nodeBackend();
    if (!backend) {
      this.stats.eager++;
      totals.eager++;
      return tfjs.tidy(() => this.#body(inputs));
    }
    // The same tensor passed twice is one input of the recording: its own signature.
    const alias = inputs.map((t) => inputs.findIndex((u) => u.dataId === t.dataId));
    const signature =
      inputs.map((t, i) => `${t.dtype}[${t.shape}]${alias[i] === i ? "" : `=${alias[i]}`}`)
        .join(" ") + (key ? ` ${key}` : "");
    let entry = this.#bySignature.get(signature);
    if (!entry) this.#bySignature.set(signature, entry = {});
    if (entry.built) return this.#compiled(backend, entry.built, inputs);
    const { outputs, recording } = this.#trace(backend, inputs);
    this.stats.traced++;
    this.stats.ops = totals.ops = recording.ops;
    totals.traced++;
    // What a call returns always comes from the function, the traces' calls too: a run gives
    // the same numbers whichever of its steps were traced (so a resumed run equals an unbroken
    // one), and the eager results serve only to check the recording.
    const eagerOutputs = outputs.filter((t) => !inputs.includes(t));
    if (!entry.first) {
      entry.first = recording;
      tfjs.dispose(eagerOutputs);
      return this.#compiled(backend, recording, inputs);
    }
    const first = entry.first;
    entry.first = undefined;
    backend.binding.traceRemove(first.name);
    tfjs.dispose(eagerOutputs);
    const why = differences(first, recording);
    if (why) {
      backend.binding.traceRemove(recording.name);
      throw new TraceError(`${this.name} (inputs ${signature}): ${why}`);
    }
    entry.built = recording;
    return this.#compiled(backend, recording, inputs);
  }

  #compiled(backend: NodeBackend, recording: Recording, inputs: tfjs.Tensor[]): tfjs.Tensor[] {
    this.stats.compiled++;
    totals.compiled++;
    return this.#run(backend, recording, inputs);
  }

  /** Removes the built functions from TensorFlow's context. */
  dispose(): void {
    const backend = nodeBackend();
    for (const entry of this.#bySignature.values()) {
      for (const r of [entry.first, entry.built]) if (r) backend?.binding.traceRemove(r.name);
    }
    this.#bySignature.clear();
  }

  #run(backend: NodeBackend, recording: Recording, inputs: tfjs.Tensor[]): tfjs.Tensor[] {
    const fed = recording.feeds.map((feed) => {
      if ("input" in feed) return inputs[feed.input];
      if (feed.tensor.isDisposed) {
        throw new TraceError(
          `${this.name}: a tensor it read when traced (shape [${feed.tensor.shape}]) has been ` +
            "disposed; pass it as an input",
        );
      }
      return feed.tensor;
    });
    const attrs = this.xla
      ? [{ name: "_XlaMustCompile", type: backend.binding.TF_ATTR_BOOL, value: true }]
      : [];
    return backend.executeMultipleOutputs(recording.name, attrs, fed, recording.outputs);
  }

  #trace(
    backend: NodeBackend,
    inputs: tfjs.Tensor[],
  ): { outputs: tfjs.Tensor[]; recording: Recording } {
    const { binding } = backend;
    const original = backend.getInputTensorIds;
    const explicit = new Map<number, number>();
    original.call(backend, inputs).forEach((id, i) => explicit.has(id) || explicit.set(id, i));
    const captured = new Map<number, tfjs.Tensor>();
    // Tensors made after this one were made during the trace.
    const marker = tfjs.scalar(0);
    const start = marker.id;
    marker.dispose();
    const variables = Object.values(tfjs.engine().state.registeredVariables);
    const before = variables.map((v) => v.dataId);
    backend.getInputTensorIds = (tensors: tfjs.Tensor[]) => {
      const fresh = tensors.map((t) => backend.tensorMap.get(t.dataId)?.values != null);
      const ids = original.call(backend, tensors);
      tensors.forEach((t, i) => {
        if (t.dataId === undefined || (t.id > start && fresh[i])) {
          binding.traceConst(ids[i]); // values from JavaScript (or an int64 scalar): a constant
        } else if (!captured.has(ids[i]) || t instanceof tfjs.Variable) {
          captured.set(ids[i], t);
        }
      });
      return ids;
    };
    const name = `graph_trace_${functionCount++}_${this.name.replace(/[^A-Za-z0-9]/g, "_")}`;
    let outputs: tfjs.Tensor[] = [];
    let info: TraceInfo;
    binding.traceBegin();
    try {
      outputs = tfjs.tidy(() => this.#body(inputs));
      const assigned = variables.find((v, i) => v.dataId !== before[i] && !v.isDisposed);
      if (assigned) {
        throw new TraceError(
          `${this.name} assigns variable "${assigned.name}": return the new value and assign ` +
            "it outside the traced function",
        );
      }
      try {
        info = binding.traceEnd(name, backend.getInputTensorIds(outputs));
      } catch (err) {
        throw new TraceError(`${this.name}: ${(err as Error).message}`);
      }
    } catch (err) {
      // The body's own errors (a bad input, say) pass through as they are.
      binding.traceAbort();
      tfjs.dispose(outputs.filter((t) => !inputs.includes(t)));
      throw err;
    } finally {
      backend.getInputTensorIds = original;
    }
    const feeds = info.inputIds.map((id): Feed => {
      const index = explicit.get(id);
      if (index !== undefined) return { input: index };
      const tensor = captured.get(id);
      if (!tensor) throw new TraceError(`${this.name}: input tensor ${id} has no source`);
      return { tensor };
    });
    return {
      outputs,
      recording: { ...info, feeds, outputs: outputs.length },
    };
  }
}

/** Why two recordings of one signature cannot share a function, or null. */
function differences(a: Recording, b: Recording): string | null {
  if (a.consts.length === b.consts.length) {
    const k = a.consts.findIndex((hash, i) => hash !== b.consts[i]);
    if (k >= 0) {
      return `constant ${k} (made from JavaScript values inside the traced function) differs ` +
        "between two calls: pass it as an input (e.g. a step size, noise or a schedule value)";
    }
  }
  if (a.structure !== b.structure || a.consts.length !== b.consts.length) {
    return `the two traces ran different ops (${a.ops} and ${b.ops}): the function's ops ` +
      "depend on something other than its inputs' shapes";
  }
  if (a.feeds.length !== b.feeds.length) return "the two traces read different tensors";
  for (let i = 0; i < a.feeds.length; i++) {
    const [x, y] = [a.feeds[i], b.feeds[i]];
    const same = "input" in x
      ? "input" in y && x.input === y.input
      : "tensor" in y && x.tensor === y.tensor;
    if (!same) {
      return `input ${i} of the function came from different tensors in two calls: a tensor ` +
        "made outside the traced function but not passed as an input changed";
    }
  }
  return null;
}
