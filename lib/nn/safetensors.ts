/**
 * Weights on disk in the safetensors format (what PyTorch users can read with
 * `safetensors.torch.load_file`): 8 bytes of little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { ... } }`, then raw
 * little-endian tensor bytes. Also resumable checkpoints (written through lib/io's atomic writer).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import type { Module } from "./module.ts";
import type { AdamW } from "./optim.ts";
import { writeFileAtomic } from "../io/mod.ts";
import { CheckpointMismatchError, CorruptFileError, type TensorMismatch } from "../io/errors.ts";

/** A tensor as stored: dtype, shape and its values. */
export interface StoredTensor {
  /** Element type, as safetensors names it. */
  dtype: "F32" | "I32";
  /** Shape. */
  shape: number[];
  /** Elements, row-major. */
  data: Float32Array | Int32Array;
}

const DTYPE_OF: Record<string, "F32" | "I32"> = { float32: "F32", int32: "I32" };

/**
 * Encodes named tensors (float32 or int32) as safetensors bytes.
 *
 * @param tensors `[name, tensor]` pairs; names must be unique.
 * @param metadata String key/values stored in `__metadata__`. @default {}
 * @returns The file's bytes.
 * @example
 * ```ts
 * import { encodeSafetensors, decodeSafetensors } from "./mod.ts";
 * import { tf } from "../backend/mod.ts";
 * const w = tf.tensor2d([[1, 2], [3, 4]]);
 * const bytes = encodeSafetensors([["w", w]], { note: "demo" });
 * console.log(decodeSafetensors(bytes).tensors.get("w")?.shape); // [2, 2]
 * w.dispose();
 * ```
 */
