import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { createShapesJudge } from "./judge.ts";
import { makeShapes, renderScenes } from "./shapes.ts";
import { imagesToTensor } from "./image_batch.ts";
import { canonicalScene, captionFor, COLOURS, type Scene, SHAPES, SIZES } from "./captions.ts";
import { Mulberry32 } from "../io/mod.ts";

await initBackend();
// Loads data/cache/judge_v*.safetensors; the first run on a machine trains it (≈1–2 minutes).
const judge = await createShapesJudge();
// Seeds no other test or the judge's training uses: these scenes are fresh renders.
const FRESH_SEED = 31337;

Deno.test("judge: ≥ 98% attribute accuracy on fresh test and zero-shot renders", async () => {
  for (const split of ["test", "zero-shot"] as const) {
    const set = await makeShapes({ count: 1000, seed: FRESH_SEED, split, cache: false });
    const accuracy = judge.accuracy(set.images, set.attributes);
    console.log(`judge on ${split}:`, JSON.stringify(accuracy));
    assert.ok(accuracy.attributes >= 0.98, `${split}: ${JSON.stringify(accuracy)}`);
    // the held-out compositions specifically: colour and shape heads are read independently
    assert.ok(
      accuracy.colour >= 0.98 && accuracy.shape >= 0.98,
      `${split}: ${JSON.stringify(accuracy)}`,
    );
    // and it agrees with the captions the generator wrote for these images
    const agreed = judge.agreesAll(set.captions, set.images).filter(Boolean).length;
    assert.ok(agreed / set.images.count >= 0.97, `${split}: agrees with ${agreed}/1000 captions`);
  }
});

Deno.test("judge: still reads blurred and noisy images (as a generative model draws them)", async () => {
  const set = await makeShapes({
    count: 500,
    seed: FRESH_SEED + 4,
    split: "zero-shot",
    cache: false,
  });
  const before = tf.memory().numTensors;
  const degraded = tf.tidy(() => {
    const x = imagesToTensor(set.images);
    // 2× downsampling then bilinear upsampling, plus pixel noise
    const blurred = tf.image.resizeBilinear(tf.avgPool(x, 2, 2, "valid") as tf.Tensor4D, [32, 32]);
    return blurred.add(tf.randomNormal(x.shape, 0, 0.03, "float32", 1)).clipByValue(0, 1);
  });
  const accuracy = judge.accuracy(degraded, set.attributes);
  degraded.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.ok(accuracy.attributes >= 0.97, JSON.stringify(accuracy));
});

/** A different scene: one attribute changed (colour, shape, size, or the relation reversed). */
function mutate(scene: Scene, rng: Mulberry32): Scene {
  const s = canonicalScene(scene);
  const objects = s.objects.map((o) => ({ ...o }));
  const k = rng.int(objects.length);
  const kind = rng.int(s.relation ? 4 : 3);
  const other = <T>(items: readonly T[], current: T) => {
    const rest = items.filter((v) => v !== current);
    return rest[rng.int(rest.length)];
  };
  if (kind === 0) objects[k].colour = other(COLOURS, objects[k].colour);
  if (kind === 1) objects[k].shape = other(SHAPES, objects[k].shape);
  if (kind === 2) objects[k].size = other(SIZES, objects[k].size);
  const relation = kind === 3 ? (s.relation === "left of" ? "right of" : "below") : s.relation;
  return { objects, relation };
}

Deno.test("judge: disagrees with captions that change one attribute", async () => {
  const set = await makeShapes({ count: 400, seed: FRESH_SEED + 1, split: "test", cache: false });
  const rng = Mulberry32.data(5);
  // sizeProbability 1: a caption about a changed size must name the size
  const wrong = set.attributes.map((s) => captionFor(mutate(s, rng), rng, { sizeProbability: 1 }));
  const fooled = judge.agreesAll(wrong, set.images).filter(Boolean).length;
  assert.ok(fooled / wrong.length <= 0.03, `agreed with ${fooled}/${wrong.length} wrong captions`);
});

