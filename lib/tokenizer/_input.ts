/**
 * What the tokenizer checks of what it is given: training texts (a non-empty array of strings),
 * captions (none empty; the ones cut to fit a row are reported, never dropped silently) and saved
 * files (complete UTF-8 JSON).
 *
 * @module
 */
import { CorruptFileError } from "../io/errors.ts";

/** A caption `encodeBatch` cut to fit its row. */
export interface TruncatedCaption {
  /** Its row in the batch. */
  row: number;
  /** The caption as given. */
  text: string;
  /** Its tokens before the cut (with `<|eot|>` when one was appended). */
  tokens: number;
  /** Tokens kept: the row length `textLen`. */
  kept: number;
}

/**
 * Throws on a caption that is not a string, or (unless allowed) one with nothing but whitespace:
 * it would encode to a row of pads, which the prior reads as "no caption".
 *
 * @param texts The captions of a batch.
 * @param allowEmpty Accept blank captions.
 * @throws {TypeError} A caption that is not a string.
 * @throws {RangeError} A blank caption, unless `allowEmpty`.
 * @example
 * ```ts
 * import { checkCaptions } from "./_input.ts";
 * try { checkCaptions(["a red star", " "], false); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkCaptions(texts: readonly string[], allowEmpty: boolean): void {
  if (!Array.isArray(texts)) {
    throw new TypeError(`tokenizer: captions must be an array of strings, got ${typeof texts}`);
  }
  texts.forEach((text, row) => {
    if (typeof text !== "string") {
      throw new TypeError(`tokenizer: caption ${row} must be a string, got ${typeof text}`);
    }
    if (!allowEmpty && text.trim() === "") {
      throw new RangeError(
        `tokenizer: caption ${row} is empty (${JSON.stringify(text)}); a caption needs at least ` +
          `one token (pass allowEmpty: true for deliberately blank rows)`,
      );
    }
  });
}

/**
 * Throws unless `texts` is a non-empty array of strings. A single string is iterable too, so it
 * would otherwise train on its characters, one text each, and learn almost nothing; an empty
 * array would give a tokenizer of bytes only.
 *
 * @param texts What `BpeTokenizer.train` was given.
 * @throws {TypeError} Not an array, or an entry that is not a string.
 * @throws {RangeError} An empty array.
 * @example
 * ```ts
 * import { checkTrainingTexts } from "./_input.ts";
 * try { checkTrainingTexts("a red star" as unknown as string[]); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkTrainingTexts(texts: readonly string[]): void {
  if (!Array.isArray(texts)) {
    const got = typeof texts === "string" ? "a string (wrap one text in [ ])" : typeof texts;
    throw new TypeError(`BpeTokenizer.train: texts must be an array of strings, got ${got}`);
  }
  if (texts.length === 0) {
    throw new RangeError(
      "BpeTokenizer.train: texts must hold at least one text, got an empty array",
    );
  }
  const at = texts.findIndex((text) => typeof text !== "string");
  if (at >= 0) {
    throw new TypeError(`BpeTokenizer.train: text ${at} must be a string, got ${typeof texts[at]}`);
  }
}

/**
 * The default report of cut captions: one warning per batch, on stderr, with how many were cut
 * and the first of them in full.
 *
 * @param truncated The captions cut (at least one).
 * @param batch Captions in the batch.
 * @example
 * ```ts
 * import { warnTruncated } from "./_input.ts";
 * warnTruncated([{ row: 2, text: "a very long caption", tokens: 40, kept: 32 }], 8);
 * ```
 */
export function warnTruncated(truncated: readonly TruncatedCaption[], batch: number): void {
  const first = truncated[0];
  console.warn(
    `[tokenizer] ${truncated.length} of ${batch} captions were truncated to textLen ` +
      `${first.kept} tokens; caption ${first.row} has ${first.tokens}: ` +
      `${JSON.stringify(first.text)} (pass onTruncate to handle or silence this)`,
  );
}

/**
 * Reads a saved tokenizer's JSON, with damage reported as a {@link CorruptFileError} naming the
 * file (bytes that are not UTF-8, JSON that does not parse: usually a truncated copy).
 *
 * @param path The file.
 * @returns The parsed JSON.
 * @throws {CorruptFileError} Not UTF-8 text, or not JSON.
 * @example
 * ```ts
 * import { readTokenizerJson } from "./_input.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, '{"format": "dalle-lab-bpe", "vers');
 * try { await readTokenizerJson(path); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export async function readTokenizerJson(path: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`no tokenizer file at ${path}`);
    throw err;
  }
  const corrupt = (reason: string, cause: unknown): never => {
    throw new CorruptFileError(path, reason, { format: "tokenizer file", cause });
  };
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    corrupt("it is not UTF-8 text", err);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // Not the parser's message, which quotes the file's first bytes (kept as the cause): the
    // path may come from a shared pipeline's manifest and name a file that is not a tokenizer.
    return corrupt("not valid JSON, truncated or corrupt?", err);
  }
}
