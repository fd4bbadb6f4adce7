import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  createDvae,
  dequantize,
  dvaeObjective,
  gaussianNll,
  gumbelNoise,
  gumbelSoftmax,
  klToUniform,
  logitLaplaceNll,
  mapPixels,
  marginalKlToUniform,
  unmapPixels,
} from "./mod.ts";

await initBackend();

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

Deno.test("mapPixels sends [0, 1] to [0.1, 0.9] and unmapPixels inverts it, clamped", () => {
  const x = tf.tensor1d([0, 0.25, 0.5, 1]);
  const y = mapPixels(x);
  assert.deepEqual(Array.from(y.dataSync()).map((v) => +v.toFixed(6)), [0.1, 0.3, 0.5, 0.9]);
  const back = unmapPixels(y);
  Array.from(back.dataSync()).forEach((v, i) => close(v, [0, 0.25, 0.5, 1][i], 1e-6, "round trip"));
  const clamped = unmapPixels(tf.tensor1d([0, 0.05, 0.95, 1]));
  assert.deepEqual(Array.from(clamped.dataSync()), [0, 0, 1, 1]);
  tf.dispose([x, y, back, clamped]);
});

Deno.test("logit-Laplace NLL equals its closed form on hand-picked values", () => {
  // −ln p = |logit y − μ| / b + ln b + ln 2 + ln(y(1 − y))
  const cases = [
    { y: 0.5, mu: 0, logB: 0 }, // 0 + 0 + ln 2 + ln ¼ = −ln 2
    { y: 0.9, mu: 1, logB: Math.log(2) },
    { y: 0.1, mu: 2, logB: -1 },
    { y: 0.3, mu: -0.2, logB: 0.5 },
  ];
  const nll = logitLaplaceNll(
    tf.tensor1d(cases.map((c) => c.y)),
    tf.tensor1d(cases.map((c) => c.mu)),
    tf.tensor1d(cases.map((c) => c.logB)),
  );
  const got = nll.dataSync();
  cases.forEach(({ y, mu, logB }, i) => {
    const logit = Math.log(y / (1 - y));
    const expected = Math.abs(logit - mu) / Math.exp(logB) + logB + Math.LN2 +
      Math.log(y * (1 - y));
    close(got[i], expected, 1e-5, `case ${i}`);
  });
  close(got[0], -Math.LN2, 1e-6, "y = ½, μ = 0, b = 1");
  nll.dispose();
});

Deno.test("logit-Laplace density integrates to 1 over (0, 1)", () => {
  // Midpoint rule on a fine grid: a density, so the bound it gives is a continuous-density bound.
  const n = 20000;
  const ys = Array.from({ length: n }, (_, i) => (i + 0.5) / n);
  const nll = logitLaplaceNll(tf.tensor1d(ys), tf.fill([n], 0.7), tf.fill([n], -0.3));
  const mass = Array.from(nll.dataSync()).reduce((s, v) => s + Math.exp(-v) / n, 0);
  close(mass, 1, 2e-3, "total probability");
  nll.dispose();
});

Deno.test("Gaussian NLL is ln σ + ½ ln 2π at the mean and grows by the squared error over 2σ²", () => {
  const nll = gaussianNll(tf.tensor1d([0.5, 0.7]), tf.tensor1d([0.5, 0.5]), 0.1);
  const [atMean, off] = nll.dataSync();
  close(atMean, Math.log(0.1) + 0.5 * Math.log(2 * Math.PI), 1e-5, "at the mean");
  close(off - atMean, (0.2 * 0.2) / (2 * 0.01), 1e-4, "squared error / 2σ²");
  nll.dispose();
});

