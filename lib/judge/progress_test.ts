import assert from "node:assert/strict";
import { lossProgress } from "./_progress.ts";

Deno.test("lossProgress: a line every `every` steps and at the last, each the mean since the one before", () => {
  const lines: string[] = [];
  const onStep = lossProgress("judge", 5, 2, (line) => lines.push(line));
  [4, 2, 10, 20, 7].forEach((loss, step) => onStep({ step, loss }));
  assert.equal(lines.length, 3); // steps 2, 4 and the last, 5
  assert.match(lines[0], /^judge: step 2\/5 loss 3\.0000 \(\d+ s\)$/);
  assert.match(lines[1], /^judge: step 4\/5 loss 15\.0000 /);
  assert.match(lines[2], /^judge: step 5\/5 loss 7\.0000 /);
});
