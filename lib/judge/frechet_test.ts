import assert from "node:assert/strict";
import { Rng } from "../io/mod.ts";
import { fitGaussian, frechetDistance, symmetricEigen } from "./frechet.ts";

/** `count` vectors of `dim` standard normal values times `scale[j]`, plus `shift[j]`. */
function gaussianSet(count: number, scale: number[], shift: number[], seed: number) {
  const rng = Rng.stream("test/frechet", seed);
  const dim = scale.length;
  const values = Float64Array.from({ length: count * dim }, (_, i) => {
    const u = Math.max(rng.next(), 1e-12), v = rng.next();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return normal * scale[i % dim] + shift[i % dim];
  });
  return { values, count, dim };
}

Deno.test("symmetricEigen: A·v = λ·v for every pair, and the vectors are orthonormal", () => {
  const d = 7, rng = Rng.stream("test/eigen", 0);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) a[i * d + j] = a[j * d + i] = rng.next() * 2 - 1;
  }
  const { values, vectors } = symmetricEigen(a, d);
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) {
      let av = 0;
      for (let j = 0; j < d; j++) av += a[i * d + j] * vectors[j * d + k];
      assert.ok(Math.abs(av - values[k] * vectors[i * d + k]) < 1e-10, `pair ${k}, row ${i}`);
    }
    for (let l = 0; l < d; l++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += vectors[i * d + k] * vectors[i * d + l];
      assert.ok(Math.abs(dot - (k === l ? 1 : 0)) < 1e-10);
    }
  }
});

Deno.test("frechetDistance: 0 for a set and itself, the closed form for diagonal Gaussians, symmetric", () => {
  const a = gaussianSet(500, [1, 2, 0.5], [0, 1, -1], 1);
  assert.ok(frechetDistance(a, a) < 1e-9);
  // Diagonal covariances: ‖μ₁ − μ₂‖² + Σ (σ₁ − σ₂)², from the fitted moments themselves.
  const g1 = { mean: Float64Array.of(0, 1), cov: Float64Array.of(4, 0, 0, 9), dim: 2 };
  const g2 = { mean: Float64Array.of(3, 5), cov: Float64Array.of(1, 0, 0, 16), dim: 2 };
  const closed = 3 ** 2 + 4 ** 2 + (2 - 1) ** 2 + (3 - 4) ** 2;
  assert.ok(Math.abs(frechetDistance(g1, g2) - closed) < 1e-9);
  const b = gaussianSet(500, [1.5, 1, 1], [0.5, 0, 0], 2);
  assert.ok(Math.abs(frechetDistance(a, b) - frechetDistance(b, a)) < 1e-9);
  // Samples of the same Gaussian are close; moving one mean moves the distance by its square.
  const c = gaussianSet(4000, [1, 1], [0, 0], 3), e = gaussianSet(4000, [1, 1], [0, 0], 4);
  const near = frechetDistance(c, e);
  assert.ok(near < 0.02, `same distribution: ${near}`);
  const shifted = gaussianSet(4000, [1, 1], [2, 0], 4);
  assert.ok(Math.abs(frechetDistance(c, shifted) - 4) < 0.2);
});

Deno.test("frechetDistance is unchanged when both sets are rotated alike (correlated features)", () => {
  const a = gaussianSet(300, [2, 0.5], [1, 0], 5), b = gaussianSet(300, [1, 1], [0, 1], 6);
  const [c, s] = [Math.cos(0.7), Math.sin(0.7)];
  const rotate = (set: typeof a) => ({
    ...set,
    values: set.values.map((_, i) => {
      const [x, y] = [set.values[i - (i % 2)], set.values[i - (i % 2) + 1]];
      return i % 2 === 0 ? c * x - s * y : s * x + c * y;
    }),
  });
  assert.ok(Math.abs(frechetDistance(rotate(a), rotate(b)) - frechetDistance(a, b)) < 1e-8);
});

Deno.test("frechetDistance refuses sets it cannot fit or compare", () => {
  const a = gaussianSet(10, [1, 1], [0, 0], 7);
  assert.throws(
    () => frechetDistance(a, gaussianSet(10, [1, 1, 1], [0, 0, 0], 8)),
    /2 and 3 dimensions/,
  );
  assert.throws(() => fitGaussian({ values: [1, 2], count: 1, dim: 2 }), /at least 2 vectors/);
  assert.throws(() => fitGaussian({ values: [1, 2, 3], count: 2, dim: 2 }), /3 values/);
  assert.throws(() => fitGaussian({ values: [1, NaN, 3, 4], count: 2, dim: 2 }), /NaN at vector 0/);
});
