import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  type CaptionMeaning,
  isZeroShotPair,
  makeShapes,
  NEAR_MISS_KINDS,
  nearMisses,
  parseCaption,
  type Scene,
  sceneMatches,
} from "../data/mod.ts";
import { Rng, wilsonInterval } from "../io/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  createReranker,
  nearMissAccuracy,
  type NearMissResult,
  type NearMissScorer,
  rerankerScorer,
} from "./mod.ts";

await initBackend();

const TRAIN = await makeShapes({ count: 1000, seed: 0, split: "train" });
const DATA = { captions: TRAIN.captions, scenes: TRAIN.attributes };

/** A stub scorer: 1 where `matches` says the caption is true of the image's scene, else 0. */
function sceneScorer(
  scenes: readonly Scene[],
  matches: (meaning: CaptionMeaning, scene: Scene) => boolean,
): NearMissScorer {
  return (captions, rows) =>
    captions.flatMap((c) => rows.map((r) => Number(matches(parseCaption(c), scenes[r]))));
}

/**
 * Whether a rate is consistent with chance. The draws (near misses, the tie coin, a random
 * scorer) are seeded, so this is deterministic; the 99.9% interval keeps five kinds × several
 * controls from failing on a 1-in-20 draw if a seed or the data ever changes.
 */
function atChance(r: NearMissResult): boolean {
  const [low, high] = wilsonInterval(r.correct, r.images, 3.29);
  return low < 0.5 && 0.5 < high;
}

Deno.test("positive control: a scorer that reads the scene prefers every true caption (≈100% for each kind)", () => {
  const results = nearMissAccuracy(sceneScorer(TRAIN.attributes, sceneMatches), DATA);
  assert.deepEqual(results.map((r) => r.kind), [...NEAR_MISS_KINDS]);
  for (const r of results) {
    assert.ok(r.images > 200, `${r.kind}: ${r.images} images`);
    assert.equal(r.images + r.without, 1000);
    assert.deepEqual([r.correct, r.ties, r.accuracy], [r.images, 0, 1], r.kind);
    assert.ok(r.low > 0.98 && r.high > 0.9999, `${r.kind}: [${r.low}, ${r.high}]`);
  }
  const two = TRAIN.attributes.filter((s) => s.objects.length === 2).length;
  const relation = results.find((r) => r.kind === "relation")!;
  assert.equal(relation.images, two, "every two-object caption has a flip, and only those");
});

Deno.test("negative controls: a scorer blind to shape, one blind to order, and a random one sit at chance where blind", () => {
  const plain =
    (shape: (o: CaptionMeaning["objects"][number]) => object) => (m: CaptionMeaning, s: Scene) =>
      sceneMatches(
        { ...m, objects: m.objects.map((o) => ({ ...o, ...shape(o) })) } as CaptionMeaning,
        { ...s, objects: s.objects.map((o) => ({ ...o, ...shape(o) })) } as Scene,
      );
  // Shape-blind: every shape read as a circle.
  const shapeBlind = nearMissAccuracy(
    sceneScorer(TRAIN.attributes, plain(() => ({ shape: "circle" }))),
    DATA,
  );
  // Order-blind: a bag of objects, no relation, either pairing.
  const bag = (m: CaptionMeaning, s: Scene) =>
    [m.objects, [...m.objects].reverse()].some((objects) =>
      sceneMatches({ objects, relation: null }, { objects: s.objects, relation: null })
    );
  const orderBlind = nearMissAccuracy(sceneScorer(TRAIN.attributes, bag), DATA);
  // What each still reads. (Without shapes, two objects of one colour look alike, so the
  // shape-blind scorer cannot always tell a flip or a swap either: neither is asserted there.)
  const controls: [NearMissResult[], string[], string[]][] = [
    [shapeBlind, ["shape"], ["colour", "size"]],
    [orderBlind, ["relation", "swap"], ["colour", "shape", "size"]],
  ];
  for (const [results, blind, reads] of controls) {
    for (const r of results) {
      if (blind.includes(r.kind)) {
        assert.equal(r.ties, r.images, `${r.kind}: a blind scorer ties every time`);
        assert.ok(atChance(r), `${r.kind}: ${r.correct} of ${r.images}`);
      } else if (reads.includes(r.kind)) {
        assert.equal(r.correct, r.images, `${r.kind} is still read`);
      }
    }
  }
  // A scorer that reads nothing: independent random scores.
  const rng = new Rng(11);
  const random: NearMissScorer = (captions, rows) =>
    Array.from({ length: captions.length * rows.length }, () => rng.next());
  for (const r of nearMissAccuracy(random, DATA)) {
    assert.ok(atChance(r), `${r.kind}: ${r.correct} of ${r.images}`);
    assert.equal(r.ties, 0);
  }
});

