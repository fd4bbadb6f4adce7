import assert from "node:assert/strict";
import { initBackend } from "../backend/mod.ts";
import { createPrior } from "./model.ts";
import { residualBlockOf, residualBlocks } from "./blocks.ts";

await initBackend();

Deno.test("residualBlockOf: layers by index, tables before them, final norm and heads after", () => {
  const cases: [string, string][] = [
    ["textPosition", "embed"],
    ["padEmbedding", "embed"],
    ["imageEmbedding.weight", "embed"],
    ["blocks.0.ln1.gain", "block0"],
    ["blocks.12.attention.qkv.weight", "block12"],
    ["blocks.1.fcOut.bias", "block1"],
    ["lnFinal.gain", "head"],
    ["textHead.weight", "head"],
    ["imageHead.bias", "head"],
  ];
  for (const [name, block] of cases) assert.equal(residualBlockOf(name), block, name);
});

Deno.test("residualBlocks: one id per parameter, in parameters() order, what gradScale needs", () => {
  const prior = createPrior({
    textLen: 4,
    textVocab: 32,
    imageGrid: 2,
    imageVocab: 16,
    dModel: 16,
    layers: 3,
    heads: 2,
  });
  const blocks = residualBlocks(prior);
  const named = prior.namedParameters();
  assert.equal(blocks.length, prior.parameters().length);
  named.forEach(([name, p], i) => {
    assert.equal(p, prior.parameters()[i]);
    assert.equal(blocks[i], residualBlockOf(name));
  });
  assert.deepEqual([...new Set(blocks)].sort(), ["block0", "block1", "block2", "embed", "head"]);
  // Each transformer layer's block holds its 12 tensors (2 LayerNorms, qkv, proj, fc, fcOut).
  assert.equal(blocks.filter((b) => b === "block1").length, 12);
  prior.dispose();
});