Deno.test("KL to the uniform prior is 0 for uniform logits and ln K in the one-hot limit", () => {
  const k = 16;
  const uniform = klToUniform(tf.fill([2, 3, k], 1.7));
  for (const v of uniform.dataSync()) close(v, 0, 1e-6, "uniform");
  const peaked = tf.tidy(() => klToUniform(tf.oneHot(tf.tensor1d([3, 9], "int32"), k).mul(60)));
  for (const v of peaked.dataSync()) close(v, Math.log(k), 1e-4, "one-hot");
  // In between it is strictly between.
  const mid = klToUniform(tf.tensor2d([[2, 0, 0, 0]]));
  const v = mid.dataSync()[0];
  assert.ok(v > 0 && v < Math.log(4), `KL ${v} in (0, ln 4)`);
  tf.dispose([uniform, peaked, mid]);
});

Deno.test("marginal KL: 0 for an evenly used codebook, ln K when every cell picks one code", () => {
  const k = 8;
  const even = tf.tidy(() =>
    marginalKlToUniform(tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], "int32"), k).mul(60))
  );
  close(even.dataSync()[0], 0, 1e-4, "every code once");
  const same = tf.tidy(() =>
    marginalKlToUniform(tf.oneHot(tf.tensor1d([5, 5, 5, 5], "int32"), k).mul(60))
  );
  close(same.dataSync()[0], Math.log(k), 1e-4, "one code");
  // E[KL(q ‖ u)] = I(x; z) + KL(q̄ ‖ u), so the marginal part never exceeds the mean per-cell KL;
  // it equals it when every cell has the same q (no information).
  const logits = tf.randomNormal([4, 3, 3, k], 0, 2, "float32", 21);
  const [marginal, perCell] = tf.tidy(() => [
    marginalKlToUniform(logits).dataSync()[0],
    klToUniform(logits).mean().dataSync()[0],
  ]);
  assert.ok(marginal > 0 && marginal < perCell, `${marginal} in (0, ${perCell})`);
  const shared = tf.tidy(() => tf.tile(logits.slice([0, 0, 0, 0], [1, 1, 1, k]), [4, 3, 3, 1]));
  const [m2, p2] = tf.tidy(() => [
    marginalKlToUniform(shared).dataSync()[0],
    klToUniform(shared).mean().dataSync()[0],
  ]);
  close(m2, p2, 1e-5, "identical cells");
  tf.dispose([even, same, logits, shared]);
});

Deno.test("Gumbel noise is seeded and has the standard Gumbel mean (Euler's γ)", () => {
  const a = gumbelNoise([20000], 11);
  const b = gumbelNoise([20000], 11);
  const c = gumbelNoise([20000], 12);
  assert.deepEqual(a.dataSync(), b.dataSync());
  assert.notDeepEqual(a.dataSync(), c.dataSync());
  close(a.mean().dataSync()[0], 0.5772, 0.03, "mean");
  tf.dispose([a, b, c]);
});

Deno.test("Gumbel-softmax rows sum to 1 and approach one-hot as τ → 0", () => {
  const logits = tf.randomNormal([64, 10], 0, 1, "float32", 5);
  const noisyArgmax = tf.tidy(() => logits.add(gumbelNoise([64, 10], 3)).argMax(-1).dataSync());
  let previousMeanMax = 0;
  for (const tau of [2, 1, 0.3, 0.05, 0.005]) {
    const z = gumbelSoftmax(logits, tau, { seed: 3 });
    const sums = z.sum(-1).dataSync();
    for (const s of sums) close(s, 1, 1e-5, `row sum at τ=${tau}`);
    const meanMax = z.max(-1).mean().dataSync()[0];
    assert.ok(meanMax > previousMeanMax, `mean max ${meanMax} grows as τ falls (τ=${tau})`);
    previousMeanMax = meanMax;
    if (tau === 0.005) {
      assert.ok(meanMax > 0.99, `nearly one-hot at τ=0.005: ${meanMax}`);
      assert.deepEqual(z.argMax(-1).dataSync(), noisyArgmax);
    }
    z.dispose();
  }
  assert.throws(() => gumbelSoftmax(logits, 0), RangeError);
  logits.dispose();
});

