import assert from "node:assert/strict";
import type { Scene } from "../data/mod.ts";
import { bestOfFirst, type JudgedCaption, keptAttributes, rerankCurve } from "./mod.ts";
import { interval95 } from "../io/mod.ts";

const RED_CIRCLE: Scene = {
  objects: [{ colour: "red", shape: "circle", size: "small" }],
  relation: null,
};
const BLUE_CIRCLE: Scene = {
  objects: [{ colour: "blue", shape: "circle", size: "small" }],
  relation: null,
};

/** Draws in order: wrong, right (best score), wrong, right. */
const JUDGED: JudgedCaption[] = [{
  caption: "a small red circle",
  scores: [0.1, 0.9, 0.5, 0.2],
  scenes: [BLUE_CIRCLE, RED_CIRCLE, BLUE_CIRCLE, RED_CIRCLE],
  agrees: [false, true, false, true],
}, {
  caption: "a small blue circle",
  scores: [0.3, 0.2, 0.1, 0.0],
  scenes: [RED_CIRCLE, RED_CIRCLE, RED_CIRCLE, BLUE_CIRCLE],
  agrees: [false, false, false, true],
}];

Deno.test("rerankCurve: reranked, random and oracle picks over the first N draws", () => {
  assert.equal(bestOfFirst(JUDGED[0], 1), 0);
  assert.equal(bestOfFirst(JUDGED[0], 4), 1);
  const [one, two, four] = rerankCurve(JUDGED, [1, 2, 4]);
  assert.deepEqual([one.reranked.mean, one.random.mean, one.oracle.mean], [0, 0, 0]);
  assert.deepEqual([two.reranked.mean, two.random.mean, two.oracle.mean], [0.5, 0.25, 0.5]);
  assert.deepEqual([four.reranked.mean, four.random.mean, four.oracle.mean], [0.5, 0.375, 1]);
  assert.throws(() => rerankCurve(JUDGED, [8]), /fewer than N = 8/);
  const kept = keptAttributes(JUDGED, 4, true);
  assert.equal(kept.scenes, 0.5);
  assert.equal(keptAttributes(JUDGED, 4, false).colour, 0);
});

Deno.test("interval95: Wilson for 0/1 values, normal otherwise, inside [0, 1]", () => {
  const all = interval95([1, 1, 1, 1]);
  assert.equal(all.mean, 1);
  assert.ok(all.low > 0.4 && all.low < 1 && all.high === 1, `${JSON.stringify(all)}`);
  const half = interval95([0.5, 0.5, 0.5]);
  assert.deepEqual([half.low, half.high], [0.5, 0.5]);
  assert.ok(Number.isNaN(interval95([]).mean));
});
