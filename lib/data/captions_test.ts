import assert from "node:assert/strict";
import {
  attributeAgreement,
  attributeMatches,
  canonicalScene,
  captionFor,
  COLOURS,
  isZeroShotPair,
  parseCaption,
  RELATIONS,
  type Scene,
  sceneMatches,
  SHAPES,
  SIZES,
  ZERO_SHOT_PAIRS,
} from "./captions.ts";
import { Mulberry32 } from "../io/mod.ts";

function randomScene(rng: Mulberry32): Scene {
  const object = () => ({
    colour: rng.pick(COLOURS),
    shape: rng.pick(SHAPES),
    size: rng.pick(SIZES),
  });
  return rng.next() < 0.5
    ? { objects: [object()], relation: null }
    : { objects: [object(), object()], relation: rng.pick(RELATIONS) };
}

Deno.test("captions: every generated caption parses back to its scene", () => {
  const rng = Mulberry32.data(3);
  const phrasings = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const scene = randomScene(rng);
    const caption = captionFor(scene, rng);
    assert.equal(caption, caption.toLowerCase());
    const meaning = parseCaption(caption);
    assert.equal(meaning.relation, scene.relation, caption);
    assert.equal(meaning.objects.length, scene.objects.length, caption);
    meaning.objects.forEach((o, k) => {
      assert.equal(o.colour, scene.objects[k].colour, caption);
      assert.equal(o.shape, scene.objects[k].shape, caption);
      assert.ok(o.size === null || o.size === scene.objects[k].size, caption);
    });
    assert.ok(sceneMatches(meaning, scene), caption);
    phrasings.add(caption.replace(/(an?|small|large|red|orange|yellow|green|blue|purple) /g, ""));
  }
  // several phrasings really occur (not just one template)
  assert.ok(phrasings.size >= 6, `only ${phrasings.size} phrasings`);
});

Deno.test("captions: reference sentences parse to what they say", () => {
  assert.deepEqual(parseCaption("a red circle"), {
    objects: [{ colour: "red", shape: "circle", size: null }],
    relation: null,
  });
  assert.deepEqual(parseCaption("  There is an ORANGE star. "), {
    objects: [{ colour: "orange", shape: "star", size: null }],
    relation: null,
  });
  assert.deepEqual(parseCaption("a small red circle above a large blue square"), {
    objects: [
      { colour: "red", shape: "circle", size: "small" },
      { colour: "blue", shape: "square", size: "large" },
    ],
    relation: "above",
  });
  assert.deepEqual(parseCaption("a yellow cross is right of a small green triangle"), {
    objects: [
      { colour: "yellow", shape: "cross", size: null },
      { colour: "green", shape: "triangle", size: "small" },
    ],
    relation: "right of",
  });
  assert.equal(parseCaption("a picture of a purple star below a red cross").relation, "below");
});

Deno.test("captions: sentences outside the grammar throw a SyntaxError naming them", () => {
  for (
    const bad of [
      "",
      "a red dog",
      "a pink circle",
      "a red circle near a blue square",
      "a red circle left of",
      "there is a red circle is left of a blue square",
      "red circle",
    ]
  ) {
    assert.throws(() => parseCaption(bad), (err: Error) => {
      assert.ok(err instanceof SyntaxError, bad);
      assert.ok(err.message.includes(`"${bad}"`), err.message);
      return true;
    });
  }
});

Deno.test("captions: canonical order puts the left or top object first", () => {
  const a = { colour: "red", shape: "star", size: "small" } as const;
  const b = { colour: "blue", shape: "cross", size: "large" } as const;
  assert.deepEqual(canonicalScene({ objects: [a, b], relation: "right of" }), {
    objects: [b, a],
    relation: "left of",
  });
  assert.deepEqual(canonicalScene({ objects: [a, b], relation: "below" }), {
    objects: [b, a],
    relation: "above",
  });
  const kept: Scene = { objects: [a, b], relation: "left of" };
  assert.equal(canonicalScene(kept), kept);
});

Deno.test("captions: sceneMatches checks colour, shape, relation, and size only when named", () => {
  const scene: Scene = {
    objects: [
      { colour: "red", shape: "star", size: "small" },
      { colour: "blue", shape: "cross", size: "large" },
    ],
    relation: "left of",
  };
  const yes = [
    "a red star left of a blue cross",
    "a blue cross right of a small red star",
    "a large blue cross is right of a red star",
  ];
  const no = [
    "a red star above a blue cross",
    "a blue cross left of a red star",
    "a large red star left of a blue cross",
    "a red circle left of a blue cross",
    "a green star left of a blue cross",
    "a red star",
  ];
  for (const c of yes) assert.ok(sceneMatches(parseCaption(c), scene), c);
  for (const c of no) assert.ok(!sceneMatches(parseCaption(c), scene), c);
});

