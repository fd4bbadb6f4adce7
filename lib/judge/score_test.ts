import assert from "node:assert/strict";
import { parseCaption, type Scene } from "../data/mod.ts";
import { agreement, captionAgreement, judgeAccuracy } from "./score.ts";

// Scoring needs no network: these scenes stand for what a judge read.
const redStar: Scene = {
  objects: [{ colour: "red", shape: "star", size: "large" }],
  relation: null,
};
const blueAboveGreen: Scene = {
  objects: [
    { colour: "blue", shape: "cross", size: "small" },
    { colour: "green", shape: "circle", size: "large" },
  ],
  relation: "above",
};

Deno.test("score: agreement checks each caption against its own scene", () => {
  const read = [redStar, blueAboveGreen];
  assert.deepEqual(agreement(["a red star", "a green circle below a blue cross"], read), [
    true,
    true,
  ]);
  assert.deepEqual(agreement(["a small red star", "a blue cross below a green circle"], read), [
    false,
    false,
  ]);
  // Parsed captions are taken as they are.
  assert.deepEqual(agreement([parseCaption("a large red star"), "a blue cross"], read), [
    true,
    false,
  ]);
  assert.throws(() => agreement(["a red elephant", "a blue cross"], read), SyntaxError);
  assert.throws(
    () => agreement(["a red star"], read),
    { name: "RangeError", message: "agreement got 1 captions for 2 scenes read" },
  );
});

Deno.test("score: captionAgreement's whole-scene rate is agreement's, beside per-attribute rates", () => {
  const captions = ["a red circle", "a red star", "a blue cross above a red circle"];
  const read = [redStar, redStar, blueAboveGreen];
  const rates = captionAgreement(captions, read);
  const agreed = agreement(captions, read);
  assert.equal(rates.pairs, 3);
  assert.equal(rates.scenes, agreed.filter(Boolean).length / agreed.length);
  assert.equal(rates.colour, 3 / 4);
  assert.equal(rates.shape, 3 / 4);
  assert.equal(rates.relation, 1);
  assert.throws(() => captionAgreement([], read), RangeError);
});

Deno.test("score: judgeAccuracy against known scenes, in any object order", () => {
  const belowForm: Scene = {
    objects: [blueAboveGreen.objects[1], blueAboveGreen.objects[0]],
    relation: "below",
  };
  const wrongSize: Scene = { ...redStar, objects: [{ ...redStar.objects[0], size: "small" }] };
  const accuracy = judgeAccuracy([redStar, belowForm], [wrongSize, blueAboveGreen]);
  assert.equal(accuracy.images, 2);
  assert.equal(accuracy.scenes, 0.5);
  assert.equal(accuracy.size, 2 / 3);
  assert.equal(accuracy.colour, 1);
  assert.equal(accuracy.relation, 1);
  assert.ok(!("pairs" in accuracy));
  // No two-object scene: the relation cannot be wrong.
  assert.equal(judgeAccuracy([redStar], [redStar]).relation, 1);
  assert.throws(
    () => judgeAccuracy([redStar], []),
    { name: "RangeError", message: "judgeAccuracy got 1 scenes for 0 read" },
  );
});
