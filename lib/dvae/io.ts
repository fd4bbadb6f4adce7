/**
 * A trained dVAE on disk: safetensors weights whose metadata carries the model configuration, so
 * `loadDvae(path)` needs nothing else.
 *
 * @module
 */
import { ensureBackend } from "../backend/mod.ts";
import { decodeSafetensors, loadCheckpoint, loadWeights, saveWeights } from "../nn/mod.ts";
import { CorruptFileError } from "../io/errors.ts";
import { createDvae, type Dvae } from "./model.ts";

/** The metadata key holding the JSON model configuration. */
export const DVAE_CONFIG_KEY = "dvae_config";

/**
 * Saves a dVAE's weights with its configuration (and any extra metadata, e.g. figures).
 *
 * @param path Target `.safetensors` file (written atomically).
 * @param model The dVAE (save inside `run.withEma(...)` to store the EMA weights).
 * @param metadata Extra string metadata. @default {}
 * @example
 * ```ts
 * import { createDvae, loadDvae, saveDvae } from "./mod.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const dir = await Deno.makeTempDir();
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * await saveDvae(`${dir}/dvae.safetensors`, dvae, { dataset: "demo" });
 * const { model: back } = await loadDvae(`${dir}/dvae.safetensors`);
 * console.log(back.config.vocabSize); // 16
 * dvae.dispose(); back.dispose();
 * ```
 */
export async function saveDvae(
  path: string,
  model: Dvae,
  metadata: Record<string, string> = {},
): Promise<void> {
  await saveWeights(path, model, { ...metadata, [DVAE_CONFIG_KEY]: JSON.stringify(model.config) });
}

/**
 * Loads a dVAE saved by {@link saveDvae} (or a `trainDvae` checkpoint), building the model from
 * the configuration stored in the file.
 *
 * @param path The `.safetensors` file.
 * @returns The model with its weights (caller disposes) and the file's metadata, the shape every
 *   model's loader returns (`loadPrior`, `loadReranker`).
 * @throws {CorruptFileError} A truncated or corrupt file, or one without a usable configuration.
 * @example
 * ```ts
 * import { loadDvae } from "./mod.ts";
 * const path = "data/cache/dvae_fashion.safetensors";
 * try {
 *   const { model } = await loadDvae(path);
 *   model.dispose();
 * } catch { console.log(`train one first: deno run -A experiments/dvae_train.ts`); }
 * ```
 */
export async function loadDvae(
  path: string,
): Promise<{ model: Dvae; metadata: Record<string, string> }> {
  await ensureBackend();
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`no dVAE at ${path}: train one with experiments/dvae_train.ts`);
    }
    throw err;
  }
  const { metadata } = decodeSafetensors(bytes, path);
  const isCheckpoint = metadata.format === "dalle-lab/checkpoint@1";
  const json = isCheckpoint ? metadata.config : metadata[DVAE_CONFIG_KEY];
  const unusable = (reason: string, cause?: unknown): never => {
    throw new CorruptFileError(path, reason, { format: "dVAE file", cause });
  };
  if (json === undefined) {
    const key = isCheckpoint ? "config" : DVAE_CONFIG_KEY;
    unusable(`it has no "${key}" metadata: was it saved with saveDvae?`);
  }
  let model: Dvae;
  try {
    const parsed = JSON.parse(json!);
    // A trainer's checkpoint keeps the model's configuration under `model`.
    model = createDvae(isCheckpoint ? parsed?.model ?? {} : parsed);
  } catch (err) {
    return unusable(`its stored configuration is not usable (${(err as Error).message})`, err);
  }
  try {
    if (isCheckpoint) await loadCheckpoint(path, { model });
    else await loadWeights(path, model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, metadata };
}