Deno.test("straight-through Gumbel-softmax is one-hot forward with the soft gradient", () => {
  const logits = tf.randomNormal([8, 6], 0, 1, "float32", 9);
  const hard = gumbelSoftmax(logits, 1, { seed: 4, straightThrough: true });
  for (const v of hard.dataSync()) assert.ok(Math.abs(v) < 1e-6 || Math.abs(v - 1) < 1e-6);
  const weights = tf.randomNormal([8, 6], 0, 1, "float32", 1);
  const gHard = tf.grad((l: tf.Tensor) =>
    gumbelSoftmax(l, 1, { seed: 4, straightThrough: true }).mul(weights).sum()
  )(logits);
  const gSoft = tf.grad((l: tf.Tensor) => gumbelSoftmax(l, 1, { seed: 4 }).mul(weights).sum())(
    logits,
  );
  const diff = tf.sub(gHard, gSoft).abs().max().dataSync()[0];
  assert.ok(diff < 1e-5, `same gradient, max diff ${diff}`);
  tf.dispose([logits, hard, weights, gHard, gSoft]);
});

Deno.test("dvaeObjective: loss = NLL + β·KL/dims per cell, ELB in bits/dim with β = 1", () => {
  const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
  const x = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 2) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  for (const beta of [0, 1, 6.6]) {
    const out = dvaeObjective(dvae, x, { beta, tau: 0.7, seed: 1 });
    const [loss, nll, kl, elb] = [out.loss, out.reconNll, out.kl, out.elbBitsPerDim].map((t) =>
      t.dataSync()[0]
    );
    assert.equal(dvae.dimsPerCell, (3 * 8 * 8) / (4 * 4));
    close(loss, nll + (beta * kl) / dvae.dimsPerCell, 1e-5, `loss at β=${beta}`);
    close(elb, (nll + kl / dvae.dimsPerCell) / Math.LN2, 1e-5, `ELB at β=${beta}`);
    assert.ok(kl >= 0 && kl <= Math.log(16) + 1e-5, `KL ${kl} in [0, ln K]`);
    assert.deepEqual(out.logits.shape, [3, 4, 4, 16]);
    tf.dispose([out.loss, out.reconNll, out.kl, out.marginalKl, out.elbBitsPerDim, out.logits]);
  }
  // The marginal KL term adds weight·KL(q̄ ‖ u)/dims per cell and leaves the ELB alone.
  const plain = dvaeObjective(dvae, x, { beta: 1, tau: 0.7, seed: 1 });
  const withMarginal = dvaeObjective(dvae, x, { beta: 1, tau: 0.7, seed: 1, marginalKlWeight: 3 });
  const m = withMarginal.marginalKl.dataSync()[0];
  assert.ok(m > 0, `marginal KL ${m} > 0 at initialisation`);
  close(
    withMarginal.loss.dataSync()[0],
    plain.loss.dataSync()[0] + (3 * m) / dvae.dimsPerCell,
    1e-5,
    "loss with the marginal term",
  );
  close(withMarginal.elbBitsPerDim.dataSync()[0], plain.elbBitsPerDim.dataSync()[0], 1e-6, "ELB");
  for (const out of [plain, withMarginal]) {
    tf.dispose([out.loss, out.reconNll, out.kl, out.marginalKl, out.elbBitsPerDim, out.logits]);
  }
  assert.throws(() => dvaeObjective(dvae, x, { marginalKlWeight: -1 }), RangeError);
  assert.equal(tf.memory().numTensors, before, "no tensors leak");
  x.dispose();
  dvae.dispose();
});

Deno.test("dequantize spreads each byte value uniformly over its 1/256 bin, seeded", () => {
  const x = tf.tensor1d(Array.from({ length: 512 }, (_, i) => (i % 256) / 255));
  const a = dequantize(x, 4);
  const b = dequantize(x, 4);
  assert.deepEqual(a.dataSync(), b.dataSync());
  Array.from(a.dataSync()).forEach((v, i) => {
    const byte = i % 256;
    assert.ok(v >= byte / 256 && v < (byte + 1) / 256, `value ${v} in bin ${byte}`);
  });
  tf.dispose([x, a, b]);
});
