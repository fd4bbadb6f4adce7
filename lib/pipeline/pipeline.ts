/**
 * The paper's whole text → image path as one object: a BPE tokenizer, a dVAE, the transformer
 * prior and (optionally) the contrastive reranker. `generate` draws n candidates for a caption and
 * keeps the reranker's k best (paper §2.6); `complete` does the same from the top rows of an image.
 * `save(dir)` / `Pipeline.load(dir)` keep the parts beside a versioned manifest.
 *
 * @module
 */
import { join } from "node:path";
import { compileByDefault, ensureBackend, tf } from "../backend/mod.ts";
import { checkOptionKeys, writeFileAtomic } from "../io/mod.ts";
import { type Dvae, loadDvae, saveDvae } from "../dvae/mod.ts";
import { loadPrior, type Prior, savePrior } from "../prior/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  loadReranker,
  type Reranker,
  type RerankerConfig,
  resolveRerankerConfig,
  saveReranker,
} from "../rerank/mod.ts";
import { captionRows, imageTokens, tokensToImages } from "./codec.ts";
import {
  configDifference,
  type Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type PartRole,
  partsMismatch,
  PipelineManifestError,
} from "./manifest.ts";
import { partHashes, type PipelineLoadOptions, readManifest, verifyParts } from "./integrity.ts";
import { REFERENCE_DIR } from "./reference.ts";

/** Options of {@link Pipeline.generate} and {@link Pipeline.complete}. */
export interface GenerateOptions {
  /** Candidates drawn from the prior. @default 8 */
  n?: number;
  /** Candidates kept: the reranker's best k (without a reranker, k must equal n). @default 1 with a reranker, else n */
  k?: number;
  /** Softmax temperature of the draws (0: argmax). @default 1 */
  temperature?: number;
  /** Draw among the k most likely tokens only. @default all */
  topK?: number;
  /** Draw from the smallest set of tokens whose mass reaches p. @default all */
  topP?: number;
  /** Seed of the draws: the same seed gives the same images. @default 0 */
  seed?: number;
  /**
   * Draw each image position as one compiled TensorFlow call (the prior's `kvCache: "compiled"`):
   * the same draws as the preallocated cache, several times faster for a handful of candidates;
   * each new n traces twice first. `false` draws eagerly with the concat cache.
   * @default true where the backend can trace (lib/backend's `compileByDefault`)
   */
  compile?: boolean;
  /** Called after each sampled position with the positions done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Every key of {@link GenerateOptions}: the compiler keeps it in step with the interface. */
const GENERATE_KEYS: Record<keyof GenerateOptions, true> = {
  n: true,
  k: true,
  temperature: true,
  topK: true,
  topP: true,
  seed: true,
  compile: true,
  onProgress: true,
};

/** What {@link Pipeline.generate} returns: the kept candidates, best first. */
export interface Generated {
  /** The caption. */
  caption: string;
  /** The kept images (k, H, W, 3) in [0, 1], best first (caller disposes). */
  images: tf.Tensor4D;
  /** Their reranker scores (cosine similarity to the caption), best first; NaN without a reranker. */
  scores: number[];
  /** Which of the n draws each kept image is (draw order), best first. */
  order: number[];
  /** Their image tokens (k, n²) row-major, in the same order. */
  tokens: Int32Array;
  /** Candidates drawn. */
  drawn: number;
}

/** A tokenizer, a dVAE, a prior and optionally a reranker that fit together. */
export class Pipeline {
  /**
   * Joins already built parts; use Pipeline.load or Pipeline.create for checks.
   * @param tokenizer Captions → ids.
   * @param dvae Images ↔ tokens.
   * @param prior Text → image tokens.
   * @param reranker Ranks candidates by how well they match the caption, or null.
   */
  constructor(
    readonly tokenizer: BpeTokenizer,
    readonly dvae: Dvae,
    readonly prior: Prior,
    readonly reranker: Reranker | null = null,
  ) {
    const problem = partsMismatch(this.#sizes());
    if (problem) throw new RangeError(`these parts do not make a pipeline: ${problem}`);
  }

  #sizes() {
    const p = this.prior.config;
    return {
      tokenizerVocab: this.tokenizer.vocabSize,
      dvaeVocab: this.dvae.config.vocabSize,
      dvaeGrid: this.dvae.gridSize,
      priorTextVocab: p.textVocab,
      priorImageVocab: p.imageVocab,
      priorImageGrid: p.imageGrid,
      priorTextLen: p.textLen,
      rerankerTextVocab: this.reranker?.config.textVocab,
    };
  }

