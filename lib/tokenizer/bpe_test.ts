import assert from "node:assert/strict";
import {
  BpeTokenizer,
  SPLIT_PATTERN,
  TOKENIZER_FORMAT_VERSION,
  type TokenizerJson,
  type TruncatedCaption,
} from "./mod.ts";
import { learnMerges, type Merge } from "./_train.ts";
import { escapeBytes, utf8Bytes } from "./_utf8.ts";
import { captionsOfSize, shapeCaptions, variedText } from "./testdata/_captions.ts";
import { CorruptFileError } from "../io/errors.ts";
import { Mulberry32 } from "../io/mod.ts";

const utf8 = new TextEncoder();

/** Strings that break careless tokenizers (after minbpe's test list, plus more). */
const TRICKY = [
  "",
  "?",
  "hello world!!!? (안녕하세요!) lol123 😉",
  "FILE:///Users/x/ü\tZ\r\n\r\n  \n",
  "e\u0301 vs é, Å, ﬁ, İstanbul, ΣΑΣ, straße",
  "👩‍👩‍👧‍👦 family, 🇫🇷 flag, ❤️ heart",
  "a\u0000b\u0000\u0000 nul bytes",
  "   leading and trailing spaces   ",
  "tabs\t\tand\u00a0no-break\u2003em space\u2028line sep",
  "x".repeat(300),
  "'s 're 'll 'S don't I'M",
  "數字 123456789 ١٢٣ ⅫⅣ",
  "\uffff\ufffe\ufffd replacement chars",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝟘𝟙",
];

