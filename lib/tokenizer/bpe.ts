/**
 * A trainable byte-level BPE tokenizer for captions, as DALL·E uses: lowercased text, a 16,384
 * vocabulary, BPE dropout in training and fixed-length batches padded with a pad id.
 *
 * Ids 0–255 are the bytes of the UTF-8 encoding, ids 256, 257, … the merges in the order they
 * were learned, and the special tokens `<|pad|>` and `<|eot|>` come right after the merges.
 *
 * Round trips. Text is encoded to bytes with `TextEncoder`, which replaces each lone (unpaired)
 * UTF-16 surrogate with U+FFFD, so lone surrogates come back as U+FFFD; every other string comes
 * back exactly (lowercased when the tokenizer lowercases). `decode` joins the tokens' bytes before
 * decoding them, so a character whose bytes are split over several tokens decodes correctly.
 *
 * @module
 */
import { learnMerges, MAX_VOCAB_SIZE, type Merge } from "./_train.ts";
import { Mulberry32, writeFileAtomic } from "../io/mod.ts";
import { escapeBytes, utf8Bytes } from "./_utf8.ts";
import { CorruptFileError } from "../io/errors.ts";
import {
  checkCaptions,
  checkTrainingTexts,
  readTokenizerJson,
  type TruncatedCaption,
  warnTruncated,
} from "./_input.ts";

export type { TruncatedCaption } from "./_input.ts";

/**
 * How text is pre-split into words; merges never cross a word boundary. GPT-2's pattern with
 * combining marks kept with their letters: contractions, an optional space then letters, an
 * optional space then digits, an optional space then other symbols, then whitespace (a run of
 * spaces leaves its last space to the word after it). Every code point matches some branch, so
 * the words always concatenate back to the text.
 */
export const SPLIT_PATTERN: string = String
  .raw`'(?:[sdmt]|ll|ve|re)| ?[\p{L}\p{M}]+| ?\p{N}+| ?[^\s\p{L}\p{M}\p{N}]+|\s+(?!\S)|\s+`;

/** The special tokens, in id order after the merges. */
export const SPECIAL_TOKENS = ["<|pad|>", "<|eot|>"] as const;

/** The `format` field of a saved tokenizer. */
export const TOKENIZER_FORMAT = "dalle-lab-bpe";

/** The version of the saved format this build reads and writes. */
export const TOKENIZER_FORMAT_VERSION = 1;

/** Options of `BpeTokenizer.train`. */
export interface TrainOptions {
  /** Wanted vocabulary size: 256 bytes + merges + 2 special tokens. Paper: 16384. */
  vocabSize: number;
  /** Lowercase text before training and encoding. @default true */
  lowercase?: boolean;
  /** A merge needs a pair that occurs at least this often. @default 2 */
  minFrequency?: number;
  /**
   * Accept a smaller vocabulary when the texts cannot reach `vocabSize` (training stops once no
   * pair occurs `minFrequency` times): size models by the result's `vocabSize` then, never by the
   * one asked for. Otherwise that is an error. @default false
   */
  allowSmaller?: boolean;
}

/** Options of `encode`. */
export interface EncodeOptions {
  /**
   * BPE dropout (Provilkov et al. 2020): each applicable merge is skipped with this
   * probability at every step, so a word can split differently each time. Paper: 0.1 in
   * training. @default 0
   */
  dropout?: number;
  /**
   * Seed of the dropout draws; required when dropout > 0 (pass e.g. the training step, so each
   * step sees different splits and a rerun sees the same ones).
   */
  seed?: number;
}

