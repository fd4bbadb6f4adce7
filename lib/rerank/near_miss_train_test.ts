import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  batchIndicesAt,
  isZeroShotPair,
  makeShapes,
  parseCaption,
  sceneMatches,
  selectImages,
} from "../data/mod.ts";
import { loadCheckpoint } from "../nn/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  assertTrainable,
  createReranker,
  nearMissTerms,
  rerankData,
  type RerankerConfig,
  trainReranker,
} from "./mod.ts";

await initBackend();

const TRAIN = await makeShapes({ count: 64, seed: 0, split: "train" });
const TOKENIZER = BpeTokenizer.train(TRAIN.captions, { vocabSize: 300 });
const K = 3;
const DATA = rerankData({ ...TRAIN, tokenizer: TOKENIZER, nearMisses: K });
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
const PIXELS = 32 * 32 * 3;

/** Rows of the data as the model's inputs: ids, images and their near-miss ids. */
function inputs(rows: number[]) {
  const T = DATA.textLen;
  return tf.tidy(() => ({
    ids: tf.tensor2d(rows.flatMap((i) => [...DATA.ids.subarray(i * T, (i + 1) * T)]), [
      rows.length,
      T,
    ], "int32"),
    images: tf.tensor4d(
      Float32Array.from(
        rows.flatMap((i) => [...TRAIN.images.data.subarray(i * PIXELS, (i + 1) * PIXELS)]),
        (b) => b / 255,
      ),
      [rows.length, 32, 32, 3],
    ),
    near: tf.tensor3d(
      rows.flatMap((i) => [...DATA.nearMissIds!.subarray(i * K * T, (i + 1) * K * T)]),
      [rows.length, K, T],
      "int32",
    ),
  }));
}

Deno.test("rerankData's near misses: K per image, false of its scene, never a held-out pair, encoded within textLen, seeded per image", async () => {
  const big = await makeShapes({ count: 1000, seed: 0, split: "train" });
  const tokenizer = BpeTokenizer.train(big.captions, { vocabSize: 343 });
  const data = rerankData({ ...big, tokenizer, nearMisses: 5 });
  assert.equal(data.nearMisses, 5);
  assert.equal(data.nearMissCaptions!.length, 1000);
  assert.equal(data.nearMissIds!.length, 1000 * 5 * data.textLen);
  const kinds = new Set<string>();
  data.nearMissCaptions!.forEach((near, i) => {
    assert.equal(near.length, 5);
    for (const caption of near) {
      const meaning = parseCaption(caption);
      assert.ok(!sceneMatches(meaning, big.attributes[i]), `${big.captions[i]} → ${caption}`);
      assert.ok(!meaning.objects.some((o) => isZeroShotPair(o.colour, o.shape)), caption);
      assert.ok(tokenizer.encode(caption).length + 1 <= data.textLen, caption);
      kinds.add(meaning.relation === parseCaption(big.captions[i]).relation ? "same" : "flip");
    }
  });
  assert.equal(kinds.size, 2, "relation flips among them");
  // Row 3's near-miss ids decode to its near misses.
  const T = data.textLen;
  const row = data.nearMissIds!.subarray(3 * 5 * T + 2 * T, 3 * 5 * T + 3 * T);
  assert.equal(
    tokenizer.decode(Array.from(row).filter((id) => id < tokenizer.padId)),
    data.nearMissCaptions![3][2],
  );
  assertTrainable(data);
  // Image i draws from its own stream: the first 10 images alone get the same near misses.
  const rows = Array.from({ length: 10 }, (_, i) => i);
  const first = rerankData({
    images: selectImages(big.images, rows),
    captions: big.captions.slice(0, 10),
    attributes: big.attributes.slice(0, 10),
    split: "train",
    tokenizer,
    nearMisses: 5,
  });
  assert.deepEqual(first.nearMissCaptions, data.nearMissCaptions!.slice(0, 10));
  const reseeded = rerankData({ ...big, tokenizer, nearMisses: 5, nearMissSeed: 1 });
  assert.notDeepEqual(reseeded.nearMissCaptions, data.nearMissCaptions);
  const none = rerankData({ ...big, tokenizer });
  assert.deepEqual([none.nearMisses, none.nearMissCaptions, none.nearMissIds], [0, null, null]);
});

