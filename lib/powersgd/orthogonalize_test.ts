import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { gramSchmidtInPlace, householderQ, orthogonalize } from "./mod.ts";

await initBackend();

function gram(q: Float64Array, n: number, r: number): number[][] {
  const g = Array.from({ length: r }, () => new Array(r).fill(0));
  for (let a = 0; a < r; a++) {
    for (let b = 0; b < r; b++) {
      for (let i = 0; i < n; i++) g[a][b] += q[i * r + a] * q[i * r + b];
    }
  }
  return g;
}

function maxDeviationFromIdentity(g: number[][], skip: Set<number> = new Set()): number {
  let worst = 0;
  g.forEach((row, a) =>
    row.forEach((v, b) => {
      if (skip.has(a) || skip.has(b)) return;
      worst = Math.max(worst, Math.abs(v - (a === b ? 1 : 0)));
    })
  );
  return worst;
}

function randomMatrix(n: number, r: number, seed: number): Float64Array {
  return Float64Array.from(
    tf.tidy(() => tf.randomNormal([n, r], 0, 1, "float32", seed).dataSync()),
  );
}

Deno.test("Gram-Schmidt and Householder give orthonormal columns spanning P", () => {
  const [n, r] = [100, 8];
  const p = randomMatrix(n, r, 3);
  const gs = gramSchmidtInPlace(Float64Array.from(p), n, r);
  const hh = householderQ(p, n, r, 0);
  // Gram-Schmidt divides by norm + 1e-8, so its columns are short of unit length by ~1e-8/norm.
  assert.ok(maxDeviationFromIdentity(gram(gs, n, r)) < 1e-8);
  assert.ok(maxDeviationFromIdentity(gram(hh, n, r)) < 1e-12);
  // Same sign convention (R's diagonal positive): the two agree on a full-rank P.
  for (let i = 0; i < p.length; i++) assert.ok(Math.abs(gs[i] - hh[i]) < 1e-8);
  // Column k of the result lies in the span of P's first k + 1 columns: Q̂ᵀP is upper triangular.
  for (let a = 0; a < r; a++) {
    for (let b = 0; b < a; b++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += gs[i * r + a] * p[i * r + b];
      assert.ok(Math.abs(dot) < 1e-9, `Q̂ᵀP[${a}][${b}] = ${dot}`);
    }
  }
});

Deno.test("householderQ matches tf.linalg.qr up to column signs", () => {
  const [n, r] = [12, 4];
  const p = randomMatrix(n, r, 11);
  const ours = householderQ(p, n, r, 0);
  const [qRef, rRef] = tf.linalg.qr(tf.tensor2d(Float32Array.from(p), [n, r]));
  const ref = qRef.dataSync();
  for (let k = 0; k < r; k++) {
    const sign = Math.sign(ours[k] * ref[k]) || 1;
    for (let i = 0; i < n; i++) assert.ok(Math.abs(ours[i * r + k] - sign * ref[i * r + k]) < 1e-5);
  }
  tf.dispose([qRef, rRef]);
});

Deno.test("rank-deficient P: Householder stays orthonormal, Gram-Schmidt zeroes dependent columns", () => {
  const [n, r] = [30, 4];
  const p = randomMatrix(n, r, 5);
  for (let i = 0; i < n; i++) {
    p[i * r + 2] = 2 * p[i * r + 0] - p[i * r + 1]; // dependent column
    p[i * r + 3] = 0; // zero column
  }
  const hh = householderQ(p, n, r); // default shift 1e-6·I makes it full rank
  assert.ok(maxDeviationFromIdentity(gram(hh, n, r)) < 1e-9);
  const gs = gramSchmidtInPlace(Float64Array.from(p), n, r);
  const g = gram(gs, n, r);
  assert.ok(g[3][3] === 0, "a zero column must stay zero, not NaN");
  // The dependent column's residual (~1e-15) is far below ε = 1e-8, so it comes out ≈ 0.
  assert.ok(g[2][2] < 1e-12, `dependent column has squared norm ${g[2][2]}`);
  assert.ok(maxDeviationFromIdentity(g, new Set([2, 3])) < 1e-8);
});

Deno.test("orthogonalize on tensors: shape, both methods, leak-free, bad method rejected", () => {
  const p = tf.randomNormal([64, 6], 0, 1, "float32", 2);
  const before = tf.memory().numTensors;
  for (const method of ["gram-schmidt", "householder"] as const) {
    const q = orthogonalize(p, method);
    assert.deepEqual(q.shape, [64, 6]);
    const gramT = tf.tidy(() => q.transpose().matMul(q).sub(tf.eye(6)).abs().max().dataSync()[0]);
    assert.ok(gramT < 1e-5);
    q.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => orthogonalize(p, "qr" as "householder"), RangeError);
  assert.throws(() => householderQ(new Float64Array(6), 2, 3), RangeError);
  p.dispose();
});
