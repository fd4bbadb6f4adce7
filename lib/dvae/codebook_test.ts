import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { codebookUsage } from "./mod.ts";

await initBackend();

Deno.test("codebook usage: perplexity is the effective number of codes", () => {
  // All K codes equally often: perplexity K, all used.
  const all = codebookUsage(Array.from({ length: 64 }, (_, i) => i % 8), 8);
  assert.ok(Math.abs(all.perplexity - 8) < 1e-9);
  assert.equal(all.usedFraction, 1);
  // One code: perplexity 1.
  assert.deepEqual(codebookUsage([5, 5, 5], 8), { perplexity: 1, usedFraction: 1 / 8 });
  // Frequencies ½, ¼, ¼: exp(1.5 ln 2) = 2^1.5.
  const skewed = codebookUsage([0, 0, 1, 2], 4);
  assert.ok(Math.abs(skewed.perplexity - 2 ** 1.5) < 1e-9);
  assert.equal(skewed.usedFraction, 0.75);
});

Deno.test("codebook usage reads int32 tensors and rejects ids outside the codebook", () => {
  const tokens = tf.tensor3d([0, 1, 2, 3, 0, 1, 2, 3], [2, 2, 2], "int32");
  assert.deepEqual(codebookUsage(tokens, 4), { perplexity: 4, usedFraction: 1 });
  tokens.dispose();
  assert.throws(() => codebookUsage([0, 4], 4), RangeError);
  assert.throws(() => codebookUsage([], 4), RangeError);
  assert.throws(() => codebookUsage([0], 0), RangeError);
});