/** minbpe's RegexTokenizer training, recounting everything each step: the reference to match. */
function naiveMerges(texts: string[], numMerges: number, minFrequency: number): Merge[] {
  const split = new RegExp(SPLIT_PATTERN, "gu");
  const chunks = texts.flatMap((t) => t.match(split) ?? []).map((w) => Array.from(utf8.encode(w)));
  const merges: Merge[] = [];
  while (merges.length < numMerges) {
    const counts = new Map<string, number>(); // insertion order = order of first occurrence
    for (const c of chunks) {
      for (let i = 0; i + 1 < c.length; i++) {
        const key = `${c[i]},${c[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best = "";
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount) [best, bestCount] = [key, count]; // strict: ties keep the first
    }
    if (bestCount < minFrequency || bestCount === 0) break;
    const [left, right] = best.split(",").map(Number);
    const id = 256 + merges.length;
    merges.push([left, right]);
    for (const c of chunks) {
      const out: number[] = [];
      for (let i = 0; i < c.length; i++) {
        if (i + 1 < c.length && c[i] === left && c[i + 1] === right) {
          out.push(id);
          i++;
        } else out.push(c[i]);
      }
      c.splice(0, c.length, ...out);
    }
  }
  return merges;
}

/** Raw mulberry32 (lib/io's frozen `Mulberry32`, unhashed state): the test data stays fixed. */
function rngFrom(seed: number): () => number {
  const rng = new Mulberry32(seed);
  return () => rng.next();
}

const CAPTIONS = captionsOfSize(50_000, 1);
const TOKENIZER = BpeTokenizer.train([...CAPTIONS, ...TRICKY], { vocabSize: 400 });
const CASED = BpeTokenizer.train([...CAPTIONS, ...TRICKY], { vocabSize: 400, lowercase: false });

Deno.test("minbpe reference vector: aaabdaaabac to 259 (+2 specials) encodes as [258, 100, 258, 97, 99]", () => {
  const tok = BpeTokenizer.train(["aaabdaaabac"], { vocabSize: 259 + 2, lowercase: false });
  assert.deepEqual(tok.merges, [[97, 97], [256, 97], [257, 98]]);
  assert.deepEqual(tok.encode("aaabdaaabac"), [258, 100, 258, 97, 99]);
  assert.equal(tok.decode([258, 100, 258, 97, 99]), "aaabdaaabac");
  assert.equal(tok.vocabSize, 261);
  assert.equal(tok.padId, 259);
  assert.equal(tok.eotId, 260);
});

Deno.test("incremental training learns exactly the merges of naive minbpe-style recounting", () => {
  const rand = rngFrom(3);
  // A tiny alphabet makes ties, overlapping runs ("aaaa") and repeated pairs common.
  const alphabet = ["a", "a", "a", "b", "b", "c", " ", " ", "é", "\n", "1"];
  for (let trial = 0; trial < 25; trial++) {
    const texts = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => {
      let s = "";
      const n = Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    });
    const minFrequency = trial % 3 === 0 ? 1 : 2;
    const expected = naiveMerges(texts, 60, minFrequency);
    // The reference stops early on short texts too: both must learn the same merges, however few.
    const tok = BpeTokenizer.train(texts, {
      vocabSize: 256 + 60 + 2,
      lowercase: false,
      minFrequency,
      allowSmaller: true,
    });
    assert.deepEqual(tok.merges, expected, `trial ${trial}: ${JSON.stringify(texts)}`);
  }
  for (const texts of [shapeCaptions(300, 9), variedText(15_000, 2)]) {
    assert.deepEqual(
      BpeTokenizer.train(texts, { vocabSize: 256 + 250 + 2, lowercase: false, allowSmaller: true })
        .merges,
      naiveMerges(texts, 250, 2),
    );
  }
});

Deno.test("encoding a training word replays training: same tokens as the merged words", () => {
  const split = new RegExp(SPLIT_PATTERN, "gu");
  const distinct = [...new Set(CAPTIONS.flatMap((c) => c.toLowerCase().match(split) ?? []))];
  const words = distinct.map((w) => Array.from(utf8.encode(w)));
  const merges = learnMerges(words, distinct.map(() => 2), 200, 2); // rewrites `words` in place
  const tok = new BpeTokenizer(merges);
  distinct.forEach((word, i) => assert.deepEqual(tok.encode(word), words[i], word));
});

Deno.test("tricky strings round-trip exactly without lowercasing, and lowercased with it", () => {
  for (const text of TRICKY) {
    assert.equal(CASED.decode(CASED.encode(text)), text, JSON.stringify(text));
    assert.equal(
      TOKENIZER.decode(TOKENIZER.encode(text)),
      text.toLowerCase(),
      JSON.stringify(text),
    );
    const untrained = new BpeTokenizer([], { lowercase: false });
    assert.deepEqual(untrained.encode(text), Array.from(utf8.encode(text)));
  }
  // Random code points from every plane, including NUL and controls.
  const rand = rngFrom(11);
  for (let trial = 0; trial < 200; trial++) {
    let text = "";
    for (let i = 0; i < 20; i++) {
      const plane = rand();
      const cp = plane < 0.5
        ? Math.floor(rand() * 0x80)
        : plane < 0.8
        ? 0x80 + Math.floor(rand() * 0xd700)
        : 0x10000 + Math.floor(rand() * 0xfffff);
      text += String.fromCodePoint(cp);
    }
    assert.equal(CASED.decode(CASED.encode(text)), text);
  }
});

Deno.test("lone surrogates encode as U+FFFD (TextEncoder's rule); lowercasing is applied", () => {
  assert.equal(CASED.decode(CASED.encode("a\ud800b\udfffc")), "a\ufffdb\ufffdc");
  assert.equal(CASED.decode(CASED.encode("\udc00\ud83d")), "\ufffd\ufffd");
  // The tokenizer's own UTF-8 encoder agrees with TextEncoder byte for byte, surrogates included.
  const rand = rngFrom(5);
  for (let trial = 0; trial < 300; trial++) {
    const units = Array.from({ length: 12 }, () => {
      const r = rand();
      return r < 0.3
        ? 0xd800 + Math.floor(rand() * 0x800)
        : Math.floor(rand() * (r < 0.6 ? 0x800 : 0x10000));
    });
    const text = String.fromCharCode(...units);
    assert.deepEqual(utf8Bytes(text), Array.from(utf8.encode(text)), JSON.stringify(text));
  }
  assert.deepEqual(TOKENIZER.encode("A RED Circle"), TOKENIZER.encode("a red circle"));
  assert.notDeepEqual(CASED.encode("A RED Circle"), CASED.encode("a red circle"));
});

Deno.test("decode joins bytes across tokens: a character split over byte tokens decodes whole", () => {
  const bytesOnly = new BpeTokenizer([], { lowercase: false });
  const ids = bytesOnly.encode("€😉");
  assert.deepEqual(ids, [0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x89]);
  assert.equal(bytesOnly.decode(ids), "€😉");
  assert.equal(bytesOnly.decode(ids.slice(0, 2)), "\ufffd"); // half a character alone is invalid
  assert.throws(() => bytesOnly.decode([bytesOnly.vocabSize]), RangeError);
  assert.throws(() => bytesOnly.decode([-1]), RangeError);
  assert.throws(() => bytesOnly.decode([1.5]), RangeError);
});

Deno.test("dropout 0 is deterministic; dropout 1 gives bytes only; seeded dropout varies by seed", () => {
  const text = "there is a small red circle above a large blue square";
  const plain = TOKENIZER.encode(text);
  assert.ok(plain.length < utf8.encode(text).length / 2, "merges should shorten the caption");
  assert.deepEqual(TOKENIZER.encode(text, { dropout: 0 }), plain);
  assert.deepEqual(TOKENIZER.encode(text, { dropout: 1, seed: 5 }), Array.from(utf8.encode(text)));
  // A dropout that never fires takes the dropout code path yet must split like plain encoding.
  assert.deepEqual(TOKENIZER.encode(text, { dropout: Number.MIN_VALUE, seed: 1 }), plain);

  const a = TOKENIZER.encode(text, { dropout: 0.1, seed: 42 });
  assert.deepEqual(TOKENIZER.encode(text, { dropout: 0.1, seed: 42 }), a);
  const splits = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const ids = TOKENIZER.encode(text, { dropout: 0.1, seed });
    assert.equal(TOKENIZER.decode(ids), text);
    assert.ok(ids.length >= plain.length);
    splits.add(ids.join(","));
  }
  assert.ok(splits.size > 5, `expected varied splits, got ${splits.size}`);
  assert.throws(() => TOKENIZER.encode(text, { dropout: 0.1 }), TypeError);
  assert.throws(() => TOKENIZER.encode(text, { dropout: 1.5, seed: 0 }), RangeError);
  assert.throws(() => TOKENIZER.encode(text, { dropout: NaN, seed: 0 }), RangeError);
});

Deno.test("encodeBatch: n × textLen rows, truncation, pad after the end, lengths, eot", () => {
  const texts = ["a red circle", "", "there is a small red circle above a large blue square"];
  const textLen = 6;
  const reported: TruncatedCaption[][] = [];
  const { ids, lengths, truncated } = TOKENIZER.encodeBatch(texts, {
    textLen,
    allowEmpty: true,
    onTruncate: (cut) => reported.push(cut),
  });
  assert.deepEqual(truncated, [2]);
  assert.deepEqual(reported, [[{
    row: 2,
    text: texts[2],
    tokens: TOKENIZER.encode(texts[2]).length,
    kept: textLen,
  }]]);
  assert.ok(ids instanceof Int32Array && lengths instanceof Int32Array);
  assert.equal(ids.length, texts.length * textLen);
  texts.forEach((text, i) => {
    const full = TOKENIZER.encode(text);
    const row = Array.from(ids.subarray(i * textLen, (i + 1) * textLen));
    assert.equal(lengths[i], Math.min(full.length, textLen));
    assert.deepEqual(row.slice(0, lengths[i]), full.slice(0, textLen));
    assert.ok(row.slice(lengths[i]).every((id) => id === TOKENIZER.padId));
  });
  assert.ok(lengths[2] === textLen, "the long caption is truncated");
  assert.deepEqual(
    Array.from(TOKENIZER.encodeBatch([""], { textLen: 3, allowEmpty: true }).ids),
    Array(3).fill(TOKENIZER.padId),
  );

  const withEot = TOKENIZER.encodeBatch(["a red circle"], { textLen: 16, appendEot: true });
  const n = TOKENIZER.encode("a red circle").length;
  assert.equal(withEot.lengths[0], n + 1);
  assert.equal(withEot.ids[n], TOKENIZER.eotId);
  const nonEmpty = [texts[0], texts[2]];
  assert.equal(TOKENIZER.encodeBatch(nonEmpty).ids.length, 2 * 256); // default textLen

  const d1 = TOKENIZER.encodeBatch(nonEmpty, { dropout: 0.1, seed: 3 });
  const d2 = TOKENIZER.encodeBatch(nonEmpty, { dropout: 0.1, seed: 3 });
  assert.deepEqual(d1, d2);
  assert.throws(() => TOKENIZER.encodeBatch(nonEmpty, { textLen: 0 }), RangeError);
});

Deno.test("encodeBatch: a blank caption is an error, a cut one a warning unless handled", () => {
  assert.throws(
    () => TOKENIZER.encodeBatch(["a red star", " "], { textLen: 8 }),
    (e: Error) => e instanceof RangeError && /caption 1 is empty \(" "\)/.test(e.message),
  );
  assert.throws(() => TOKENIZER.encodeBatch([7 as unknown as string]), TypeError);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    const long = "a small red circle above a large blue square";
    const { truncated } = TOKENIZER.encodeBatch(["a", long, long], { textLen: 3 });
    assert.deepEqual(truncated, [1, 2]);
    assert.equal(warnings.length, 1, "one warning per batch");
    assert.match(warnings[0], /2 of 3 captions were truncated to textLen 3 tokens; caption 1/);
    assert.ok(warnings[0].includes(long));
    assert.deepEqual(TOKENIZER.encodeBatch(["a"], { textLen: 3 }).truncated, []);
    assert.equal(warnings.length, 1, "nothing cut, nothing said");
  } finally {
    console.warn = warn;
  }
});

Deno.test("save → load gives identical encodings; other versions and corrupt files are clear errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tokenizer.json`;
    await CASED.save(path);
    const loaded = await BpeTokenizer.load(path);
    assert.deepEqual(loaded.toJSON(), CASED.toJSON());
    assert.equal(loaded.vocabSize, CASED.vocabSize);
    assert.equal(loaded.padId, CASED.padId);
    for (const text of [...TRICKY, ...CAPTIONS.slice(0, 50)]) {
      assert.deepEqual(loaded.encode(text), CASED.encode(text));
      assert.deepEqual(
        loaded.encode(text, { dropout: 0.3, seed: 7 }),
        CASED.encode(text, { dropout: 0.3, seed: 7 }),
      );
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["tokenizer.json"]); // no temp left

    const json: TokenizerJson = CASED.toJSON();
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...json, version: TOKENIZER_FORMAT_VERSION + 1 }),
    );
    await assert.rejects(
      () => BpeTokenizer.load(path),
      (e: Error) => e instanceof RangeError && /version 2 is not supported/.test(e.message),
    );
    await Deno.writeTextFile(path, JSON.stringify(json).slice(0, 100)); // truncated
    await assert.rejects(
      () => BpeTokenizer.load(path),
      (e: Error) =>
        e instanceof CorruptFileError && e.path === path && /not valid JSON/.test(e.message),
    );
    await Deno.writeTextFile(path, JSON.stringify({ ...json, merges: [97, 9999] }));
    await assert.rejects(
      () => BpeTokenizer.load(path),
      (e: Error) => e instanceof CorruptFileError && /merge 0 must join/.test(e.message),
    );
    await Deno.writeFile(path, Uint8Array.of(0x7b, 0xff, 0xfe)); // not UTF-8
    await assert.rejects(() => BpeTokenizer.load(path), CorruptFileError);
    assert.throws(() => BpeTokenizer.fromJSON({ ...json, format: "tiktoken" }), TypeError);
    assert.throws(() => BpeTokenizer.fromJSON({ ...json, merges: [97, 256] }), RangeError); // 256 does not exist yet
    assert.throws(() => BpeTokenizer.fromJSON({ ...json, merges: [97] }), TypeError);
    assert.throws(() => BpeTokenizer.fromJSON({ ...json, lowercase: "yes" }), TypeError);
    assert.throws(() => BpeTokenizer.fromJSON([]), TypeError);
    assert.deepEqual(BpeTokenizer.fromJSON(JSON.stringify(json)).merges, CASED.merges);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vocabulary: size counts bytes + merges + specials; readable view escapes invalid UTF-8", () => {
  assert.equal(TOKENIZER.vocabSize, 400);
  assert.equal(TOKENIZER.padId, 256 + TOKENIZER.merges.length);
  assert.deepEqual(TOKENIZER.specialTokens, { "<|pad|>": 398, "<|eot|>": 399 });
  const vocab = TOKENIZER.vocab();
  assert.equal(vocab.length, 400);
  assert.equal(vocab[97], "a");
  assert.equal(vocab[0], "\\x00");
  assert.equal(vocab[0xc3], "\\xc3");
  assert.equal(vocab[398], "<|pad|>");
  assert.ok(vocab.includes(" circle"));
  assert.equal(escapeBytes(utf8.encode("é😉\\")), "é😉\\\\");
  assert.equal(escapeBytes(new Uint8Array([0xed, 0xa0, 0x80])), "\\xed\\xa0\\x80"); // encoded surrogate
  assert.equal(escapeBytes(new Uint8Array([0xc0, 0xaf])), "\\xc0\\xaf"); // overlong "/"
  assert.equal(escapeBytes(new Uint8Array([0x61, 0xf0, 0x9f])), "a\\xf0\\x9f"); // truncated emoji
  assert.deepEqual(TOKENIZER.tokenBytes(TOKENIZER.padId), new Uint8Array(0));
});

