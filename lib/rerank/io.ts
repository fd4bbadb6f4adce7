/**
 * Saving and loading a trained reranker: its weights in a safetensors file with the resolved
 * configuration in the file's metadata, so a notebook or the sampling pipeline can rebuild the
 * model without knowing its sizes; loading into an existing reranker of another configuration is
 * an error naming the first difference, before any weight changes.
 *
 * @module
 */
import { CheckpointMismatchError, CorruptFileError } from "../io/mod.ts";
import { decodeSafetensors, loadWeights, saveWeights } from "../nn/mod.ts";
import type { ResolvedRerankerConfig } from "./config.ts";
import { createReranker, type Reranker } from "./model.ts";
import { legacyTextBlockName } from "./_text_encoder.ts";

const CONFIG_KEY = "reranker_config";

/**
 * Writes the reranker's weights and configuration to a safetensors file (atomically).
 *
 * @param path Target file, conventionally `*.safetensors`.
 * @param model The model.
 * @param metadata Extra string metadata (e.g. the tokenizer's path). @default {}
 * @example
 * ```ts
 * import { createReranker, loadReranker, saveReranker } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const model = createReranker({ textLen: 8, textVocab: 300, embedDim: 16 });
 * const path = `${await Deno.makeTempDir()}/rerank.safetensors`;
 * await saveReranker(path, model, { tokenizer: "tok.json" });
 * const { model: copy, metadata } = await loadReranker(path);
 * console.log(copy.config.embedDim, metadata.tokenizer); // 16 "tok.json"
 * model.dispose(); copy.dispose();
 * ```
 */
export async function saveReranker(
  path: string,
  model: Reranker,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveWeights(path, model, { ...metadata, [CONFIG_KEY]: JSON.stringify(model.config) });
}

async function readConfig(
  path: string,
): Promise<{ config: ResolvedRerankerConfig; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`no reranker at ${path}: train one with experiments/rerank_train.ts`);
    }
    throw err;
  }
  const { metadata } = decodeSafetensors(bytes, path);
  const json = metadata[CONFIG_KEY];
  if (json === undefined) {
    throw new CorruptFileError(
      path,
      `it holds no reranker configuration (metadata "${CONFIG_KEY}" is missing)`,
      { format: "reranker file" },
    );
  }
  try {
    return { config: JSON.parse(json) as ResolvedRerankerConfig, metadata };
  } catch (err) {
    throw new CorruptFileError(path, `its configuration is not JSON`, {
      format: "reranker file",
      cause: err,
    });
  }
}

/** The first field where two configurations differ, as "name is a in the file, b here". */
function difference(file: Record<string, unknown>, model: Record<string, unknown>): string | null {
  for (const key of new Set([...Object.keys(file), ...Object.keys(model)])) {
    const a = JSON.stringify(file[key]), b = JSON.stringify(model[key]);
    if (a !== b) return `${key} is ${a} in the file but ${b} in the model`;
  }
  return null;
}

/**
 * Rebuilds a reranker saved by {@link saveReranker}, or fills `into` with its weights.
 *
 * @param path The file.
 * @param options `into`: an existing reranker to fill; its configuration must equal the file's
 *   (the seed of the initial weights aside).
 * @returns The model (a new one, or `into`) and the file's metadata.
 * @throws {CorruptFileError} A truncated or corrupt file, or one without a usable configuration.
 * @throws {CheckpointMismatchError} `into` of another configuration (the message names the first
 *   differing field; `into` is unchanged), or tensors that do not fit.
 * @example
 * ```ts
 * import { loadReranker } from "./mod.ts";
 * try {
 *   const { model } = await loadReranker("data/cache/rerank_shapes.safetensors");
 *   model.dispose();
 * } catch (e) { console.log((e as Error).message); }
 * ```
 */
export async function loadReranker(
  path: string,
  options: { into?: Reranker } = {},
): Promise<{ model: Reranker; metadata: Record<string, string> }> {
  const { config, metadata } = await readConfig(path);
  if (options.into) {
    const diff = difference(
      { ...config, seed: undefined },
      { ...options.into.config, seed: undefined },
    );
    if (diff) {
      const err = new CheckpointMismatchError(path, []);
      err.message = `${path} holds a reranker of another configuration: ${diff}`;
      throw err;
    }
    await loadWeights(path, options.into, { rename: legacyTextBlockName });
    return { model: options.into, metadata };
  }
  let model: Reranker;
  try {
    model = createReranker(config);
  } catch (err) {
    throw new CorruptFileError(
      path,
      `its stored configuration is not usable (${(err as Error).message})`,
      { format: "reranker file", cause: err },
    );
  }
  try {
    await loadWeights(path, model, { rename: legacyTextBlockName });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, metadata };
}
