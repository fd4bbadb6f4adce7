import assert from "node:assert/strict";
import { batchIndicesAt } from "./batches.ts";
import { makeTokenDataset, TINY_TOKENS, tokenBatchAt } from "./tokens.ts";

/** FNV-1a over the values: a fingerprint of a whole array. */
function fingerprint(values: Int32Array): string {
  let h = 0x811c9dc5;
  for (const v of values) h = Math.imul(h ^ v, 0x01000193) >>> 0;
  return h.toString(16);
}

Deno.test("makeTokenDataset: the same data as the experiments' generator had (pinned)", () => {
  // Fingerprints of makeTokenDataset(4096, seed) as the experiments had it before it moved here.
  const pinned: Record<number, [string, string]> = {
    0: ["71dada51", "51ac011e"],
    1: ["a43d743b", "c64cd813"],
    7: ["9904a669", "7c629055"],
  };
  for (const [seed, [text, image]] of Object.entries(pinned)) {
    const data = makeTokenDataset(4096, Number(seed));
    assert.deepEqual([fingerprint(data.text), fingerprint(data.image)], [text, image], seed);
  }
});

Deno.test("makeTokenDataset: the caption says what the grid draws", () => {
  const data = makeTokenDataset(1, 0);
  // Colour 1 (token 2), shape 0 (plus, token 7), dx 0 (token 11), dy 1 (token 14), then pads.
  assert.deepEqual([...data.text], [2, 7, 11, 14, 30, 30]);
  // The plus in token 2 at (0, 1); cells 4 and 9 are the 10% noise tokens.
  assert.deepEqual([...data.image], [0, 0, 0, 0, 15, 2, 0, 0, 2, 26, 2, 0, 0, 2, 0, 0]);
  // Over many examples about 10% of cells are noise: tokens above the six colours.
  const many = makeTokenDataset(2000, 3);
  const noise = many.image.filter((t) => t > 6).length / many.image.length;
  assert.ok(noise > 0.08 && noise < 0.1, `noise fraction ${noise}`);
});

Deno.test("makeTokenDataset: specs too small for captions or images are RangeErrors", () => {
  assert.throws(() => makeTokenDataset(4, 0, { ...TINY_TOKENS, textLen: 4 }), RangeError);
  assert.throws(() => makeTokenDataset(4, 0, { ...TINY_TOKENS, textVocab: 16 }), RangeError);
  assert.throws(() => makeTokenDataset(4, 0, { ...TINY_TOKENS, imageGrid: 2 }), RangeError);
  assert.throws(() => makeTokenDataset(0, 0), RangeError);
});

Deno.test("tokenBatchAt: a pure function of (seed, step); each epoch visits every example once", () => {
  const data = makeTokenDataset(48, 0);
  const T = TINY_TOKENS.textLen;
  const a = tokenBatchAt(data, { batchSize: 8, seed: 5 }, 4);
  const b = tokenBatchAt(data, { batchSize: 8, seed: 5 }, 4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, tokenBatchAt(data, { batchSize: 8, seed: 6 }, 4));
  assert.notDeepEqual(a, tokenBatchAt(data, { batchSize: 8, seed: 5 }, 5));
  // Rows are whole examples: find each batch row's example by its caption and image.
  const key = (text: Int32Array, image: Int32Array, r: number) =>
    `${text.subarray(r * T, (r + 1) * T)}|${image.subarray(r * 16, (r + 1) * 16)}`;
  const examples = new Map<string, number>();
  for (let e = 0; e < data.count; e++) {
    const k = key(data.text, data.image, e);
    examples.set(k, (examples.get(k) ?? 0) + 1);
  }
  for (const epoch of [0, 1]) {
    const seen = new Map<string, number>();
    for (let step = 6 * epoch; step < 6 * (epoch + 1); step++) {
      const { text, image } = tokenBatchAt(data, { batchSize: 8, seed: 5 }, step);
      for (let r = 0; r < 8; r++) {
        const k = key(text, image, r);
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }
    assert.deepEqual(seen, examples, `epoch ${epoch}`);
  }
  // Two epochs in different orders.
  assert.notDeepEqual(
    tokenBatchAt(data, { batchSize: 48, seed: 5 }, 0),
    tokenBatchAt(data, { batchSize: 48, seed: 5 }, 1),
  );
});

Deno.test("tokenBatchAt: the rows batchIndicesAt picks, whatever the dataset's order", () => {
  const data = makeTokenDataset(10, 0);
  const T = TINY_TOKENS.textLen, cells = TINY_TOKENS.imageGrid ** 2;
  for (const step of [0, 1, 2, 7]) {
    const batch = tokenBatchAt(data, { batchSize: 4, seed: 2 }, step);
    batchIndicesAt(10, { batchSize: 4, seed: 2 }, step).forEach((e, b) => {
      assert.deepEqual(
        batch.text.subarray(b * T, (b + 1) * T),
        data.text.subarray(e * T, (e + 1) * T),
      );
      assert.deepEqual(
        batch.image.subarray(b * cells, (b + 1) * cells),
        data.image.subarray(e * cells, (e + 1) * cells),
      );
    });
  }
});

Deno.test("tokenBatchAt: bad batch sizes and steps are RangeErrors", () => {
  const data = makeTokenDataset(10, 0);
  assert.throws(() => tokenBatchAt(data, { batchSize: 11 }, 0), RangeError);
  assert.throws(() => tokenBatchAt(data, { batchSize: 0 }, 0), RangeError);
  assert.throws(() => tokenBatchAt(data, { batchSize: 2 }, -1), RangeError);
  assert.throws(() => tokenBatchAt(data, { batchSize: 2 }, 1.5), RangeError);
});