Deno.test("train validates its texts and vocabSize, and stops early only when allowed", () => {
  assert.throws(() => BpeTokenizer.train(["abc"], { vocabSize: 257 }), RangeError);
  assert.throws(() => BpeTokenizer.train(["abc"], { vocabSize: 300.5 }), RangeError);
  assert.throws(() => BpeTokenizer.train(["abc"], { vocabSize: 300, minFrequency: 0 }), RangeError);
  // A string is iterable: it would train on its characters, one text each.
  assert.throws(
    () => BpeTokenizer.train("a red star" as unknown as string[], { vocabSize: 258 }),
    (e: Error) =>
      e.constructor === TypeError && /got a string \(wrap one text in \[ \]\)$/.test(e.message),
  );
  assert.throws(
    () => BpeTokenizer.train([], { vocabSize: 258 }),
    (e: Error) =>
      e.constructor === RangeError && /at least one text, got an empty array$/.test(e.message),
  );
  assert.throws(
    () => BpeTokenizer.train(["a", 7 as unknown as string], { vocabSize: 258 }),
    /text 1 must be a string, got number$/,
  );
  const bytesOnly = BpeTokenizer.train(["abc"], { vocabSize: 258 });
  assert.equal(bytesOnly.vocabSize, 258);
  assert.equal(bytesOnly.merges.length, 0);
  // Shapes captions have few distinct words: far fewer than 16k merges occur twice. A tokenizer
  // smaller than asked for would move the pad id of a model sized to 16,384: an error that says
  // what the texts reach, unless a smaller one is explicitly allowed.
  let reached = 0;
  assert.throws(() => BpeTokenizer.train(CAPTIONS, { vocabSize: 16_384 }), (e: Error) => {
    const match = e.message.match(
      /^BpeTokenizer\.train: vocabSize 16384 is not reachable from these \d+ texts, which give at most (\d+) \(no further pair occurs minFrequency = 2 times\); pass vocabSize ≤ \1, more text, a lower minFrequency, or allowSmaller: true$/,
    );
    reached = Number(match?.[1]);
    return e.constructor === RangeError && match !== null;
  });
  const small = BpeTokenizer.train(CAPTIONS, { vocabSize: 16_384, allowSmaller: true });
  assert.equal(small.vocabSize, reached);
  assert.deepEqual(BpeTokenizer.train(CAPTIONS, { vocabSize: reached }).merges, small.merges);
  assert.ok(small.merges.length < 1000, `learned ${small.merges.length}`);
  assert.equal(small.vocabSize, 256 + small.merges.length + 2);
  for (const caption of CAPTIONS.slice(0, 100)) {
    // Every word of the training text becomes one token (it occurs at least twice).
    const words = caption.toLowerCase().match(new RegExp(SPLIT_PATTERN, "gu"))!;
    assert.equal(small.encode(caption).length, words.length, caption);
  }
});

