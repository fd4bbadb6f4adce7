/**
 * Shapes-like captions for the tokenizer's tests and benchmark ("a small red circle above a
 * large blue square"), plus a more varied text with invented words, so a 16k vocabulary is
 * reachable. A private stand-in for lib/data's generator, which the tokenizer does not depend on.
 *
 * @module
 */
import { Mulberry32 } from "../../io/mod.ts";

/** Raw mulberry32 (lib/io's frozen `Mulberry32`, unhashed state): the test data stays fixed. */
function rngFrom(seed: number): () => number {
  const rng = new Mulberry32(seed);
  return () => rng.next();
}

const SIZES = ["small", "large", "tiny", "big", "medium"];
const COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "cyan"];
const SHAPES = ["circle", "square", "triangle", "star", "diamond", "cross", "hexagon"];
const RELATIONS = ["above", "below", "to the left of", "to the right of", "next to"];
const OPENERS = ["", "there is ", "an image of ", "a picture showing ", "we see "];
const BACKGROUNDS = ["", " on a black background", " on a gray background", "."];

/**
 * Generates shapes-like captions with a seeded RNG.
 *
 * @param count How many captions.
 * @param seed RNG seed; same seed → same captions.
 * @returns Captions such as "there is a small red circle above a large blue square".
 * @example
 * ```ts
 * import { shapeCaptions } from "./_captions.ts";
 * shapeCaptions(2, 0); // two captions
 * ```
 */
export function shapeCaptions(count: number, seed: number): string[] {
  const rand = rngFrom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const object = () => {
    const parts = [rand() < 0.7 ? pick(SIZES) : "", rand() < 0.9 ? pick(COLORS) : "", pick(SHAPES)];
    const phrase = parts.filter((p) => p !== "").join(" ");
    return `${/^[aeiou]/.test(phrase) ? "an" : "a"} ${phrase}`;
  };
  const captions: string[] = [];
  for (let i = 0; i < count; i++) {
    let caption = pick(OPENERS) + object();
    if (rand() < 0.6) caption += ` ${pick(RELATIONS)} ${object()}`;
    caption += pick(BACKGROUNDS);
    if (rand() < 0.2) caption = caption[0].toUpperCase() + caption.slice(1);
    captions.push(caption);
  }
  return captions;
}

/**
 * Captions at least `bytes` long in UTF-8, joined with newlines.
 *
 * @param bytes Target size in bytes (e.g. 1e6 for 1 MB).
 * @param seed RNG seed.
 * @returns The captions (their total size is just over `bytes`).
 * @example
 * ```ts
 * import { captionsOfSize } from "./_captions.ts";
 * captionsOfSize(1000, 0).length; // about 25 captions
 * ```
 */
export function captionsOfSize(bytes: number, seed: number): string[] {
  const out: string[] = [];
  let total = 0;
  let batch = 0;
  while (total < bytes) {
    for (const caption of shapeCaptions(1000, seed * 1000 + batch++)) {
      out.push(caption);
      total += caption.length + 1;
      if (total >= bytes) break;
    }
  }
  return out;
}

/**
 * A more varied text: caption-like sentences whose words come from a Zipf-distributed lexicon
 * of invented syllable words (plus some numbers and accented letters), so BPE keeps finding new
 * pairs up to a 16k vocabulary.
 *
 * @param bytes Target size in UTF-8 bytes.
 * @param seed RNG seed.
 * @returns Lines of text whose total size is just over `bytes`.
 * @example
 * ```ts
 * import { variedText } from "./_captions.ts";
 * variedText(1000, 0).length; // a few dozen lines
 * ```
 */
export function variedText(bytes: number, seed: number): string[] {
  const rand = rngFrom(seed ^ 0x5bd1e995);
  const onsets = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "cl",
    "dr",
    "st",
    "tr",
    "ch",
    "sh",
    "th",
    "qu",
    "gl",
    "pl",
    "é",
    "ñ",
  ];
  const vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea", "y", "ö"];
  const codas = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ng"];
  const lexicon: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const syllables = 1 + Math.floor(rand() * 4);
    let word = "";
    for (let s = 0; s < syllables; s++) {
      word += onsets[Math.floor(rand() * onsets.length)] +
        vowels[Math.floor(rand() * vowels.length)] +
        codas[Math.floor(rand() * codas.length)];
    }
    lexicon.push(word);
  }
  // Zipf(1): word rank r drawn with probability ∝ 1/r, via the inverse of the harmonic CDF.
  const zipf = () =>
    Math.min(lexicon.length - 1, Math.floor(Math.exp(rand() * Math.log(lexicon.length))) - 1);
  const captions = captionsOfSize(bytes, seed);
  const lines: string[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const words = captions[i % captions.length].split(" ");
    for (let w = 0; w < words.length; w++) if (rand() < 0.6) words[w] = lexicon[zipf()];
    if (rand() < 0.1) words.push(String(Math.floor(rand() * 10_000)));
    const line = words.join(" ");
    lines.push(line);
    total += new TextEncoder().encode(line).length + 1;
  }
  return lines;
}
