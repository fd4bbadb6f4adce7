import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  batchIndicesAt,
  isZeroShotPair,
  makeShapes,
  parseCaption,
  type ShapesDataset,
} from "../data/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  createReranker,
  type RerankData,
  rerankData,
  type RerankerConfig,
  trainReranker,
} from "./mod.ts";

await initBackend();
// These tests train in this process (`workers: 1`) unless they are about workers.

const TRAIN = await makeShapes({ count: 64, seed: 0, split: "train" });
const TOKENIZER = BpeTokenizer.train(TRAIN.captions, { vocabSize: 300 });
const DATA = rerankData({ ...TRAIN, tokenizer: TOKENIZER });
const SMALL: RerankerConfig = {
  textLen: DATA.textLen,
  textVocab: TOKENIZER.vocabSize,
  textWidth: 16,
  textLayers: 1,
  textHeads: 2,
  imageChannels: [8, 16, 16],
  embedDim: 16,
  seed: 1,
};

/** Whether a caption or its scene holds a held-out colour–shape pair, read straight off lib/data. */
function holdsHeldOut(set: ShapesDataset, row: number): boolean {
  const named = parseCaption(set.captions[row]).objects;
  const shown = set.attributes[row].objects;
  return [...named, ...shown].some((o) => isZeroShotPair(o.colour, o.shape));
}