/** Options of `encodeBatch`. */
export interface EncodeBatchOptions extends EncodeOptions {
  /** Tokens per row; longer texts are truncated. Paper: 256. @default 256 */
  textLen?: number;
  /** Append `<|eot|>` after each text (before truncation). @default false */
  appendEot?: boolean;
  /**
   * Called once per batch in which captions longer than `textLen` were cut, with each of them.
   * @default one `console.warn` naming how many were cut and the first in full
   */
  onTruncate?: (truncated: TruncatedCaption[]) => void;
  /**
   * With dropout, what to do with a caption whose dropped-out encoding is longer than `textLen`:
   * `"cut"` truncates it (its last words are lost); `"undropped"` encodes it again without
   * dropout and keeps that when it fits (so no word is lost; listed in `undropped`), else cuts.
   * Dropout splits words into more tokens, so at 0.1 on short captions a quarter can overflow a
   * `textLen` sized for plain encodings.
   * @default "cut"
   */
  tooLong?: "cut" | "undropped";
  /**
   * Accept blank captions, which encode to a row of pads. @default false: a blank caption
   * throws a RangeError naming its row
   */
  allowEmpty?: boolean;
}

/** A batch of texts as fixed-length rows. */
export interface EncodedBatch {
  /** Token ids, row-major n × textLen; positions at or after `lengths[i]` hold `padId`. */
  ids: Int32Array;
  /** Tokens per row before padding (≤ textLen). */
  lengths: Int32Array;
  /** Rows whose caption was cut to `textLen` (also reported through `onTruncate`). */
  truncated: number[];
  /** Rows encoded without dropout because their dropped-out encoding did not fit (`tooLong`). */
  undropped: number[];
}

/** The JSON a tokenizer saves to (see `toJSON`). */
export interface TokenizerJson {
  /** Format tag, always TOKENIZER_FORMAT. */
  format: typeof TOKENIZER_FORMAT;
  /** Format version. */
  version: number;
  /** Whether texts are lowercased first. */
  lowercase: boolean;
  /** The pre-tokenising pattern, as source. */
  splitPattern: string;
  /** The special tokens, in id order. */
  specialTokens: string[];
  /** Merges flattened: [left0, right0, left1, right1, …]; merge i creates id 256 + i. */
  merges: number[];
}

/** Words cached per tokenizer before the cache is cleared (bounds memory on endless text). */
const CACHE_LIMIT = 200_000;

/**
 * A byte-level BPE tokenizer with optional lowercasing, BPE dropout and fixed-length batches.
 *
 * @example
 * ```ts
 * import { BpeTokenizer } from "./bpe.ts";
 * const tok = BpeTokenizer.train(["a red circle", "a blue circle"], { vocabSize: 264 });
 * const ids = tok.encode("A red circle");
 * console.log(tok.decode(ids)); // "a red circle"
 * ```
 */
export class BpeTokenizer {
  /** Whether text is lowercased before encoding. */
  readonly lowercase: boolean;
  /** The pre-split pattern's source (see `SPLIT_PATTERN`). */
  readonly splitPattern: string;
  readonly #merges: Merge[];
  /**
   * left id → (right id → id of the merged token, which is also its rank). Nested small-integer
   * keys stay V8 "Smis", which hash much faster than one combined key would.
   */
  readonly #mergeIds: (Map<number, number> | undefined)[];
  readonly #bytes: Uint8Array;
  readonly #byteStart: Int32Array;
  readonly #split: RegExp;
  readonly #cache = new Map<string, number[]>();
  readonly #decoder = new TextDecoder(); // non-fatal: invalid bytes become U+FFFD

