/**
 * What the bad-input table runs against: small models of the sizes its messages name, a
 * tokenizer, a judge whose network must never run, and writers of damaged files.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { tf } from "../lib/backend/mod.ts";
import { createDvae, type Dvae, type DvaeConfig, saveDvae } from "../lib/dvae/mod.ts";
import { createPrior, type Prior, type PriorConfig } from "../lib/prior/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import { FASHION_MNIST_FILES } from "../lib/data/mod.ts";
import { DEFAULT_JUDGE_CONFIG, ShapesJudge } from "../lib/judge/mod.ts";

/** A dVAE of the benchmark's image size (32×32×3 → 8×8 tokens), narrow so it builds fast. */
export const DVAE: Partial<DvaeConfig> = { hidden: 8, groups: 3, vocabSize: 16, seed: 1 };

/** A prior with the paper's image vocabulary and a 5×5 grid (so position 17 exists). */
export const PRIOR: PriorConfig = {
  textLen: 4,
  textVocab: 24,
  imageGrid: 5,
  imageVocab: 8192,
  dModel: 16,
  layers: 2,
  heads: 2,
  convKernel: 3,
};

/** Everything the cases share; `dispose` frees it. */
export interface Fixtures {
  dvae: Dvae;
  prior: Prior;
  tokenizer: BpeTokenizer;
  /** A judge whose network throws if it is ever asked to run: inputs must fail before. */
  judge: ShapesJudge;
  dispose(): void;
}

/**
 * Builds the shared models.
 *
 * @returns The fixtures.
 * @example
 * ```ts
 * import { makeFixtures } from "./_bad_input_fixtures.ts";
 * import { initBackend } from "../lib/backend/mod.ts";
 * await initBackend();
 * const f = makeFixtures();
 * f.dispose();
 * ```
 */
export function makeFixtures(): Fixtures {
  const dvae = createDvae(DVAE);
  const prior = createPrior(PRIOR);
  const tokenizer = smallTokenizer();
  const untouchable = {
    apply() {
      throw new Error("the judge's network ran on input that should have been rejected");
    },
    dispose() {},
  };
  const judge = new ShapesJudge(
    untouchable as unknown as ConstructorParameters<typeof ShapesJudge>[0],
    DEFAULT_JUDGE_CONFIG,
  );
  return {
    dvae,
    prior,
    tokenizer,
    judge,
    dispose() {
      dvae.dispose();
      prior.dispose();
    },
  };
}

/**
 * A small BPE tokenizer trained on three captions (266 ids: all they reach, as no further pair
 * repeats).
 *
 * @returns The tokenizer.
 * @example
 * ```ts
 * import { smallTokenizer } from "./_bad_input_fixtures.ts";
 * console.log(smallTokenizer().vocabSize); // 266
 * ```
 */
export function smallTokenizer(): BpeTokenizer {
  return BpeTokenizer.train(["a red star", "a blue square", "a red square"], { vocabSize: 266 });
}

/**
 * Overwrites the first occurrence of an ASCII string in a file with another of the same length
 * (e.g. a value inside a safetensors header, leaving every offset valid).
 *
 * @param path The file.
 * @param from What to find.
 * @param to Its replacement, as long.
 * @example
 * ```ts
 * import { patchBytes } from "./_bad_input_fixtures.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "size:32");
 * await patchBytes(path, "32", "-2");
 * ```
 */
export async function patchBytes(path: string, from: string, to: string): Promise<void> {
  if (from.length !== to.length) throw new RangeError("patchBytes keeps the length");
  const bytes = await Deno.readFile(path);
  const find = new TextEncoder().encode(from);
  const at = bytes.findIndex((_, i) => find.every((b, j) => bytes[i + j] === b));
  if (at < 0) throw new Error(`${path} does not contain ${from}`);
  bytes.set(new TextEncoder().encode(to), at);
  await Deno.writeFile(path, bytes);
}

/**
 * Int32 token rows (B, k) of `fill`, with one id replaced.
 *
 * @param rows B.
 * @param width k.
 * @param bad `[row, position, id]` to plant, or none.
 * @returns The tensor (caller disposes).
 * @example
 * ```ts
 * import { tokens } from "./_bad_input_fixtures.ts";
 * tokens(2, 4, [1, 3, 99]).dispose();
 * ```
 */
export function tokens(rows: number, width: number, bad?: [number, number, number]): tf.Tensor2D {
  const ids = new Int32Array(rows * width).fill(1);
  if (bad) ids[bad[0] * width + bad[1]] = bad[2];
  return tf.tensor2d(ids, [rows, width], "int32");
}

/**
 * Saves a dVAE of another configuration (grey images) where a case can load it.
 *
 * @param path The file.
 * @example
 * ```ts
 * import { saveGreyDvae } from "./_bad_input_fixtures.ts";
 * await saveGreyDvae(`${await Deno.makeTempDir()}/grey.safetensors`);
 * ```
 */
export async function saveGreyDvae(path: string): Promise<void> {
  const grey = createDvae({ ...DVAE, channels: 1 });
  try {
    await saveDvae(path, grey);
  } finally {
    grey.dispose();
  }
}

/**
 * Safetensors bytes with a header of the given text and `dataBytes` bytes of data.
 *
 * @param header The header JSON (or anything, to corrupt it).
 * @param dataBytes Bytes after the header.
 * @param claimed The header length to write. @default the header's
 * @returns The bytes.
 * @example
 * ```ts
 * import { safetensorsBytes } from "./_bad_input_fixtures.ts";
 * safetensorsBytes('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8);
 * ```
 */
export function safetensorsBytes(header: string, dataBytes: number, claimed?: number): Uint8Array {
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + head.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(claimed ?? head.length), true);
  out.set(head, 8);
  return out;
}

/**
 * A Fashion-MNIST test split of `count` blank images in `dir`, optionally with the images file
 * cut to its first half (a download that stopped) or one label too few.
 *
 * @param dir The folder.
 * @param count Images.
 * @param damage What to break. @default none
 * @example
 * ```ts
 * import { writeFashionMnist } from "./_bad_input_fixtures.ts";
 * await writeFashionMnist(await Deno.makeTempDir(), 4, "cut");
 * ```
 */
export async function writeFashionMnist(
  dir: string,
  count: number,
  damage?: "cut" | "labels",
): Promise<void> {
  const idx = (dims: number[]) => {
    const size = dims.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(4 + 4 * dims.length + size);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0x0800 | dims.length, false);
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
    return gzipSync(bytes);
  };
  const images = idx([count, 28, 28]);
  const files = FASHION_MNIST_FILES.test;
  await Deno.writeFile(
    join(dir, files.images),
    damage === "cut" ? images.subarray(0, images.length >> 1) : images,
  );
  await Deno.writeFile(join(dir, files.labels), idx([damage === "labels" ? count - 1 : count]));
}