  /**
   * Writes the parts and `pipeline.json` into `dir` (created if missing; files written
   * atomically): each part as a plain file beside the manifest, which records its SHA-256.
   *
   * @param dir The folder.
   * @param notes Free-form notes for the manifest (e.g. the runs that trained the parts).
   */
  async save(dir: string, notes: Record<string, unknown> = {}): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    const files = {
      tokenizer: "tokenizer.json",
      dvae: "dvae.safetensors",
      prior: "prior.safetensors",
      reranker: "reranker.safetensors",
    };
    await this.tokenizer.save(join(dir, files.tokenizer));
    await saveDvae(join(dir, files.dvae), this.dvae);
    await savePrior(join(dir, files.prior), this.prior);
    if (this.reranker) await saveReranker(join(dir, files.reranker), this.reranker);
    // Hashed as written on disk, so load checks exactly the bytes this save left.
    const sha256 = await partHashes(dir, this.reranker ? files : { ...files, reranker: undefined });
    const part = (role: PartRole, config: unknown) => ({
      file: files[role],
      sha256: sha256[role],
      config: JSON.parse(JSON.stringify(config)) as Record<string, unknown>,
    });
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      saved: new Date().toISOString(),
      parts: {
        tokenizer: part("tokenizer", this.#tokenizerConfig(this.tokenizer)),
        dvae: part("dvae", this.dvae.config),
        prior: part("prior", this.prior.config),
        ...(this.reranker ? { reranker: part("reranker", this.reranker.config) } : {}),
      },
      notes,
    };
    // The manifest last: a folder without one is not a pipeline, never a half-written one.
    await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
  }