Deno.test("trainReranker: the loss falls below chance (ln B), rows hold loss and logit_scale, tensors stay flat, and no batch it saw holds a held-out pair", async () => {
  const model = createReranker(SMALL);
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const seen = new Set<number>();
  const run = await trainReranker(model, DATA, {
    steps: 40,
    batchSize: 16,
    lr: 3e-3,
    workers: 1,
    onBatch: (batch) => batch.indices.forEach((i) => seen.add(i)),
    onStep: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  const rows = run.rows;
  assert.equal(rows.length, 40);
  const loss = rows.map((r) => r.loss as number);
  const late = loss.slice(-5).reduce((a, b) => a + b, 0) / 5;
  // Chance is ln 16 ≈ 2.77 (the first steps sit above it: random cosines × the initial scale).
  assert.ok(late < 0.8 * Math.log(16) && late < 0.6 * loss[0], `loss ${loss[0]} → ${late}`);
  for (const row of rows) {
    assert.ok(typeof row.logit_scale === "number" && row.logit_scale > 1, `${row.logit_scale}`);
    assert.ok((row.logit_scale as number) <= 100 + 1e-3);
    assert.equal(row.skipped, false);
    assert.ok((row.pairs_per_sec as number) > 0);
  }
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts}`);
  run.dispose();
  assert.equal(tf.memory().numTensors, before);
  // What the trainer saw: every training row (10 epochs of 4 batches), none held out.
  assert.equal(seen.size, TRAIN.captions.length);
  for (const row of seen) {
    assert.ok(!holdsHeldOut(TRAIN, row), `row ${row}: ${TRAIN.captions[row]}`);
  }
  model.dispose();
});

Deno.test("trainReranker refuses other splits, held-out compositions and data that does not fit, before any work", async () => {
  const model = createReranker(SMALL);
  const weights = model.parameters().map((p) => p.dataSync().slice());
  const test = await makeShapes({ count: 16, seed: 1, split: "test" });
  const zeroShot = await makeShapes({ count: 16, seed: 0, split: "zero-shot" });
  const encode = (set: Partial<ShapesDataset> & Pick<ShapesDataset, "images" | "captions">) =>
    rerankData({ ...set, tokenizer: TOKENIZER, textLen: DATA.textLen });
  const caption = [...TRAIN.captions];
  caption[5] = "a small green triangle left of a red circle";
  const scene = TRAIN.attributes.map((s) => ({ ...s, objects: [...s.objects] }));
  scene[9] = { objects: [{ colour: "purple", shape: "star", size: "large" }], relation: null };
  const cases: [RerankData, RegExp][] = [
    [encode(test), /"train" split only .* got split "test"/],
    [encode(zeroShot), /got split "zero-shot"/],
    [encode({ images: TRAIN.images, captions: TRAIN.captions }), /got split null/],
    [
      encode({ ...TRAIN, captions: caption }),
      /no held-out composition .*1 row\(s\) do, first row 5 "a small green triangle.*\(green triangle\)/,
    ],
    [encode({ ...TRAIN, attributes: scene }), /first row 9 .*\(purple star\)/],
    [
      rerankData({ ...TRAIN, tokenizer: TOKENIZER, textLen: DATA.textLen + 1 }),
      new RegExp(`textLen ${DATA.textLen + 1},.*\\(textLen ${DATA.textLen},`),
    ],
  ];
  for (const [data, message] of cases) {
    await assert.rejects(() => trainReranker(model, data, { steps: 1, workers: 1 }), message);
  }
  await assert.rejects(
    () => trainReranker(model, DATA, { steps: 1, batchSize: 3, workers: 2 }),
    /batchSize must be an integer in \[4, 64\]/,
  );
  model.parameters().forEach((p, i) => assert.deepEqual(p.dataSync(), weights[i]));
  model.dispose();
});

Deno.test("trainReranker on 2 workers: negatives are shard-local, step 0's loss is the two halves' own InfoNCE", async () => {
  const model = createReranker(SMALL);
  const B = 16, T = DATA.textLen, pixels = 32 * 32 * 3;
  const indices = batchIndicesAt(64, { batchSize: B, seed: 4 }, 0);
  const half = (part: number[]) =>
    tf.tidy(() => {
      const ids = tf.tensor2d(part.flatMap((i) => [...DATA.ids.subarray(i * T, (i + 1) * T)]), [
        part.length,
        T,
      ], "int32");
      const images = tf.tensor4d(
        Float32Array.from(
          part.flatMap((i) => [...TRAIN.images.data.subarray(i * pixels, (i + 1) * pixels)]),
          (b) => b / 255,
        ),
        [part.length, 32, 32, 3],
      );
      return model.lossTerms(ids, images).sum().dataSync()[0];
    });
  const local = (half(indices.slice(0, 8)) + half(indices.slice(8))) / B;
  const whole = half(indices) / B;
  const run = await trainReranker(model, DATA, { steps: 1, batchSize: B, seed: 4, workers: 2 });
  const got = run.rows[0].loss as number;
  assert.ok(Math.abs(got - local) < 1e-4, `2 workers: ${got}, shard-local ${local}`);
  assert.ok(Math.abs(local - whole) > 1e-3, "the two losses should differ");
  run.dispose();
  model.dispose();
});

Deno.test("trainReranker: with groupSize 2, every batch holds whole twin pairs (row 2i beside 2i + 1), on any worker count; sizes it cannot group are refused", async () => {
  const model = createReranker(SMALL);
  for (const workers of [1, 2]) {
    const splits: number[][] = [];
    const run = await trainReranker(model, DATA, {
      steps: 3,
      batchSize: 8,
      workers,
      groupSize: 2,
      onBatch: (batch) => splits.push(batch.indices),
    });
    run.dispose();
    for (const indices of splits) {
      assert.equal(indices.length, 8);
      for (let k = 0; k < indices.length; k += 2) {
        assert.equal(indices[k] % 2, 0);
        assert.equal(indices[k + 1], indices[k] + 1);
      }
    }
    assert.equal(new Set(splits.flat()).size > 8, true); // not the same batch each step
  }
  for (const [groupSize, batchSize] of [[3, 8], [0, 8], [2, 7], [1.5, 8]]) {
    await assert.rejects(
      () => trainReranker(model, DATA, { steps: 1, batchSize, workers: 1, groupSize }),
      /(groupSize must be a positive integer|batchSize must be)/,
      `groupSize ${groupSize}, batch ${batchSize}`,
    );
  }
  model.dispose();
});

Deno.test("trainReranker on free captions (your own data): trained unread, only from a train split, without near misses", async () => {
  // The shapes images under captions the shapes grammar cannot read, as a folder's would be.
  const captions = TRAIN.captions.map((c, i) =>
    `photo ${i % 7}: ${c.split(" ").reverse().join(" ")}`
  );
  const tokenizer = BpeTokenizer.train(captions, { vocabSize: 300 });
  const free = rerankData({
    images: TRAIN.images,
    captions,
    split: "train",
    grammar: "free",
    tokenizer,
  });
  const model = createReranker({ ...SMALL, textLen: free.textLen, textVocab: tokenizer.vocabSize });
  const run = await trainReranker(model, free, { steps: 2, batchSize: 16, workers: 1 });
  assert.equal(run.rows.length, 2);
  run.dispose();
  // The same captions as shapes captions: unreadable, so they cannot be checked, so refused.
  const asShapes = rerankData({ images: TRAIN.images, captions, split: "train", tokenizer });
  await assert.rejects(
    () => trainReranker(model, asShapes, { steps: 1, workers: 1 }),
    /first row 0 "photo 0: .*" \(unreadable: not a caption of the shapes grammar\)/,
  );
  await assert.rejects(
    () => trainReranker(model, { ...free, split: "test" }, { steps: 1, workers: 1 }),
    /"train" split only .* got split "test"/,
  );
  assert.throws(
    () => rerankData({ ...TRAIN, grammar: "free", nearMisses: 2, tokenizer }),
    /with grammar "free" pass nearMisses 0/,
  );
  model.dispose();
});
