import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { GradScaler } from "./mod.ts";

await initBackend();

const f16round = (Math as unknown as { f16round: (x: number) => number }).f16round;

function run(scaler: GradScaler, values: number[][]) {
  const grads = values.map((v) => tf.tensor1d(v));
  const result = scaler.step(grads);
  const out = result.grads.map((g) => Array.from(g.dataSync()));
  tf.dispose([...grads, ...result.grads]);
  return { ...result, out };
}

Deno.test("scales start at 2¹³·M; finite blocks grow by 2^(1/1000), overflowing ones ÷√2 and skip", () => {
  const scaler = new GradScaler({ blocks: ["a", "b"], workers: 4 });
  assert.deepEqual(scaler.scales(), { a: 2 ** 15, b: 2 ** 15 });
  const r = run(scaler, [[1e-3], [10]]); // 10·2¹⁵ > 65504 → ∞ in block b
  assert.equal(r.skip, true);
  assert.deepEqual(r.blocks.map((b) => [b.block, b.finite, b.overflowEntries]), [
    ["a", true, 0],
    ["b", false, 1],
  ]);
  assert.ok(Math.abs(scaler.scales().a - 2 ** 15 * 2 ** (1 / 1000)) < 1e-9);
  assert.ok(Math.abs(scaler.scales().b - 2 ** 15 / Math.SQRT2) < 1e-9);
  assert.equal(scaler.skippedSteps, 1);
});

Deno.test("unscaled gradients equal round16(g·s)/s and underflow is counted among non-zero entries", () => {
  const scaler = new GradScaler({ blocks: ["a"] });
  const g = [0.1, 1e-12, 0, -3e-6];
  const r = run(scaler, [g]);
  const s = 2 ** 13;
  r.out[0].forEach((v, i) => assert.equal(v, Math.fround(f16round(Math.fround(g[i] * s)) / s)));
  const [a] = r.blocks;
  assert.deepEqual([a.entries, a.nonzeroEntries, a.underflowEntries], [4, 3, 1]);
  assert.ok(Math.abs(a.underflowFraction - 1 / 3) < 1e-12);
  assert.equal(r.skip, false);
});

Deno.test("no second division of a scale within 125 updates; clamped to [2⁷·M, 2²⁴·M]", () => {
  const scaler = new GradScaler({ blocks: ["a"], growthFactor: 1 });
  const start = scaler.scales().a;
  run(scaler, [[1e9]]); // overflow → ÷√2 at step 0
  for (let t = 1; t < 125; t++) assert.equal(run(scaler, [[1e9]]).skip, true);
  assert.equal(scaler.scales().a, start / Math.SQRT2, "no division during the cooldown");
  run(scaler, [[1e9]]); // step 125: allowed again
  assert.ok(Math.abs(scaler.scales().a - start / 2) < 1e-9);

  const fast = new GradScaler({ blocks: ["a"], growthFactor: 2, backoffCooldownSteps: 0 });
  for (let t = 0; t < 20; t++) run(fast, [[1e-9]]);
  assert.equal(fast.scales().a, 2 ** 24);
  for (let t = 0; t < 40; t++) run(fast, [[Infinity]]);
  assert.equal(fast.scales().a, 2 ** 7);
});

Deno.test("per-block scales rescue a small-gradient block that a global scale flushes to zero", () => {
  // Block "big" has gradients ~1 (overflows above scale 65504); "small" has gradients ~1e-13,
  // which flush to zero below scale 2⁻²⁵/3e-13 ≈ 99,000.
  const grads = [[1, -0.5, 0.25], [1e-13, -2e-13, 3e-13]];
  const blocks = ["big", "small"];
  const options = { blocks, growthFactor: 2, backoffCooldownSteps: 0 };
  const perBlock = new GradScaler({ ...options, mode: "per-block" });
  const global = new GradScaler({ ...options, mode: "global" });
  let lastPer = run(perBlock, grads);
  let lastGlobal = run(global, grads);
  for (let t = 0; t < 40; t++) {
    lastPer = run(perBlock, grads);
    lastGlobal = run(global, grads);
  }
  assert.ok(global.scales().small < 2 ** 17, `global scale ${global.scales().small}`);
  assert.equal(global.scales().big, global.scales().small);
  assert.equal(lastGlobal.blocks[1].underflowFraction, 1);
  assert.equal(perBlock.scales().small, 2 ** 24);
  assert.equal(lastPer.blocks[1].underflowFraction, 0);
  // At 2²⁴ they are float16 subnormals (~28 ulps): a few percent off, but not zero.
  assert.ok(lastPer.out[1].every((v, i) => Math.abs(v / grads[1][i] - 1) < 0.05));
});

Deno.test("GradScaler is leak-free and rejects bad input", () => {
  const scaler = new GradScaler({ blocks: ["a", "a", "b"] });
  const grads = [tf.ones([3, 2]), tf.ones([2]), tf.ones([4])];
  const before = tf.memory().numTensors;
  for (let t = 0; t < 3; t++) tf.dispose(scaler.step(grads).grads);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => scaler.step(grads.slice(0, 2)), /built for 3 parameters/);
  assert.throws(() => new GradScaler({ blocks: [] }), TypeError);
  assert.throws(() => new GradScaler({ blocks: ["a"], mode: "layer" as "global" }), RangeError);
  assert.throws(() => new GradScaler({ blocks: ["a"], minScale: 10, maxScale: 1 }), RangeError);
  tf.dispose(grads);
});