  #tokenizerConfig(t: BpeTokenizer): Record<string, unknown> {
    return { vocabSize: t.vocabSize, padId: t.padId };
  }

  /**
   * Loads a folder written by {@link save}, checking before parsing any part that each is a file
   * inside the folder with the hash the manifest records, then every part against the manifest
   * and the parts against each other. Reads nothing outside `dir`.
   *
   * @param dir The folder; without one, the reference pipeline shipped with the toolkit
   *   (lib/pipeline/reference/, trained by `deno task reference`; its record:
   *   `readReferenceRecord()`).
   * @param options `allowUnhashed`: load a version-1 manifest (no hashes), with a warning.
   * @returns The pipeline (dispose it when done).
   * @throws {PipelineManifestError} A missing or mismatched manifest or part, or a part file
   *   that is not a plain name inside the folder (or links out of it).
   * @throws {CorruptFileError} A part whose bytes are not the ones saved, or a damaged part.
   */
  static async load(
    dir: string = REFERENCE_DIR,
    options: PipelineLoadOptions = {},
  ): Promise<Pipeline> {
    await ensureBackend();
    const manifest = await readManifest(dir, options);
    await verifyParts(dir, manifest);
    const { parts } = manifest;
    const loaded: { dispose(): void }[] = [];
    const check = (part: string, expected: Record<string, unknown>, found: unknown) => {
      const difference = configDifference(expected, found as Record<string, unknown>);
      if (difference) {
        throw new PipelineManifestError(
          dir,
          `its ${part} (${
            join(dir, parts[part as "dvae"].file)
          }) does not match the manifest: ${difference}`,
        );
      }
    };
    try {
      const tokenizer = await BpeTokenizer.load(join(dir, parts.tokenizer.file));
      const { model: dvae } = await loadDvae(join(dir, parts.dvae.file));
      loaded.push(dvae);
      const { model: prior } = await loadPrior(join(dir, parts.prior.file));
      loaded.push(prior);
      const reranker = parts.reranker
        ? (await loadReranker(join(dir, parts.reranker.file))).model
        : null;
      if (reranker) loaded.push(reranker);
      check("tokenizer", parts.tokenizer.config, {
        vocabSize: tokenizer.vocabSize,
        padId: tokenizer.padId,
      });
      check("dvae", parts.dvae.config, JSON.parse(JSON.stringify(dvae.config)));
      check("prior", parts.prior.config, JSON.parse(JSON.stringify(prior.config)));
      if (reranker && parts.reranker) {
        // Through the resolver: a manifest written before a field existed reads as its default.
        const expected = resolveRerankerConfig(parts.reranker.config as unknown as RerankerConfig);
        check("reranker", { ...expected }, JSON.parse(JSON.stringify(reranker.config)));
      }
      try {
        return new Pipeline(tokenizer, dvae, prior, reranker);
      } catch (err) {
        throw new PipelineManifestError(dir, (err as Error).message);
      }
    } catch (err) {
      loaded.forEach((part) => part.dispose());
      throw err;
    }
  }

  /**
   * Draws `n` candidates for a caption and keeps the reranker's `k` best.
   *
   * @param caption The caption.
   * @param options See {@link GenerateOptions}.
   * @returns The kept candidates, best first.
   */
  async generate(caption: string, options: GenerateOptions = {}): Promise<Generated> {
    return await this.#draw(caption, undefined, options);
  }

  /**
   * Completes an image from its top `rows` rows of tokens: the prior continues them under the
   * caption, and the reranker keeps the `k` best of `n`.
   *
   * @param caption The caption.
   * @param image One image (1, H, W, 3) in [0, 1] (not disposed).
   * @param rows Token rows to keep from the image's top (1 … grid − 1).
   * @param options See {@link GenerateOptions}.
   * @returns The kept completions, best first.
   */
  async complete(
    caption: string,
    image: tf.Tensor4D,
    rows: number,
    options: GenerateOptions = {},
  ): Promise<Generated> {
    const grid = this.prior.config.imageGrid;
    if (image.rank !== 4 || image.shape[0] !== 1) {
      throw new RangeError(`complete takes one image (1, H, W, 3), got [${image.shape}]`);
    }
    if (!Number.isInteger(rows) || rows < 1 || rows >= grid) {
      throw new RangeError(`rows must be an integer in [1, ${grid - 1}], got ${rows}`);
    }
    const tokens = imageTokens(this.dvae, image);
    return await this.#draw(caption, tokens.slice(0, rows * grid), options);
  }

  async #draw(
    caption: string,
    prime: Int32Array | undefined,
    options: GenerateOptions,
  ): Promise<Generated> {
    if (typeof caption !== "string" || caption.trim() === "") {
      throw new RangeError(`a caption must be a non-empty string, got ${JSON.stringify(caption)}`);
    }
    // A misspelt key (`temprature`) would otherwise draw at the default, without a word.
    checkOptionKeys(
      prime ? "Pipeline.complete" : "Pipeline.generate",
      options,
      Object.keys(GENERATE_KEYS),
    );
    const n = options.n ?? 8;
    const k = options.k ?? (this.reranker ? 1 : n);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer ≥ 1, got ${n}`);
    if (!Number.isInteger(k) || k < 1 || k > n) {
      throw new RangeError(`k must be an integer in [1, n = ${n}], got ${k}`);
    }
    if (!this.reranker && k !== n) {
      throw new RangeError(`this pipeline has no reranker: it cannot keep ${k} best of ${n}`);
    }
    const [text] = captionRows(this.tokenizer, [caption], this.prior.config.textLen);
    const sample = await this.prior.sample({
      text,
      count: n,
      temperature: options.temperature,
      topK: options.topK,
      topP: options.topP,
      seed: options.seed ?? 0,
      prime,
      kvCache: (options.compile ?? compileByDefault()) ? "compiled" : "concat",
      onProgress: options.onProgress,
    });
    const grid = this.prior.config.imageGrid;
    const all = tokensToImages(this.dvae, sample.tokens, grid);
    let order = Array.from({ length: n }, (_, i) => i);
    let scores = order.map(() => NaN);
    if (this.reranker) {
      const reranker = this.reranker;
      // The reranker reads the caption with its end-of-text token, in rows of its own length.
      const { textLen } = reranker.config;
      const { ids } = this.tokenizer.encodeBatch([caption], { textLen, appendEot: true });
      const scored = tf.tidy(() => reranker.score(tf.tensor2d(ids, [1, textLen], "int32"), all));
      const similarity = scored.dataSync() as Float32Array;
      scored.dispose();
      order.sort((a, b) => similarity[b] - similarity[a] || a - b);
      order = order.slice(0, k);
      scores = order.map((i) => similarity[i]);
    }
    const images = tf.tidy(() => tf.gather(all, order) as tf.Tensor4D);
    all.dispose();
    const per = grid * grid;
    const tokens = new Int32Array(order.length * per);
    order.forEach((i, j) => tokens.set(sample.tokens.subarray(i * per, (i + 1) * per), j * per));
    return { caption, images, scores, order, tokens, drawn: n };
  }

  /** Frees the models. */
  dispose(): void {
    this.dvae.dispose();
    this.prior.dispose();
    this.reranker?.dispose();
  }
}