Deno.test("captions: the held-out pairs are valid and leave every colour and shape in training", () => {
  for (const [c, s] of ZERO_SHOT_PAIRS) {
    assert.ok(COLOURS.includes(c) && SHAPES.includes(s));
    assert.ok(isZeroShotPair(c, s));
  }
  for (const c of COLOURS) assert.ok(SHAPES.some((s) => !isZeroShotPair(c, s)), c);
  for (const s of SHAPES) assert.ok(COLOURS.some((c) => !isZeroShotPair(c, s)), s);
  assert.ok(COLOURS.length >= 6 && SHAPES.length >= 4);
});

Deno.test("captions: attributeMatches is all true exactly when sceneMatches is", () => {
  const rng = Mulberry32.data(17);
  let agreeing = 0;
  for (let i = 0; i < 3000; i++) {
    const truth = randomScene(rng);
    // Half the pairs describe the scene itself (sometimes with one attribute changed), half another.
    const described = rng.next() < 0.5 ? truth : randomScene(rng);
    const meaning = parseCaption(captionFor(described, rng));
    if (rng.next() < 0.3) {
      const o = meaning.objects[rng.int(meaning.objects.length)];
      o.colour = rng.pick(COLOURS);
    }
    const m = attributeMatches(meaning, truth);
    const all = m.count && m.relation !== false && [...m.colour, ...m.shape].every(Boolean) &&
      m.size.every((ok) => ok !== false);
    assert.equal(all, sceneMatches(meaning, truth), JSON.stringify({ meaning, truth }));
    assert.equal(m.colour.length, meaning.objects.length);
    assert.equal(m.relation === null, meaning.relation === null);
    m.size.forEach((ok, k) => assert.equal(ok === null, meaning.objects[k].size === null));
    agreeing += all ? 1 : 0;
  }
  assert.ok(agreeing > 300 && agreeing < 2700, `${agreeing} of 3000 agree`);
});

Deno.test("captions: attributeMatches pairs objects by their attributes, in caption order", () => {
  const red = { colour: "red", shape: "star", size: "small" } as const;
  const blue = { colour: "blue", shape: "cross", size: "large" } as const;
  // Right objects, wrong layout: colours and shapes count, the relation does not.
  const swapped = attributeMatches(parseCaption("a red star left of a blue cross"), {
    objects: [blue, red],
    relation: "left of",
  });
  assert.deepEqual(swapped, {
    count: true,
    relation: false,
    colour: [true, true],
    shape: [true, true],
    size: [null, null],
  });
  // "right of" is canonicalised inside; the result stays in caption order.
  const right = attributeMatches(parseCaption("a large blue circle right of a red star"), {
    objects: [red, blue],
    relation: "left of",
  });
  assert.deepEqual(right.shape, [false, true]);
  assert.deepEqual(right.size, [true, null]);
  assert.equal(right.relation, true);
  // One object seen for two named: the better partner is used, the other object is all wrong.
  const one = attributeMatches(parseCaption("a red star above a small blue cross"), {
    objects: [{ ...blue, size: "small" }],
    relation: null,
  });
  assert.deepEqual(one, {
    count: false,
    relation: false,
    colour: [false, true],
    shape: [false, true],
    size: [null, true],
  });
});

Deno.test("captions: attributeAgreement rates count what they say, and reject length mismatches", () => {
  const scene: Scene = {
    objects: [{ colour: "red", shape: "circle", size: "large" }],
    relation: null,
  };
  const captions = [
    "a red star",
    "a red circle",
    "a small blue circle",
    "a red star above a red circle",
  ];
  const rates = attributeAgreement(captions.map(parseCaption), captions.map(() => scene));
  assert.equal(rates.pairs, 4);
  assert.equal(rates.scenes, 1 / 4);
  assert.equal(rates.count, 3 / 4);
  assert.equal(rates.relation, 0);
  // Objects named: 1 + 1 + 1 + 2 = 5. The lone red circle partners the named red circle of the
  // last caption, so its red star has no partner. Colours right: 1 + 1 + 0 + 1; shapes: 0 + 1 + 1 + 1.
  assert.equal(rates.colour, 3 / 5);
  assert.equal(rates.shape, 3 / 5);
  assert.equal(rates.size, 0);
  // Every check: 2 of 3, 3 of 3, 2 of 4 (size named), 2 of 6 (count, relation, 2 colours, 2 shapes).
  assert.equal(rates.attributes, 9 / 16);
  assert.ok(Number.isNaN(attributeAgreement([parseCaption("a red star")], [scene]).relation));
  assert.throws(() => attributeAgreement([parseCaption("a red star")], []), RangeError);
});
