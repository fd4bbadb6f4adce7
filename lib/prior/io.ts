/**
 * Saving and loading a trained prior: its weights in a safetensors file with the configuration
 * in the file's metadata, so a notebook can rebuild the model without knowing its sizes.
 *
 * @module
 */
import { decodeSafetensors, loadWeights, saveWeights } from "../nn/mod.ts";
import { CorruptFileError } from "../io/errors.ts";
import type { PriorConfig } from "./config.ts";
import { createPrior, type Prior } from "./model.ts";

const CONFIG_KEY = "prior_config";

/**
 * Writes the prior's weights and configuration to a safetensors file (atomically).
 *
 * @param path Target file, conventionally `*.safetensors`.
 * @param prior The model.
 * @param metadata Extra string metadata (e.g. the tokenizer's path). @default {}
 * @example
 * ```ts
 * import { createPrior, loadPrior, savePrior } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * const path = `${await Deno.makeTempDir()}/prior.safetensors`;
 * await savePrior(path, prior);
 * const { model: copy } = await loadPrior(path);
 * console.log(copy.config.dModel); // 16
 * prior.dispose(); copy.dispose();
 * ```
 */
export async function savePrior(
  path: string,
  prior: Prior,
  metadata: Record<string, string> = {},
): Promise<void> {
  const { masks, ...rest } = prior.config;
  const config: PriorConfig = { ...rest, masks: [...masks] };
  await saveWeights(path, prior, { ...metadata, [CONFIG_KEY]: JSON.stringify(config) });
}

/**
 * Rebuilds a prior saved by {@link savePrior}.
 *
 * @param path The file.
 * @returns The model (caller disposes) and the file's metadata.
 * @throws {CorruptFileError} A truncated or corrupt file, or one without a usable configuration.
 * @example
 * ```ts
 * import { loadPrior } from "./mod.ts";
 * try {
 *   const { model: prior } = await loadPrior("data/cache/prior_shapes.safetensors");
 *   prior.dispose();
 * } catch (e) { console.log((e as Error).message); }
 * ```
 */
export async function loadPrior(
  path: string,
): Promise<{ model: Prior; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`no prior at ${path}: train one with experiments/prior_shapes.ts`);
    }
    throw err;
  }
  const { metadata } = decodeSafetensors(bytes, path);
  const unusable = (reason: string, cause?: unknown): never => {
    throw new CorruptFileError(path, reason, { format: "prior file", cause });
  };
  const json = metadata[CONFIG_KEY];
  if (json === undefined) {
    unusable(`it holds no prior configuration (metadata "${CONFIG_KEY}" is missing)`);
  }
  let prior: Prior;
  try {
    prior = createPrior(JSON.parse(json) as PriorConfig);
  } catch (err) {
    return unusable(`its stored configuration is not usable (${(err as Error).message})`, err);
  }
  try {
    await loadWeights(path, prior);
  } catch (err) {
    prior.dispose();
    throw err;
  }
  return { model: prior, metadata };
}
