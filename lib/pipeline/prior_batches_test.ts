import assert from "node:assert/strict";
import { priorBatches } from "./mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";

const CAPTIONS = Array.from(
  { length: 12 },
  (_, i) =>
    `a ${["red", "blue", "green"][i % 3]} ${["circle", "square", "star", "cross"][i % 4]} ${i}`,
);
const TOKENIZER = BpeTokenizer.train(CAPTIONS, { vocabSize: 300, allowSmaller: true });
// Scene i's image tokens are all i: a row says which scene it came from.
const TOKENS = new Int32Array(CAPTIONS.length * 4).map((_, k) => Math.floor(k / 4));

Deno.test("priorBatches: a step's batch is a pure function of the step; text and image rows pair up", () => {
  const options = { batchSize: 4, textLen: 24, seed: 3, bpeDropout: 0.1 };
  const a = priorBatches({ captions: CAPTIONS }, TOKENS, TOKENIZER, options);
  const b = priorBatches({ captions: CAPTIONS }, TOKENS, TOKENIZER, options);
  assert.deepEqual(a(5), b(5));
  assert.deepEqual(a(5), a(5), "asking again gives the same batch");
  assert.notDeepEqual(a(5).image, a(6).image, "another step draws other scenes");
  for (const step of [0, 1, 7]) {
    const { text, image } = a(step);
    assert.equal(text.length, 4 * 24);
    assert.equal(image.length, 4 * 4);
    for (let row = 0; row < 4; row++) {
      const scene = image[row * 4];
      assert.ok(image.subarray(row * 4, row * 4 + 4).every((t) => t === scene));
      const ids = [...text.subarray(row * 24, row * 24 + 24)].filter((id) => id < TOKENIZER.padId);
      const words = TOKENIZER.decode(Int32Array.from(ids)).trim();
      assert.ok(words.startsWith(CAPTIONS[scene].toLowerCase()), `${words} / ${CAPTIONS[scene]}`);
    }
  }
  // An epoch visits every scene once.
  const seen = new Set<number>();
  for (let step = 0; step < 3; step++) for (const t of a(step).image) seen.add(t);
  assert.equal(seen.size, CAPTIONS.length);
});

Deno.test("priorBatches: tokens that are not a whole row per caption are an error", () => {
  assert.throws(
    () =>
      priorBatches({ captions: CAPTIONS }, new Int32Array(7), TOKENIZER, {
        batchSize: 2,
        textLen: 8,
      }),
    RangeError,
  );
});