Deno.test("nearMissAccuracy: seeded draws, the same at any chunk size; avoidZeroShot keeps held-out pairs out of the near misses", async () => {
  const asked: string[][] = [];
  // A deterministic score per (caption, image) that is not a control: a hash.
  const hash: NearMissScorer = (captions, rows) => {
    asked.push([...captions]);
    return captions.flatMap((c) =>
      rows.map((r) => {
        let h = r + 1;
        for (const ch of c) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
        return h % 1000;
      })
    );
  };
  const first = nearMissAccuracy(hash, DATA, { chunk: 64 });
  const drawn = asked.flat();
  asked.length = 0;
  assert.deepEqual(nearMissAccuracy(hash, DATA, { chunk: 7 }), first);
  assert.deepEqual(new Set(asked.flat()), new Set(drawn), "the same near misses in any chunks");
  asked.length = 0;
  nearMissAccuracy(hash, DATA, { seed: 1 });
  assert.notDeepEqual(new Set(asked.flat()), new Set(drawn), "another seed, other near misses");

  const zeroShot = await makeShapes({ count: 80, seed: 11, split: "zero-shot" });
  const data = { captions: zeroShot.captions, scenes: zeroShot.attributes };
  const held = (c: string) =>
    parseCaption(c).objects.some((o) => isZeroShotPair(o.colour, o.shape));
  for (const avoidZeroShot of [false, true]) {
    asked.length = 0;
    const results = nearMissAccuracy(hash, data, { avoidZeroShot });
    const near = asked.flat().filter((c) => !zeroShot.captions.includes(c));
    assert.ok(near.length > 50, `${near.length} near misses`);
    if (avoidZeroShot) {
      assert.deepEqual(near.filter(held), []);
      // A held-out pair's own colour–shape edit leaves it; relation and swap keep it: none.
      assert.equal(results.find((r) => r.kind === "relation")!.images, 0);
    } else assert.ok(near.filter(held).length > 20);
  }
});

Deno.test("rerankerScorer: model.score's cosines, tensor or bytes alike, one evaluation leaves no tensor behind", async () => {
  const set = await makeShapes({ count: 64, seed: 1, split: "test" });
  const tokenizer = BpeTokenizer.train(TRAIN.captions, { vocabSize: 343 });
  const texts = set.captions.flatMap((c, i) => [
    c,
    ...NEAR_MISS_KINDS.flatMap((k) => nearMisses(c, set.attributes[i], k).map((n) => n.caption)),
  ]);
  const textLen = Math.max(...texts.map((t) => tokenizer.encode(t).length + 1));
  const model = createReranker({
    textLen,
    textVocab: tokenizer.vocabSize,
    textWidth: 16,
    textLayers: 1,
    textHeads: 2,
    imageChannels: [8, 16, 16],
    embedDim: 16,
    seed: 2,
  });
  const data = { captions: set.captions, scenes: set.attributes };
  const before = tf.memory().numTensors;
  const fromBytes = nearMissAccuracy(rerankerScorer(model, tokenizer, set.images), data);
  assert.equal(tf.memory().numTensors, before, "no tensor left by the evaluation");
  const pixels = tf.tidy(() =>
    tf.tensor4d(Float32Array.from(set.images.data, (b) => b / 255), [64, 32, 32, 3])
  );
  const fromTensor = nearMissAccuracy(rerankerScorer(model, tokenizer, pixels), data, { chunk: 5 });
  assert.deepEqual(fromTensor, fromBytes);
  for (const r of fromBytes) {
    assert.equal(r.images + r.without, 64);
    assert.ok(r.images > 0 && r.correct <= r.images && r.ties === 0, `${r.kind}`);
  }
  // Entry (c, j) is caption c with image rows[j].
  const scores = rerankerScorer(model, tokenizer, pixels)([texts[0], texts[1]], [3, 5, 9]);
  const direct = tf.tidy(() => {
    const { ids } = tokenizer.encodeBatch([texts[0], texts[1]], { textLen, appendEot: true });
    const images = tf.gather(pixels, [3, 5, 9]);
    return model.score(tf.tensor2d(ids, [2, textLen], "int32"), images).dataSync();
  });
  assert.deepEqual(Array.from(scores), Array.from(direct));
  const short = createReranker({ ...model.config, textLen: 4 });
  assert.throws(
    () => rerankerScorer(short, tokenizer, pixels)(["a picture of a small red circle"], [0]),
    /needs more than the reranker's 4 ids/,
  );
  tf.dispose([pixels]);
  short.dispose();
  model.dispose();
});

Deno.test("nearMissAccuracy refuses mismatched data, a scorer's wrong or non-finite scores, unknown kinds, false captions", () => {
  const scenes = TRAIN.attributes.slice(0, 4);
  const captions = TRAIN.captions.slice(0, 4);
  const ok = sceneScorer(scenes, sceneMatches);
  assert.throws(
    () => nearMissAccuracy(ok, { captions, scenes: scenes.slice(1) }),
    /4 captions, 3 scenes/,
  );
  assert.throws(
    () => nearMissAccuracy(() => [1, 2, 3], { captions, scenes }),
    /returned 3 scores for \d+ captions × 4 images/,
  );
  assert.throws(
    () =>
      nearMissAccuracy((c, r) => new Array(c.length * r.length).fill(NaN), { captions, scenes }),
    /the score NaN/,
  );
  assert.throws(
    () => nearMissAccuracy(ok, { captions, scenes }, { kinds: ["order" as "swap"] }),
    /unknown near-miss kind order/,
  );
  assert.throws(
    () => nearMissAccuracy(ok, { captions, scenes }, { chunk: 0 }),
    /chunk must be an integer ≥ 1/,
  );
  assert.throws(
    () =>
      nearMissAccuracy(ok, { captions: [captions[1], captions[0]], scenes: scenes.slice(0, 2) }),
    /not true of its scene/,
  );
  const none = nearMissAccuracy(ok, { captions: [], scenes: [] });
  assert.ok(none.every((r) => r.images === 0 && Number.isNaN(r.accuracy) && Number.isNaN(r.low)));
});
