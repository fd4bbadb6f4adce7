import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { makeShapes } from "../data/mod.ts";
import { createReranker } from "../rerank/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  BATCH_NEGATIVES_ONLY,
  checkRecipe,
  RERANKER_RECIPE,
  type RerankerRecipe,
  rerankerTrainingData,
} from "./mod.ts";

await initBackend();

const TRAIN = await makeShapes({ count: 40, seed: 2, split: "train", cache: false });
const TOKENIZER = BpeTokenizer.train(TRAIN.captions, { vocabSize: 300 });
/** A codec whose output is visibly not its input: each pixel's negative. */
const NEGATIVE = {
  encode: (x: tf.Tensor4D) => x.mul(255).round().toInt() as unknown as tf.Tensor3D,
  decode: (t: tf.Tensor3D) => tf.tidy(() => tf.sub(1, t.toFloat().div(255))) as tf.Tensor4D,
};
const PIXELS = 32 * 32 * 3;

Deno.test("rerankerTrainingData: CLIP's recipe is the scenes as they are, groups of one", async () => {
  const { data, groupSize } = await rerankerTrainingData(
    TRAIN,
    TOKENIZER,
    null,
    BATCH_NEGATIVES_ONLY,
    {},
  );
  assert.equal(groupSize, 1);
  assert.deepEqual(data.captions, TRAIN.captions);
  assert.deepEqual(data.images.data, TRAIN.images.data);
  assert.equal(data.nearMisses, 0);
});

Deno.test("rerankerTrainingData: the toolkit's recipe adds twins (groups of two), near misses, and half the images through the codec", async () => {
  const { data, groupSize } = await rerankerTrainingData(
    TRAIN,
    TOKENIZER,
    NEGATIVE,
    RERANKER_RECIPE,
    {
      seed: 3,
    },
  );
  assert.equal(groupSize, 2);
  assert.equal(data.images.count, 2 * TRAIN.images.count);
  assert.equal(data.nearMisses, RERANKER_RECIPE.nearMisses);
  for (let i = 0; i < TRAIN.images.count; i++) {
    assert.equal(data.captions[2 * i], TRAIN.captions[i]);
  }
  // Originals (even rows) either kept or replaced by the codec's output, never anything else.
  let replaced = 0;
  for (let i = 0; i < TRAIN.images.count; i++) {
    const got = data.images.data.subarray(2 * i * PIXELS, (2 * i + 1) * PIXELS);
    const was = TRAIN.images.data.subarray(i * PIXELS, (i + 1) * PIXELS);
    if (got.every((v, k) => v === was[k])) continue;
    assert.ok(got.every((v, k) => Math.abs(v - (255 - was[k])) <= 1), `row ${2 * i}`);
    replaced++;
  }
  assert.ok(replaced > 0 && replaced < TRAIN.images.count, `${replaced} originals replaced`);
});

Deno.test("checkRecipe: each field out of range is named (as the caller names it); throughDvae needs a codec", async () => {
  const bad: [Partial<RerankerRecipe>, RegExp][] = [
    [{ nearMisses: -1 }, /^--nearMisses must be an integer ≥ 0, got -1$/],
    [{ nearMisses: 0 }, /^--nearMissWeight 1 trains on near misses: give --nearMisses ≥ 1$/],
    [{ nearMissWeight: -0.5 }, /^--nearMissWeight must be a finite number ≥ 0/],
    [{ throughDvae: 1.5 }, /^--throughDvae must be a share in \[0, 1\], got 1\.5$/],
    [{ imageStageDepth: 0.5 }, /^--imageStageDepth must be an integer ≥ 0/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => checkRecipe({ ...RERANKER_RECIPE, ...change }, (f) => `--${f}`),
      (err: Error) => err instanceof RangeError && message.test(err.message),
    );
  }
  checkRecipe(RERANKER_RECIPE);
  checkRecipe(BATCH_NEGATIVES_ONLY);
  await assert.rejects(
    () => rerankerTrainingData(TRAIN, TOKENIZER, null, RERANKER_RECIPE, {}),
    /throughDvae 0\.5 needs the pipeline's dVAE/,
  );
});

Deno.test("imageStageDepth: one stride-1 convolution per stage, same output width, leak-free", () => {
  const base = { textLen: 16, textVocab: 300, imageChannels: [8, 16, 16], embedDim: 16, seed: 1 };
  const shallow = createReranker(base);
  const deep = createReranker({ ...base, imageStageDepth: RERANKER_RECIPE.imageStageDepth });
  const convs = (m: typeof shallow) => m.image.convs.length;
  assert.equal(convs(shallow), 3);
  assert.equal(convs(deep), 3 * (1 + RERANKER_RECIPE.imageStageDepth));
  const before = tf.memory().numTensors;
  const images = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const [a, b] = [shallow.encodeImages(images), deep.encodeImages(images)];
  assert.deepEqual(a.shape, b.shape);
  tf.dispose([images, a, b]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => createReranker({ ...base, imageStageDepth: -1 }), /imageStageDepth/);
  shallow.dispose();
  deep.dispose();
});
