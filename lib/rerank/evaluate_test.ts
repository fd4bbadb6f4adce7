import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { imagesToTensor, makeShapes, parseCaption, sceneMatches } from "../data/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  createReranker,
  rerankData,
  type RerankerConfig,
  retrievalAccuracy,
  trainReranker,
} from "./mod.ts";
import { wilsonInterval } from "../io/mod.ts";

await initBackend();

const TEST = await makeShapes({ count: 100, seed: 1, split: "test" });

Deno.test("wilsonInterval: known values, the ends of [0, 1], bad counts", () => {
  const [low, high] = wilsonInterval(80, 100);
  assert.ok(Math.abs(low - 0.7111) < 1e-3 && Math.abs(high - 0.8666) < 1e-3, `${low} ${high}`);
  assert.equal(wilsonInterval(0, 10)[0], 0);
  assert.ok(wilsonInterval(0, 10)[1] > 0.2);
  assert.equal(wilsonInterval(10, 10)[1], 1);
  assert.throws(() => wilsonInterval(3, 2), RangeError);
  assert.throws(() => wilsonInterval(0, 0), RangeError);
});

Deno.test("retrievalAccuracy: each caption ranked against its own image and pool − 1 others, as score() ranks them", () => {
  const tokenizer = BpeTokenizer.train(TEST.captions, { vocabSize: 300 });
  const data = rerankData({ ...TEST, tokenizer });
  const model = createReranker({
    textLen: data.textLen,
    textVocab: tokenizer.vocabSize,
    textWidth: 16,
    textLayers: 1,
    textHeads: 2,
    imageChannels: [8, 8, 8],
    embedDim: 8,
  });
  const before = tf.memory().numTensors;
  // Distractors of caption i: exactly images i+1 … i+7 (mod 100), so the pools are known.
  const allowed = (i: number, j: number) => (j - i + 100) % 100 >= 1 && (j - i + 100) % 100 <= 7;
  const result = retrievalAccuracy(model, data, {
    pool: 8,
    excluded: (i, j) => !allowed(i, j),
    chunk: 32,
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(result.total, 100);
  assert.equal(result.chance, 1 / 8);
  const ids = tf.tensor2d(data.ids, [100, data.textLen], "int32");
  const images = imagesToTensor(TEST.images);
  const sims = model.score(ids, images);
  const s = sims.arraySync();
  tf.dispose([ids, images, sims]);
  for (let i = 0; i < 100; i++) {
    const pool = Array.from({ length: 7 }, (_, k) => (i + k + 1) % 100);
    const rank = pool.filter((j) => s[i][j] >= s[i][i]).length;
    assert.equal(result.ranks[i], rank, `caption ${i}`);
  }
  assert.equal(result.correct, result.ranks.filter((r) => r === 0).length);
  assert.ok(result.low <= result.accuracy && result.accuracy <= result.high);
  // The same seed draws the same pools.
  const again = retrievalAccuracy(model, data, { pool: 32, seed: 5 });
  assert.deepEqual(retrievalAccuracy(model, data, { pool: 32, seed: 5 }).ranks, again.ranks);
  assert.throws(() => retrievalAccuracy(model, data, { pool: 101 }), /pool must be .*\[2, 100\]/);
  assert.throws(
    () => retrievalAccuracy(model, data, { pool: 9, excluded: (i, j) => !allowed(i, j) }),
    /caption 0 has 7 possible distractors, fewer than pool − 1 = 8/,
  );
  model.dispose();
});

Deno.test("a reranker trained for about half a minute ranks held-out test captions' own images first far above chance", async () => {
  const train = await makeShapes({ count: 1000, seed: 0, split: "train" });
  const tokenizer = BpeTokenizer.train(train.captions, { vocabSize: 343 }); // all they reach
  const data = rerankData({ ...train, tokenizer });
  const config: RerankerConfig = { textLen: data.textLen, textVocab: tokenizer.vocabSize };
  const model = createReranker(config);
  const run = await trainReranker(model, data, { steps: 120, batchSize: 64, lr: 2e-3, workers: 1 });
  run.dispose();
  const test = rerankData({ ...TEST, tokenizer, textLen: data.textLen });
  const meanings = TEST.captions.map(parseCaption);
  const result = retrievalAccuracy(model, test, {
    pool: 32,
    excluded: (i, j) => sceneMatches(meanings[i], TEST.attributes[j]),
  });
  console.log(
    `test retrieval, 100 captions, pool 32: ${(100 * result.accuracy).toFixed(0)}% ` +
      `[${(100 * result.low).toFixed(0)}, ${(100 * result.high).toFixed(0)}] (chance 3%)`,
  );
  assert.ok(result.low > 4 * result.chance, `accuracy ${result.accuracy} [${result.low}, …]`);
  model.dispose();
});