Deno.test("judge: attributeAgreement finds the attribute a caption got wrong", async () => {
  const set = await makeShapes({ count: 200, seed: FRESH_SEED + 2, split: "test", cache: false });
  const right = judge.attributeAgreement(set.captions, set.images);
  const agrees = judge.agreesAll(set.captions, set.images);
  assert.equal(right.scenes, agrees.filter(Boolean).length / agrees.length);
  for (const key of ["count", "relation", "colour", "shape"] as const) {
    assert.ok(right[key] >= 0.97, `${key} ${right[key]}`);
  }
  // Every caption names the first object in another colour: only colour agreement falls.
  const rng = Mulberry32.data(8);
  const recoloured = set.attributes.map((s) => {
    const objects = s.objects.map((o, k) =>
      k === 0 ? { ...o, colour: COLOURS.filter((c) => c !== o.colour)[rng.int(5)] } : { ...o }
    );
    return captionFor({ objects, relation: s.relation }, rng);
  });
  const wrong = judge.attributeAgreement(recoloured, set.images);
  assert.ok(wrong.scenes <= 0.02, `scenes ${wrong.scenes}`);
  assert.ok(wrong.colour <= 0.75, `colour ${wrong.colour}`);
  assert.ok(wrong.shape >= 0.9 && wrong.count >= 0.97, JSON.stringify(wrong));
  assert.throws(() => judge.attributeAgreement(["a red star"], set.images), RangeError);
});

Deno.test("judge: reads hand-made scenes and relations in either caption order", async () => {
  const scenes: Scene[] = [
    { objects: [{ colour: "green", shape: "triangle", size: "large" }], relation: null },
    {
      objects: [
        { colour: "purple", shape: "star", size: "small" },
        { colour: "yellow", shape: "cross", size: "large" },
      ],
      relation: "below",
    },
  ];
  const images = await renderScenes(scenes, { seed: 3 });
  const [first, second] = [0, 1].map((i) => ({
    ...images,
    count: 1,
    data: images.data.subarray(i * 3072, (i + 1) * 3072),
  }));
  assert.ok(judge.agrees("a large green triangle", first));
  assert.ok(!judge.agrees("a small green triangle", first));
  assert.ok(!judge.agrees("a green star", first));
  assert.ok(judge.agrees("a small purple star below a yellow cross", second));
  assert.ok(judge.agrees("there is a yellow cross above a purple star", second));
  assert.ok(!judge.agrees("a purple star above a yellow cross", second));
  assert.ok(!judge.agrees("a purple star left of a yellow cross", second));
  assert.ok(!judge.agrees("a purple star", second));
  assert.deepEqual(judge.predict(second)[0], canonicalScene(scenes[1]));
  assert.throws(() => judge.agrees("a purple elephant", second), SyntaxError);
});

Deno.test("judge: predictions free every tensor and accept float tensors", async () => {
  const set = await makeShapes({ count: 20, seed: FRESH_SEED + 2, split: "train", cache: false });
  judge.predict(set.images); // warm-up
  const before = tf.memory().numTensors;
  const fromBytes = judge.predict(set.images);
  const x = tf.tensor4d(Float32Array.from(set.images.data, (v) => v / 255), [20, 32, 32, 3]);
  const fromTensor = judge.predict(x);
  x.dispose();
  assert.deepEqual(fromTensor, fromBytes);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("judge: a second load reads the cached weights and predicts the same", async () => {
  const again = await createShapesJudge({ onProgress: () => assert.fail("it retrained") });
  const set = await makeShapes({
    count: 50,
    seed: FRESH_SEED + 3,
    split: "zero-shot",
    cache: false,
  });
  assert.deepEqual(again.predict(set.images), judge.predict(set.images));
  again.dispose();
});