Deno.test("rerankData and assertTrainable refuse: near misses without scenes, a bad K, a hand-made held-out near miss", () => {
  assert.throws(
    () =>
      rerankData({
        images: TRAIN.images,
        captions: TRAIN.captions,
        tokenizer: TOKENIZER,
        nearMisses: 2,
      }),
    /draws near misses from each image's scene: pass attributes/,
  );
  assert.throws(
    () => rerankData({ ...TRAIN, tokenizer: TOKENIZER, nearMisses: 1.5 }),
    /integer ≥ 0/,
  );
  const near = DATA.nearMissCaptions!.map((row) => [...row]);
  near[7][1] = "a purple star above a red circle";
  assert.throws(
    () => assertTrainable({ ...DATA, nearMissCaptions: near }),
    /near-miss captions must hold no held-out composition: image 7's near miss "a purple star above a red circle" does \(purple star\)/,
  );
});

Deno.test("lossParts: weight 0 is CLIP's loss; weight w adds w × nearMissTerms of the near misses' embeddings; no tensor left", () => {
  const model = createReranker(SMALL);
  const { ids, images, near } = inputs([0, 5, 9, 12, 30]);
  const before = tf.memory().numTensors;
  const plain = model.lossTerms(ids, images);
  const atZero = model.lossParts(ids, images, { nearMisses: { ids: near, weight: 0 } });
  assert.equal(atZero.nearMiss, null);
  assert.deepEqual(atZero.total.dataSync(), plain.dataSync());
  const w = 0.5;
  const parts = model.lossParts(ids, images, { nearMisses: { ids: near, weight: w } });
  const direct = tf.tidy(() => {
    const text = model.encodeText(ids), image = model.encodeImages(images);
    const nearEmb = model.encodeText(near.reshape([5 * K, DATA.textLen]) as tf.Tensor2D)
      .reshape([5, K, 16]) as tf.Tensor3D;
    return nearMissTerms(text, image, nearEmb, model.logitScale as tf.Scalar).dataSync();
  });
  const got = parts.nearMiss!.dataSync(), total = parts.total.dataSync();
  const pairs = parts.infoNce.dataSync(), clip = plain.dataSync();
  for (let i = 0; i < 5; i++) {
    assert.ok(Math.abs(got[i] - direct[i]) < 1e-5, `near-miss term ${i}`);
    assert.ok(Math.abs(pairs[i] - clip[i]) < 1e-6, `InfoNCE term ${i}`);
    assert.ok(Math.abs(total[i] - (pairs[i] + w * got[i])) < 1e-5, `total ${i}`);
    assert.ok(Number.isFinite(got[i]) && got[i] > 0);
  }
  tf.dispose([plain, atZero.total, atZero.infoNce, parts.total, parts.infoNce, parts.nearMiss!]);
  assert.equal(tf.memory().numTensors, before);
  const wrong = tf.zeros([4, K, DATA.textLen], "int32") as tf.Tensor3D;
  assert.throws(
    () => model.lossTerms(ids, images, { nearMisses: { ids: wrong, weight: 1 } }),
    /near misses must be \(B, K, textLen\) ids with B = 5/,
  );
  assert.throws(
    () => model.lossTerms(ids, images, { nearMisses: { ids: near, weight: -1 } }),
    /finite number ≥ 0, got -1/,
  );
  tf.dispose([ids, images, near, wrong]);
  model.dispose();
});