Deno.test("encodeBatch tooLong: 'undropped' re-encodes an overflowing dropped-out caption without dropout, so no word is lost; 'cut' truncates", () => {
  const captions = ["a small red circle left of a large blue star", "a red circle", "a blue star"];
  const tok = BpeTokenizer.train(captions, { vocabSize: 300, allowSmaller: true });
  const plain = captions.map((c) => tok.encode(c).length + 1);
  const textLen = Math.max(...plain); // fits every plain encoding with <|eot|>, not dropout 0.5's
  const options = { textLen, dropout: 0.5, seed: 3, appendEot: true, onTruncate: () => {} };
  const cut = tok.encodeBatch(captions, options);
  assert.ok(cut.truncated.length > 0, "dropout 0.5 overflows the first caption");
  assert.deepEqual(cut.undropped, []);
  const kept = tok.encodeBatch(captions, { ...options, tooLong: "undropped" });
  assert.deepEqual(kept.truncated, []);
  assert.deepEqual(kept.undropped, cut.truncated);
  for (const row of kept.undropped) {
    const ids = kept.ids.slice(row * textLen, row * textLen + kept.lengths[row]);
    assert.deepEqual([...ids], [...tok.encode(captions[row]), tok.eotId]);
    assert.equal(tok.decode(ids), captions[row]);
  }
  // Rows that fit keep their dropped-out splits, the same as with "cut".
  for (let r = 0; r < captions.length; r++) {
    if (kept.undropped.includes(r)) continue;
    assert.deepEqual(
      kept.ids.slice(r * textLen, (r + 1) * textLen),
      cut.ids.slice(r * textLen, (r + 1) * textLen),
    );
  }
  assert.throws(
    () => tok.encodeBatch(captions, { ...options, tooLong: "drop" as "cut" }),
    /tooLong must be "cut" or "undropped"/,
  );
});
