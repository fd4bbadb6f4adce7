import assert from "node:assert/strict";
import { distinctShapesCaptions } from "./distinct_captions.ts";
import { makeShapes } from "./shapes.ts";

Deno.test("distinctShapesCaptions: the set's first n distinct captions, in order, the same each call", async () => {
  const options = { count: 120, seed: 3, split: "test" as const };
  const captions = await distinctShapesCaptions(options, 20);
  assert.equal(new Set(captions).size, 20);
  assert.deepEqual(await distinctShapesCaptions(options, 20), captions);
  // In the set's order: each is the earliest caption not yet taken.
  const set = (await makeShapes(options)).captions;
  const firstAt = captions.map((c) => set.indexOf(c));
  assert.deepEqual(firstAt, [...firstAt].sort((a, b) => a - b));
  assert.ok(set.slice(0, firstAt.at(-1)).every((c) => captions.includes(c)), "none skipped");
});

Deno.test("distinctShapesCaptions: a set with fewer distinct captions is refused", async () => {
  await assert.rejects(
    () => distinctShapesCaptions({ count: 8, seed: 3, split: "test" }, 9),
    (e: Error) =>
      e instanceof RangeError && /8 scenes \(seed 3\) has \d distinct captions/.test(e.message),
  );
});
