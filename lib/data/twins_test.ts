import assert from "node:assert/strict";
import {
  isZeroShotPair,
  makeShapes,
  NEAR_MISS_KINDS,
  parseCaption,
  sceneMatches,
  withNearMissTwins,
} from "./mod.ts";

const SET = await makeShapes({ count: 120, seed: 3, split: "train", cache: false });
const TWINS = await withNearMissTwins(SET, { seed: 5 });
const PIXELS = 32 * 32 * 3;

Deno.test("twins: each original is followed by a twin its caption is false of, and vice versa", () => {
  assert.equal(TWINS.images.count, 2 * SET.images.count);
  for (let i = 0; i < SET.images.count; i++) {
    const [a, b] = [2 * i, 2 * i + 1];
    assert.equal(TWINS.captions[a], SET.captions[i]);
    assert.deepEqual(
      TWINS.images.data.subarray(a * PIXELS, (a + 1) * PIXELS),
      SET.images.data.subarray(i * PIXELS, (i + 1) * PIXELS),
    );
    assert.equal(TWINS.twinKinds[a], null);
    const kind = TWINS.twinKinds[b];
    // Every caption of the grammar has a colour and a shape near miss.
    assert.ok(kind !== null && NEAR_MISS_KINDS.includes(kind), `row ${b}: ${kind}`);
    assert.ok(
      sceneMatches(parseCaption(TWINS.captions[b]), TWINS.attributes[b]),
      TWINS.captions[b],
    );
    assert.ok(
      !sceneMatches(parseCaption(TWINS.captions[a]), TWINS.attributes[b]),
      TWINS.captions[a],
    );
    assert.ok(
      !sceneMatches(parseCaption(TWINS.captions[b]), TWINS.attributes[a]),
      TWINS.captions[b],
    );
  }
});

Deno.test("twins: drawn from train scenes, they never hold a held-out colour–shape pair", () => {
  for (const scene of TWINS.attributes) {
    for (const o of scene.objects) assert.ok(!isZeroShotPair(o.colour, o.shape), JSON.stringify(o));
  }
  assert.ok(new Set(TWINS.twinKinds.filter((k) => k !== null)).size === NEAR_MISS_KINDS.length);
});

Deno.test("twins: the same seed gives the same bytes, another seed other twins", async () => {
  const again = await withNearMissTwins(SET, { seed: 5 });
  assert.deepEqual(again.captions, TWINS.captions);
  assert.deepEqual(again.images.data, TWINS.images.data);
  const other = await withNearMissTwins(SET, { seed: 6 });
  assert.notDeepEqual(other.captions, TWINS.captions);
});

Deno.test("twins: limited kinds are honoured; an unknown kind is refused", async () => {
  const shapes = await withNearMissTwins(SET, { seed: 1, kinds: ["shape"] });
  assert.ok(shapes.twinKinds.every((k, i) => i % 2 === 0 ? k === null : k === "shape"));
  await assert.rejects(
    () => withNearMissTwins(SET, { kinds: ["texture" as "shape"] }),
    /twin kinds must be some of/,
  );
  await assert.rejects(() => withNearMissTwins(SET, { kinds: [] }), /twin kinds must be some of/);
});