export function encodeSafetensors(
  tensors: [string, tf.Tensor][],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name in header) throw new Error(`duplicate tensor name "${name}"`);
    const dtype = DTYPE_OF[t.dtype];
    if (!dtype) throw new TypeError(`cannot store tensor "${name}" of dtype ${t.dtype}`);
    const values = t.dataSync() as Float32Array | Int32Array;
    const bytes = new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // align the data to 8 bytes
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Decodes safetensors bytes, checking the header against the file: a corrupt or truncated file
 * is a {@link CorruptFileError} that names `source` and says what is wrong.
 *
 * @param bytes The file's bytes.
 * @param source Name used in error messages. @default "safetensors data"
 * @returns The tensors by name and the metadata.
 * @example
 * ```ts
 * import { decodeSafetensors } from "./mod.ts";
 * try { decodeSafetensors(new Uint8Array(3)); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "safetensors data",
): { tensors: Map<string, StoredTensor>; metadata: Record<string, string> } {
  const fail = (why: string, cause?: unknown): never => {
    throw new CorruptFileError(source, why, { format: "safetensors file", cause });
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Compared as a bigint: a garbage length above 2^53 would lose its low bits as a number.
  const claimed = view.getBigUint64(0, true);
  if (claimed > BigInt(bytes.length - 8)) {
    fail(
      `header claims ${claimed} bytes but the file has ${bytes.length - 8} after the length ` +
        `(truncated?)`,
    );
  }
  const headerLen = Number(claimed);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)),
    );
  } catch (err) {
    // Not the parser's message, which quotes the header's bytes (kept as the cause).
    return fail("header is not JSON", err);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return fail("header is not an object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = checkMetadata(entry ?? {}, fail);
      continue;
    }
    const e = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== "F32" && e.dtype !== "I32") {
      fail(`tensor "${name}" has unsupported dtype ${e.dtype}`);
    }
    if (!isIntArray(e.shape) || !isIntArray(e.data_offsets) || e.data_offsets.length !== 2) {
      return fail(`tensor "${name}" lacks shape or offsets (or they are not whole numbers)`);
    }
    const [begin, end] = e.data_offsets;
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (!(end >= begin && end <= dataLen)) {
      fail(
        `tensor "${name}" spans bytes [${begin}, ${end}) but the data section has ${dataLen} (truncated?)`,
      );
    }
    if (end - begin !== size * 4) {
      fail(`tensor "${name}" has ${end - begin} bytes for shape [${e.shape}]`);
    }
    const copy = bytes.slice(dataStart + begin, dataStart + end).buffer;
    tensors.set(name, {
      dtype: e.dtype as "F32" | "I32",
      shape: e.shape,
      data: e.dtype === "F32" ? new Float32Array(copy) : new Int32Array(copy),
    });
  }
  return { tensors, metadata };
}

/** Non-negative integers only: shapes and offsets. */
function isIntArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0);
}

/** `__metadata__` maps names to strings (the format says so; callers JSON.parse some values). */
function checkMetadata(entry: unknown, fail: (why: string) => never): Record<string, string> {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return fail("__metadata__ is not an object");
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== "string") fail(`__metadata__ "${key}" is not a string`);
  }
  return entry as Record<string, string>;
}

/**
 * Saves a module's parameters (or any named tensors) to a safetensors file, atomically.
 *
 * @param path Target file, conventionally `*.safetensors`.
 * @param source A module or `[name, tensor]` pairs.
 * @param metadata String key/values (e.g. the config as JSON). @default {}
 * @example
 * ```ts
 * import { Linear, saveWeights, loadWeights } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const a = new Linear(2, 2, { seed: 1 }), b = new Linear(2, 2, { seed: 2 });
 * await saveWeights(`${dir}/fc.safetensors`, a);
 * await loadWeights(`${dir}/fc.safetensors`, b); // b now equals a
 * a.dispose(); b.dispose();
 * ```
 */
export async function saveWeights(
  path: string,
  source: Module | [string, tf.Tensor][],
  metadata: Record<string, string> = {},
): Promise<void> {
  const named = Array.isArray(source) ? source : source.namedParameters();
  await writeFileAtomic(
    path,
    encodeSafetensors(named, { format: "dalle-lab/weights@1", ...metadata }),
  );
}

/**
 * Loads weights saved by {@link saveWeights} into a module. Names and shapes must match exactly
 * (unless `strict` is false, when only the tensors present in both are loaded): a file of another
 * configuration is a {@link CheckpointMismatchError} naming each tensor and both shapes, and
 * leaves the module unchanged; a damaged file is a {@link CorruptFileError}.
 *
 * @param path The file.
 * @param target The module to fill.
 * @param options `strict` @default true; `prefix` selects `prefix + name` entries @default "";
 *   `rename` maps each name in the file to the module's name for it (a file written before a
 *   module renamed a part) @default none.
 * @returns The file's metadata.
 */
export async function loadWeights(
  path: string,
  target: Module,
  options: { strict?: boolean; prefix?: string; rename?: (name: string) => string } = {},
): Promise<Record<string, string>> {
  const bytes = await readFileClear(path);
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const rename = options.rename;
  assignNamed(
    target.namedParameters(),
    rename ? new Map([...tensors].map(([name, t]) => [rename(name), t])) : tensors,
    path,
    options.prefix ?? "",
    options.strict ?? true,
  );
  return metadata;
}

async function readFileClear(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`weights file not found: ${path}`);
    throw err;
  }
}

function assignNamed(
  named: [string, tf.Variable][],
  tensors: Map<string, StoredTensor>,
  source: string,
  prefix: string,
  strict: boolean,
): void {
  const mismatches: TensorMismatch[] = [];
  const wanted = new Set<string>();
  const assignments: [tf.Variable, StoredTensor][] = [];
  for (const [name, v] of named) {
    const key = prefix + name;
    wanted.add(key);
    const t = tensors.get(key);
    if (!t) {
      if (strict) mismatches.push({ name: key, file: null, model: v.shape });
      continue;
    }
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      mismatches.push({ name: key, file: t.shape, model: v.shape });
      continue;
    }
    if (t.dtype !== DTYPE_OF[v.dtype]) {
      throw new CorruptFileError(
        source,
        `tensor "${key}" is ${t.dtype} but the model holds ${v.dtype}`,
        { format: "weights file for this model" },
      );
    }
    assignments.push([v, t]);
  }
  if (strict) {
    for (const [key, t] of tensors) {
      if (key.startsWith(prefix) && !wanted.has(key)) {
        mismatches.push({ name: key, file: t.shape, model: null });
      }
    }
  }
  if (mismatches.length > 0) throw new CheckpointMismatchError(source, mismatches);
  // Only after every check passed, so a mismatched file leaves the model untouched.
  tf.tidy(() => {
    for (const [v, t] of assignments) v.assign(tf.tensor(t.data, t.shape, v.dtype));
  });
}

/**
 * Saves everything needed to resume training: weights (`model.*`), optimiser state (`optim.*`),
 * the step and a JSON config, atomically, in one safetensors file.
 *
 * @param path Target file.
 * @param state `model`, optional `optimizer`, `step` and `config`.
 * @example
 * ```ts
 * import { AdamW, Linear, saveCheckpoint, loadCheckpoint } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const fc = new Linear(2, 2), opt = new AdamW();
 * await saveCheckpoint(`${dir}/ckpt.safetensors`, { model: fc, optimizer: opt, step: 0, config: { lr: 1e-3 } });
 * const { step, config } = await loadCheckpoint(`${dir}/ckpt.safetensors`, { model: fc, optimizer: opt });
 * fc.dispose(); opt.dispose();
 * ```
 */
export async function saveCheckpoint(
  path: string,
  state: {
    model: Module;
    optimizer?: AdamW;
    step: number;
    config?: unknown;
    /** More arrays to keep (e.g. a reducer's state), stored as `extra.<name>`. */
    extra?: Record<string, Float32Array>;
    /** More JSON to keep (e.g. a trainer's counters), stored as metadata `trainer`. */
    trainer?: unknown;
  },
): Promise<void> {
  const named = state.model.namedParameters();
  const tensors: [string, tf.Tensor][] = named.map(([n, v]) => [`model.${n}`, v]);
  const optimizerState = state.optimizer?.stateTensors(named) ?? []; // new tensors: freed below
  for (const [n, t] of optimizerState) tensors.push([`optim.${n}`, t]);
  const extra = Object.entries(state.extra ?? {}).map((
    [n, a],
  ): [string, tf.Tensor] => [`extra.${n}`, tf.tensor1d(a)]);
  tensors.push(...extra);
  let bytes: Uint8Array;
  try {
    bytes = encodeSafetensors(tensors, {
      format: "dalle-lab/checkpoint@1",
      step: String(state.step),
      optimizer_steps: String(state.optimizer?.stepCount ?? 0),
      config: JSON.stringify(state.config ?? {}),
      trainer: JSON.stringify(state.trainer ?? null),
    });
  } finally {
    tf.dispose([...optimizerState.map(([, t]) => t), ...extra.map(([, t]) => t)]);
  }
  await writeFileAtomic(path, bytes);
}

/**
 * Restores a checkpoint written by {@link saveCheckpoint} into a model (and optimiser).
 *
 * @param path The file.
 * @param state The `model` to fill and optionally the `optimizer`.
 * @returns The saved `step` and `config`.
 */
export async function loadCheckpoint(
  path: string,
  state: { model: Module; optimizer?: AdamW },
): Promise<
  { step: number; config: unknown; extra: Record<string, Float32Array>; trainer: unknown }
> {
  const { tensors, metadata } = decodeSafetensors(await readFileClear(path), path);
  if (metadata.format !== "dalle-lab/checkpoint@1") {
    throw new Error(`${path} is not a dalle-lab checkpoint (format "${metadata.format}")`);
  }
  const named = state.model.namedParameters();
  assignNamed(named, tensors, path, "model.", true);
  if (state.optimizer) {
    const optim = new Map<string, tf.Tensor>();
    for (const [key, t] of tensors) {
      if (key.startsWith("optim.")) optim.set(key.slice(6), tf.tensor(t.data, t.shape));
    }
    state.optimizer.loadState(named, optim, Number(metadata.optimizer_steps ?? 0));
    tf.dispose([...optim.values()]);
  }
  const extra: Record<string, Float32Array> = {};
  for (const [key, t] of tensors) {
    if (key.startsWith("extra.")) {
      extra[key.slice(6)] = Float32Array.from(t.data as ArrayLike<number>);
    }
  }
  return {
    step: Number(metadata.step ?? 0),
    config: JSON.parse(metadata.config ?? "{}"),
    extra,
    trainer: JSON.parse(metadata.trainer ?? "null"),
  };
}