  /**
   * Builds a tokenizer from learned merges; use `train` or `fromJSON` rather than this.
   *
   * @param merges Merge i joins (left, right) into id 256 + i; both ids must exist already.
   * @param options `lowercase` (@default true) and `splitPattern` (@default SPLIT_PATTERN).
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const tok = new BpeTokenizer([[97, 97]]); // 256 = "aa"
   * console.log(tok.encode("aaa")); // [256, 97]
   * ```
   */
  constructor(
    merges: readonly (readonly [number, number])[],
    options: { lowercase?: boolean; splitPattern?: string } = {},
  ) {
    this.lowercase = options.lowercase ?? true;
    this.splitPattern = options.splitPattern ?? SPLIT_PATTERN;
    try {
      this.#split = new RegExp(this.splitPattern, "gu");
    } catch (error) {
      throw new SyntaxError(`invalid split pattern ${JSON.stringify(this.splitPattern)}: ${error}`);
    }
    const vocabSize = 256 + merges.length + SPECIAL_TOKENS.length;
    if (vocabSize > MAX_VOCAB_SIZE) {
      throw new RangeError(`at most ${MAX_VOCAB_SIZE} tokens are supported, got ${vocabSize}`);
    }
    // Every token's bytes live in one buffer: token id's bytes are #bytes[#byteStart[id]..
    // #byteStart[id + 1]). Special tokens are empty.
    const tokenLength = new Int32Array(vocabSize);
    tokenLength.fill(1, 0, 256);
    this.#merges = merges.map(([left, right], i): Merge => {
      const id = 256 + i;
      for (const part of [left, right]) {
        if (!Number.isInteger(part) || part < 0 || part >= id) {
          throw new RangeError(
            `merge ${i} must join two existing ids in [0, ${id}), got [${left}, ${right}]`,
          );
        }
      }
      tokenLength[id] = tokenLength[left] + tokenLength[right];
      return [left, right];
    });
    this.#byteStart = new Int32Array(vocabSize + 1);
    for (let id = 0; id < vocabSize; id++) {
      this.#byteStart[id + 1] = this.#byteStart[id] + tokenLength[id];
    }
    this.#bytes = new Uint8Array(this.#byteStart[vocabSize]);
    for (let b = 0; b < 256; b++) this.#bytes[b] = b;
    // Dense, so that lookups by id stay fast (a sparse array would fall back to a dictionary).
    this.#mergeIds = new Array(vocabSize).fill(undefined);
    this.#merges.forEach(([left, right], i) => {
      const id = 256 + i;
      const at = this.#byteStart[id];
      this.#bytes.copyWithin(at, this.#byteStart[left], this.#byteStart[left + 1]);
      this.#bytes.copyWithin(
        at + tokenLength[left],
        this.#byteStart[right],
        this.#byteStart[right + 1],
      );
      (this.#mergeIds[left] ??= new Map()).set(right, id);
    });
  }

  /**
   * Learns a tokenizer from texts: byte-level BPE over words split by `SPLIT_PATTERN`.
   *
   * Merges are learned most frequent pair first; ties go to the pair that occurs first in the
   * text (in its current tokenization), as in karpathy/minbpe. Training stops when no pair occurs
   * `minFrequency` times; if that is before `vocabSize`, the call throws (unless `allowSmaller`):
   * a tokenizer smaller than asked for would silently move the pad and end-of-text ids away from
   * where a model sized to `vocabSize` expects them.
   *
   * @param texts Training texts, e.g. captions: an array of strings.
   * @param options Vocabulary size, lowercasing, minimum pair frequency, whether a smaller
   *   vocabulary will do.
   * @returns The trained tokenizer.
   * @throws {TypeError} `texts` is not an array (a single string would train on its characters),
   *   or holds something other than a string.
   * @throws {RangeError} `texts` is empty; `vocabSize` or `minFrequency` out of range; the texts
   *   cannot reach `vocabSize` (the message gives the size they reach) and `allowSmaller` is unset.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const tok = BpeTokenizer.train(["aaabdaaabac"], { vocabSize: 261 });
   * console.log(tok.encode("aaabdaaabac")); // [258, 100, 258, 97, 99]
   * ```
   */
  static train(texts: readonly string[], options: TrainOptions): BpeTokenizer {
    const { vocabSize, lowercase = true, minFrequency = 2, allowSmaller = false } = options;
    checkTrainingTexts(texts);
    const smallest = 256 + SPECIAL_TOKENS.length;
    if (!Number.isInteger(vocabSize) || vocabSize < smallest || vocabSize >= MAX_VOCAB_SIZE) {
      throw new RangeError(
        `vocabSize must be an integer in [${smallest}, ${MAX_VOCAB_SIZE}) (256 bytes + merges + ` +
          `${SPECIAL_TOKENS.length} special tokens), got ${vocabSize}`,
      );
    }
    if (!Number.isFinite(minFrequency) || minFrequency < 1) {
      throw new RangeError(`minFrequency must be a number ≥ 1, got ${minFrequency}`);
    }
    const split = new RegExp(SPLIT_PATTERN, "gu");
    // Distinct words in order of first appearance (Map keeps insertion order).
    const frequency = new Map<string, number>();
    for (const text of texts) {
      for (const word of (lowercase ? text.toLowerCase() : text).match(split) ?? []) {
        frequency.set(word, (frequency.get(word) ?? 0) + 1);
      }
    }
    const words: number[][] = [];
    const frequencies: number[] = [];
    for (const [word, count] of frequency) {
      words.push(utf8Bytes(word));
      frequencies.push(count);
    }
    const merges = learnMerges(words, frequencies, vocabSize - smallest, minFrequency);
    const reached = smallest + merges.length;
    if (reached < vocabSize && !allowSmaller) {
      throw new RangeError(
        `BpeTokenizer.train: vocabSize ${vocabSize} is not reachable from these ${texts.length} ` +
          `texts, which give at most ${reached} (no further pair occurs minFrequency = ` +
          `${minFrequency} times); pass vocabSize ≤ ${reached}, more text, a lower ` +
          `minFrequency, or allowSmaller: true`,
      );
    }
    return new BpeTokenizer(merges, { lowercase });
  }

  /** Vocabulary size: 256 bytes + merges + special tokens. */
  get vocabSize(): number {
    return this.#byteStart.length - 1;
  }

  /** The learned merges in order; merge i created id 256 + i. */
  get merges(): readonly (readonly [number, number])[] {
    return this.#merges;
  }

  /** Id of `<|pad|>`, which fills rows of `encodeBatch` after each text. */
  get padId(): number {
    return 256 + this.#merges.length;
  }

  /** Id of `<|eot|>` (end of text), appended by `encodeBatch` when asked. */
  get eotId(): number {
    return 256 + this.#merges.length + 1;
  }

  /** Special token name → id, e.g. `{ "<|pad|>": 16382, "<|eot|>": 16383 }`. */
  get specialTokens(): Record<string, number> {
    return Object.fromEntries(SPECIAL_TOKENS.map((name, i) => [name, this.padId + i]));
  }

  /**
   * Encodes text into token ids (no special tokens).
   *
   * @param text Any string (lone surrogates encode as U+FFFD).
   * @param options BPE dropout probability and its seed.
   * @returns Token ids.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const tok = BpeTokenizer.train(["red red red"], { vocabSize: 261 });
   * tok.encode("red"); // one token
   * tok.encode("red", { dropout: 1, seed: 0 }); // [114, 101, 100]: bytes only
   * ```
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const rng = this.#dropoutRng(options);
    const ids: number[] = [];
    this.#encodeInto(text, ids, options.dropout ?? 0, rng);
    return ids;
  }

  /**
   * Encodes texts into fixed-length rows: truncated to `textLen`, then padded with `padId`.
   * Truncation is never silent: the cut rows are listed in `truncated` and reported through
   * `onTruncate` (by default a warning); a blank caption is an error unless `allowEmpty`.
   *
   * With dropout, one seeded stream runs through the batch in order, so the same call gives the
   * same batch.
   *
   * @param texts The texts, one per row.
   * @param options Row length, dropout and its seed, whether to append `<|eot|>`.
   * @returns `{ ids, lengths, truncated }` with `ids` of length texts.length × textLen.
   * @throws {RangeError} A blank caption (unless `allowEmpty`), or `textLen` < 1.
   * @throws {TypeError} A caption that is not a string.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const tok = BpeTokenizer.train(["a red circle", "a blue circle"], { vocabSize: 264 });
   * const { ids, lengths } = tok.encodeBatch(["a red circle", "a"], { textLen: 8 });
   * // ids.length === 16; row 1 is [97, pad, pad, ...]; lengths[1] === 1
   * ```
   */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): EncodedBatch {
    const { textLen = 256, dropout = 0, appendEot = false } = options;
    if (!Number.isInteger(textLen) || textLen < 1) {
      throw new RangeError(`textLen must be a positive integer, got ${textLen}`);
    }
    checkCaptions(texts, options.allowEmpty ?? false);
    const rng = this.#dropoutRng(options);
    const ids = new Int32Array(texts.length * textLen).fill(this.padId); // (n, textLen)
    const lengths = new Int32Array(texts.length);
    const tooLong = options.tooLong ?? "cut";
    if (tooLong !== "cut" && tooLong !== "undropped") {
      throw new RangeError(`tooLong must be "cut" or "undropped", got ${tooLong}`);
    }
    const cut: TruncatedCaption[] = [];
    const undropped: number[] = [];
    const row: number[] = [];
    texts.forEach((text, i) => {
      row.length = 0;
      this.#encodeInto(text, row, dropout, rng);
      if (appendEot) row.push(this.eotId);
      if (row.length > textLen && dropout > 0 && tooLong === "undropped") {
        // The dropout stream has moved on as it would have: later rows keep their splits.
        const plain: number[] = [];
        this.#encodeInto(text, plain, 0, undefined);
        if (appendEot) plain.push(this.eotId);
        if (plain.length <= textLen) {
          row.length = 0;
          row.push(...plain);
          undropped.push(i);
        }
      }
      const length = Math.min(row.length, textLen);
      for (let t = 0; t < length; t++) ids[i * textLen + t] = row[t];
      lengths[i] = length;
      if (row.length > textLen) cut.push({ row: i, text, tokens: row.length, kept: textLen });
    });
    if (cut.length > 0) (options.onTruncate ?? ((c) => warnTruncated(c, texts.length)))(cut);
    return { ids, lengths, truncated: cut.map((c) => c.row), undropped };
  }

  /**
   * Decodes ids back to text. Special tokens decode to nothing unless `showSpecial` is set.
   *
   * @param ids Token ids in [0, vocabSize).
   * @param options `showSpecial`: write special tokens as their names. @default false
   * @returns The text; bytes that do not form valid UTF-8 become U+FFFD.
   * @throws {RangeError} An id that is not an integer in [0, vocabSize), named with its position.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const tok = new BpeTokenizer([], { lowercase: false });
   * tok.decode([104, 105]); // "hi"
   * tok.decode([0xe2, 0x82, 0xac]); // "€": three byte tokens join into one character
   * ```
   */
  decode(ids: ArrayLike<number>, options: { showSpecial?: boolean } = {}): string {
    const vocabSize = this.vocabSize;
    const start = this.#byteStart;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < vocabSize && Number.isInteger(id))) {
        throw new RangeError(
          `tokenizer: token id ${id} at position ${i} is not an id of this vocabulary: ` +
            `expected an integer in [0, ${vocabSize})`,
        );
      }
      total += start[id + 1] - start[id];
    }
    if (options.showSpecial) return this.#decodeShowingSpecial(ids);
    const joined = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      // Tokens are a few bytes long: a plain loop beats creating a subarray per token.
      for (let j = start[ids[i]], end = start[ids[i] + 1]; j < end; j++) {
        joined[at++] = this.#bytes[j];
      }
    }
    return this.#decoder.decode(joined);
  }

  /**
   * The bytes a token stands for (empty for special tokens).
   *
   * @param id A token id.
   * @returns A copy of its bytes.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * new BpeTokenizer([[104, 105]]).tokenBytes(256); // Uint8Array [104, 105]
   * ```
   */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id must be an integer in [0, ${this.vocabSize}), got ${id}`);
    }
    return this.#bytes.slice(this.#byteStart[id], this.#byteStart[id + 1]);
  }

  /**
   * A readable view of the vocabulary: id → its text, with bytes that are not valid UTF-8 (and
   * control characters) shown as `\xNN` and special tokens by name.
   *
   * @returns One string per id.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const vocab = new BpeTokenizer([[32, 114]]).vocab();
   * vocab[256]; // " r"
   * vocab[0xe2]; // "\\xe2"
   * vocab[257]; // "<|pad|>"
   * ```
   */
  vocab(): string[] {
    return Array.from(
      { length: this.vocabSize },
      (_, id) =>
        id >= this.padId
          ? SPECIAL_TOKENS[id - this.padId]
          : escapeBytes(this.#bytes.subarray(this.#byteStart[id], this.#byteStart[id + 1])),
    );
  }

  /**
   * The tokenizer as plain JSON (format name, version, settings, merges).
   *
   * @returns An object for `JSON.stringify`; `fromJSON` reads it back.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const json = new BpeTokenizer([[97, 98]]).toJSON();
   * json.merges; // [97, 98]
   * ```
   */
  toJSON(): TokenizerJson {
    return {
      format: TOKENIZER_FORMAT,
      version: TOKENIZER_FORMAT_VERSION,
      lowercase: this.lowercase,
      splitPattern: this.splitPattern,
      specialTokens: [...SPECIAL_TOKENS],
      merges: this.#merges.flat(),
    };
  }

  /**
   * Rebuilds a tokenizer from `toJSON` output, checking format, version and contents.
   *
   * @param json A parsed object (or a JSON string).
   * @returns The tokenizer.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const tok = BpeTokenizer.fromJSON(new BpeTokenizer([[97, 98]]).toJSON());
   * tok.encode("ab"); // [256]
   * ```
   */
  static fromJSON(json: unknown): BpeTokenizer {
    const data = typeof json === "string" ? parseJson(json, "tokenizer JSON") : json;
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new TypeError(`expected a tokenizer object, got ${describe(data)}`);
    }
    const record = data as Record<string, unknown>;
    if (record.format !== TOKENIZER_FORMAT) {
      throw new TypeError(
        `expected format "${TOKENIZER_FORMAT}", got ${
          describe(record.format)
        }: not a saved tokenizer`,
      );
    }
    if (record.version !== TOKENIZER_FORMAT_VERSION) {
      throw new RangeError(
        `tokenizer format version ${describe(record.version)} is not supported; this build ` +
          `reads version ${TOKENIZER_FORMAT_VERSION}`,
      );
    }
    const { lowercase, splitPattern, specialTokens, merges } = record;
    if (typeof lowercase !== "boolean") {
      throw new TypeError(`expected "lowercase" to be a boolean, got ${describe(lowercase)}`);
    }
    if (typeof splitPattern !== "string") {
      throw new TypeError(`expected "splitPattern" to be a string, got ${describe(splitPattern)}`);
    }
    if (JSON.stringify(specialTokens) !== JSON.stringify(SPECIAL_TOKENS)) {
      throw new TypeError(
        `expected "specialTokens" ${JSON.stringify(SPECIAL_TOKENS)}, got ${
          describe(specialTokens)
        }`,
      );
    }
    if (!Array.isArray(merges) || merges.length % 2 !== 0) {
      throw new TypeError(
        `expected "merges" to be a flat array of id pairs, got ${describe(merges)}`,
      );
    }
    const pairs: [number, number][] = [];
    for (let i = 0; i < merges.length; i += 2) pairs.push([merges[i], merges[i + 1]]);
    return new BpeTokenizer(pairs, { lowercase, splitPattern }); // checks each merge's ids
  }

  /**
   * Saves the tokenizer as JSON, atomically (lib/io's `writeFileAtomic`; parent folders created).
   *
   * @param path Where to write, e.g. `data/tokenizer.json`.
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const path = await Deno.makeTempFile({ suffix: ".json" });
   * await new BpeTokenizer([[97, 98]]).save(path);
   * ```
   */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, JSON.stringify(this.toJSON()));
  }

  /**
   * Loads a tokenizer saved by `save`.
   *
   * @param path The JSON file.
   * @returns The tokenizer.
   * @throws {CorruptFileError} A truncated or corrupt file (not JSON, bad merges, missing fields).
   * @throws {TypeError | RangeError} Another format, or a version this build does not read (the
   *   message starts with the path).
   * @example
   * ```ts
   * import { BpeTokenizer } from "./bpe.ts";
   * const path = await Deno.makeTempFile({ suffix: ".json" });
   * await new BpeTokenizer([[97, 98]]).save(path);
   * const tok = await BpeTokenizer.load(path);
   * ```
   */
  static async load(path: string): Promise<BpeTokenizer> {
    const json = await readTokenizerJson(path);
    const record = json as Record<string, unknown> | null;
    // Another format or version is a different file, not a damaged one: it keeps its own type.
    const foreign = typeof record === "object" && record !== null && !Array.isArray(record) &&
      (record.format !== TOKENIZER_FORMAT || record.version !== TOKENIZER_FORMAT_VERSION);
    try {
      return BpeTokenizer.fromJSON(json);
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      if (!foreign) {
        throw new CorruptFileError(path, error.message, { format: "tokenizer file", cause: error });
      }
      error.message = `${path}: ${error.message}`;
      throw error;
    }
  }

  #decodeShowingSpecial(ids: ArrayLike<number>): string {
    let text = "";
    let from = 0;
    for (let i = 0; i <= ids.length; i++) {
      if (i < ids.length && ids[i] < this.padId) continue;
      text += this.decode(Array.prototype.slice.call(ids, from, i));
      if (i < ids.length) text += SPECIAL_TOKENS[ids[i] - this.padId];
      from = i + 1;
    }
    return text;
  }

  #dropoutRng(options: EncodeOptions): Mulberry32 | undefined {
    const { dropout = 0, seed } = options;
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new RangeError(`dropout must be a probability in [0, 1], got ${dropout}`);
    }
    if (dropout === 0) return undefined;
    if (seed === undefined) {
      throw new TypeError(
        "dropout > 0 needs a seed (e.g. the training step) so that splits are reproducible",
      );
    }
    return Mulberry32.dropout(seed);
  }

  #encodeInto(text: string, out: number[], dropout: number, rng?: Mulberry32): void {
    const source = this.lowercase ? text.toLowerCase() : text;
    const words = source.match(this.#split);
    if (words === null) return;
    for (const word of words) {
      let ids: number[] | undefined;
      if (rng !== undefined) {
        ids = this.#encodeWordWithDropout(utf8Bytes(word), dropout, rng);
      } else {
        ids = this.#cache.get(word);
        if (ids === undefined) {
          ids = this.#encodeWord(utf8Bytes(word));
          if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
          this.#cache.set(word, ids);
        }
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** Applies merges lowest id (earliest learned) first, as training did. */
  #encodeWord(ids: number[]): number[] {
    while (ids.length >= 2) {
      let best = Infinity;
      for (let i = 0; i + 1 < ids.length; i++) {
        const id = this.#mergeIds[ids[i]]?.get(ids[i + 1]);
        if (id !== undefined && id < best) best = id;
      }
      if (best === Infinity) break;
      const [left, right] = this.#merges[best - 256];
      let write = 0;
      for (let read = 0; read < ids.length; read++) {
        if (read + 1 < ids.length && ids[read] === left && ids[read + 1] === right) {
          ids[write++] = best;
          read++;
        } else {
          ids[write++] = ids[read];
        }
      }
      ids.length = write;
    }
    return ids;
  }

  /**
   * BPE dropout: at each step every applicable merge is dropped with probability `dropout`;
   * the earliest-learned surviving one is applied (leftmost first); the word is done when none
   * survives. With dropout 0 this gives exactly `#encodeWord`'s result.
   */
  #encodeWordWithDropout(ids: number[], dropout: number, rng: Mulberry32): number[] {
    while (ids.length >= 2) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const id = this.#mergeIds[ids[i]]?.get(ids[i + 1]);
        if (id === undefined || rng.next() < dropout) continue;
        if (id < best) {
          best = id;
          at = i;
        }
      }
      if (at < 0) break;
      ids.splice(at, 2, best);
    }
    return ids;
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`${what} is not valid JSON (corrupt or truncated file?): ${error}`);
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
