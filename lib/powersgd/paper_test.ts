import assert from "node:assert/strict";
import { paperCompressionRate, paperTable1, planCompression, shardedLayerShapes } from "./mod.ts";

Deno.test("paperTable1 reproduces Table 1's compression rates to the printed whole percent", () => {
  const rows = paperTable1();
  assert.deepEqual(rows.map((r) => [r.model, r.dModel, r.rank]), [
    ["2.8B", 1920, 512],
    ["5.6B", 2688, 640],
    ["12B", 3968, 896],
  ]);
  assert.deepEqual(rows.map((r) => Math.round(100 * r.compressionRate)), [83, 85, 86]);
  for (const r of rows) assert.equal(Math.round(100 * r.compressionRate), r.paperPercent);
  assert.ok(Math.abs(paperCompressionRate(512, 1920) - 5 / 6) < 1e-12); // 1 − 2560/15360
});

Deno.test("planCompression of the paper's 8-way layer shards at rank r/8 saves exactly 1 − 5r/(8d)", () => {
  for (const { dModel, rank } of paperTable1()) {
    const plan = planCompression(shardedLayerShapes(dModel), rank / 8, 0);
    assert.ok(plan.every((e) => e.compressed));
    const sent = plan.reduce((a, e) => a + e.elementsSent, 0);
    const full = plan.reduce((a, e) => a + e.elementsUncompressed, 0);
    assert.equal(full, (12 * dModel * dModel) / 8);
    assert.ok(Math.abs(1 - sent / full - paperCompressionRate(rank, dModel)) < 1e-12);
  }
});

Deno.test("paper helpers reject bad sizes", () => {
  assert.throws(() => paperCompressionRate(0, 1920), RangeError);
  assert.throws(() => paperCompressionRate(512, -1), RangeError);
  assert.throws(() => shardedLayerShapes(100), RangeError);
});