Deno.test("trainReranker with nearMissWeight: step 0's loss is the batch's own InfoNCE + w × near-miss term (1 and 2 workers), finite, recorded", async () => {
  const B = 16, w = 0.5;
  const indices = batchIndicesAt(64, { batchSize: B, seed: 4 }, 0);
  const model = createReranker(SMALL);
  const lossOf = (rows: number[], weight: number) =>
    tf.tidy(() => {
      const { ids, images, near } = inputs(rows);
      return model.lossTerms(ids, images, { nearMisses: { ids: near, weight } }).sum()
        .dataSync()[0];
    });
  const expected = lossOf(indices, w) / B;
  const halves = (lossOf(indices.slice(0, 8), w) + lossOf(indices.slice(8), w)) / B;
  const clip = lossOf(indices, 0) / B;
  model.dispose();

  const dir = await Deno.makeTempDir();
  const run = async (weight: number, workers: number) => {
    const fresh = createReranker(SMALL);
    const seen: (Int32Array | null)[] = [];
    const result = await trainReranker(fresh, DATA, {
      steps: 2,
      batchSize: B,
      seed: 4,
      workers,
      nearMissWeight: weight,
      checkpointPath: `${dir}/w${weight}_${workers}.safetensors`,
      onBatch: (batch) => seen.push(batch.nearMissIds),
    });
    const { config } = await loadCheckpoint(`${dir}/w${weight}_${workers}.safetensors`, {
      model: fresh,
    });
    result.dispose();
    fresh.dispose();
    return { rows: result.rows, seen, config: config as Record<string, unknown> };
  };
  const one = await run(w, 1);
  const loss = one.rows.map((r) => r.loss as number);
  assert.ok(loss.every(Number.isFinite), `${loss}`);
  assert.ok(Math.abs(loss[0] - expected) < 1e-4, `step 0: ${loss[0]}, direct ${expected}`);
  assert.ok(one.rows.every((r) => Number.isFinite(r.near_miss_loss as number)));
  // Near-miss term of random embeddings: about ln(B + K) at chance.
  assert.ok(Math.abs((one.rows[0].near_miss_loss as number) - Math.log(B + K)) < 1.5);
  assert.deepEqual([one.config.nearMissWeight, one.config.nearMisses], [w, K]);
  const T = DATA.textLen;
  assert.deepEqual(
    Array.from(one.seen[0]!.subarray(3 * K * T, 4 * K * T)),
    Array.from(DATA.nearMissIds!.subarray(indices[3] * K * T, (indices[3] + 1) * K * T)),
    "pair 3 of the batch carries its own image's near misses",
  );

  const zero = await run(0, 1);
  assert.ok(Math.abs((zero.rows[0].loss as number) - clip) < 1e-4);
  assert.ok(
    Math.abs(loss[0] - (zero.rows[0].loss as number)) > 1e-3,
    "the weight changes the loss",
  );
  assert.equal(zero.rows[0].near_miss_loss, undefined, "weight 0: rows as before");
  assert.deepEqual([zero.config.nearMissWeight, zero.config.nearMisses], [0, 0]);
  assert.deepEqual(zero.seen, [null, null], "weight 0: no near misses shipped");

  // Two workers: each shard's pairs carry their own near misses (shard-local batch negatives).
  const two = await run(w, 2);
  const got = two.rows[0].loss as number;
  assert.ok(Math.abs(got - halves) < 1e-4, `2 workers: ${got}, shard-local ${halves}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("trainReranker refuses a near-miss weight it cannot use, before any work", async () => {
  const model = createReranker(SMALL);
  const plain = rerankData({ ...TRAIN, tokenizer: TOKENIZER, textLen: DATA.textLen });
  await assert.rejects(
    () => trainReranker(model, plain, { steps: 1, batchSize: 8, workers: 1, nearMissWeight: 1 }),
    /nearMissWeight 1 needs near misses in the data: build it with rerankData\(\{ \.\.\., nearMisses: K \}\)/,
  );
  for (const bad of [-0.5, NaN, Infinity]) {
    await assert.rejects(
      () => trainReranker(model, DATA, { steps: 1, batchSize: 8, workers: 1, nearMissWeight: bad }),
      /nearMissWeight must be a finite number ≥ 0/,
    );
  }
  model.dispose();
});
