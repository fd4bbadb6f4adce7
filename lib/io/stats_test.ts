import assert from "node:assert/strict";
import { interval95, median, wilsonInterval } from "./stats.ts";

Deno.test("wilsonInterval holds its rate, ends exactly at 0 and 1 for none and all, and narrows with trials", () => {
  for (let trials = 1; trials <= 2000; trials += 37) {
    for (const successes of [0, 1, Math.floor(trials / 3), trials - 1, trials]) {
      if (successes < 0 || successes > trials) continue;
      const p = successes / trials;
      const [low, high] = wilsonInterval(successes, trials);
      assert.ok(low <= p && p <= high, `${successes}/${trials}: [${low}, ${high}]`);
      assert.ok(low >= 0 && high <= 1);
    }
    assert.equal(wilsonInterval(trials, trials)[1], 1);
    assert.equal(wilsonInterval(0, trials)[0], 0);
  }
  // Known values (Wilson 1927; e.g. 235 of 235 → [0.984, 1]).
  const [low] = wilsonInterval(235, 235);
  assert.ok(Math.abs(low - 0.98392) < 1e-4, `${low}`);
  const [a, b] = wilsonInterval(50, 100);
  assert.ok(Math.abs(a - 0.4038) < 1e-4 && Math.abs(b - 0.5962) < 1e-4, `${a} ${b}`);
  assert.ok(wilsonInterval(500, 1000)[1] - wilsonInterval(500, 1000)[0] < b - a);
  assert.throws(() => wilsonInterval(3, 2), RangeError);
});

Deno.test("interval95 of all-successes ends at 1; median takes the mean of the middle two", () => {
  const { mean, high } = interval95(Array(64).fill(1));
  assert.deepEqual([mean, high], [1, 1]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5, 1, 3]), 3);
});
