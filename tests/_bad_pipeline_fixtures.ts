/**
 * Saved pipelines for the bad-input table's pipeline rows: a small untrained one (no reranker),
 * and the ways a shared folder can be wrong: a manifest naming a file outside the folder, a part
 * swapped for another of the same configuration, a part whose bytes changed, a link out.
 *
 * @module
 */
import { join } from "node:path";
import { tf } from "../lib/backend/mod.ts";
import { createDvae } from "../lib/dvae/mod.ts";
import { createPrior, savePrior } from "../lib/prior/mod.ts";
import { type Manifest, MANIFEST_FILE, Pipeline } from "../lib/pipeline/mod.ts";
import { smallTokenizer } from "./_bad_input_fixtures.ts";

/** The prior's seed: the swapped prior reuses it, so its configuration is the same. */
const PRIOR_SEED = 2;

/** The prior's configuration for a tokenizer and a 4×4 dVAE grid of 16 codes. */
function priorConfig(textVocab: number, padId: number) {
  const shape = { textLen: 8, imageGrid: 4, imageVocab: 16, dModel: 8, layers: 1, heads: 2 };
  return { ...shape, textVocab, padId, seed: PRIOR_SEED };
}

/**
 * Saves a small untrained pipeline (8×8 images, no reranker) into `dir`, then lets `change`
 * rewrite its manifest.
 *
 * @param dir The folder (created).
 * @param change Edits the parsed manifest before it is written back. @default none
 * @example
 * ```ts
 * import { savePipeline } from "./_bad_pipeline_fixtures.ts";
 * import { initBackend } from "../lib/backend/mod.ts";
 * await initBackend();
 * await savePipeline(`${await Deno.makeTempDir()}/p`, (m) => (m.parts.prior.file = "/x"));
 * ```
 */
export async function savePipeline(dir: string, change?: (m: Manifest) => void): Promise<void> {
  const tokenizer = smallTokenizer();
  const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8, seed: 1 });
  const prior = createPrior(priorConfig(tokenizer.vocabSize, tokenizer.padId));
  const pipeline = new Pipeline(tokenizer, dvae, prior);
  try {
    await pipeline.save(dir);
  } finally {
    pipeline.dispose();
  }
  if (!change) return;
  const path = join(dir, MANIFEST_FILE);
  const manifest = JSON.parse(await Deno.readTextFile(path)) as Manifest;
  change(manifest);
  await Deno.writeTextFile(path, JSON.stringify(manifest, null, 2));
}

/**
 * Overwrites a saved pipeline's `prior.safetensors` with a prior of the very same configuration
 * (seed included) but other weights, as a prior trained on other data would be: the
 * configuration check passes, only the content hash can tell.
 *
 * @param dir The pipeline folder (from {@link savePipeline}).
 * @example
 * ```ts
 * import { savePipeline, swapPrior } from "./_bad_pipeline_fixtures.ts";
 * import { initBackend } from "../lib/backend/mod.ts";
 * await initBackend();
 * const dir = `${await Deno.makeTempDir()}/p`;
 * await savePipeline(dir);
 * await swapPrior(dir);
 * ```
 */
export async function swapPrior(dir: string): Promise<void> {
  const tokenizer = smallTokenizer();
  const other = createPrior(priorConfig(tokenizer.vocabSize, tokenizer.padId));
  try {
    const [first] = other.parameters();
    tf.tidy(() => first.assign(first.add(1)));
    await savePrior(join(dir, "prior.safetensors"), other);
  } finally {
    other.dispose();
  }
}

/**
 * Flips one bit of a part's last byte (a weight of its data section): the file still parses and
 * loads, with one weight changed, unless its hash is checked.
 *
 * @param path The part's file.
 * @example
 * ```ts
 * import { flipLastBit } from "./_bad_pipeline_fixtures.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 2]));
 * await flipLastBit(path);
 * ```
 */
export async function flipLastBit(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 1] ^= 1;
  await Deno.writeFile(path, bytes);
}

/**
 * Moves a saved pipeline's prior beside the folder (into `outside`) and leaves a symbolic link to
 * it in its place: the bytes and hash are the saved ones, only the location is out of bounds.
 *
 * @param dir The pipeline folder (from {@link savePipeline}).
 * @param outside Where the file goes.
 * @example
 * ```ts
 * import { linkPriorOut, savePipeline } from "./_bad_pipeline_fixtures.ts";
 * import { initBackend } from "../lib/backend/mod.ts";
 * await initBackend();
 * const root = await Deno.makeTempDir();
 * await savePipeline(`${root}/p`);
 * await linkPriorOut(`${root}/p`, `${root}/prior.safetensors`);
 * ```
 */
export async function linkPriorOut(dir: string, outside: string): Promise<void> {
  const path = join(dir, "prior.safetensors");
  await Deno.rename(path, outside);
  await Deno.symlink(outside, path);
}
