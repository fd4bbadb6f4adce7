import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  fromMatrix,
  householderQ,
  matrixShape,
  planCompression,
  PowerSGD,
  type PowerSgdConfig,
  type QMode,
  toMatrix,
} from "./mod.ts";

await initBackend();

const Q_MODES: QMode[] = ["warm", "fixed", "fresh"];
const METHODS = ["gram-schmidt", "householder"] as const;

function lowRank(n: number, m: number, k: number, seed: number): tf.Tensor2D {
  return tf.tidy(() =>
    tf.randomNormal([n, k], 0, 1, "float32", seed).matMul(
      tf.randomNormal([k, m], 0, 1, "float32", seed + 1),
    ) as tf.Tensor2D
  );
}

/** W worker gradients whose mean is `mean`: mean + D_w with Σ_w D_w = 0 (full-rank D_w). */
function splitAcrossWorkers(mean: tf.Tensor, workers: number, seed: number): tf.Tensor[] {
  return tf.tidy(() => {
    const d = Array.from(
      { length: workers },
      (_, w) => tf.randomNormal(mean.shape, 0, 1, "float32", seed + w),
    );
    const dMean = tf.addN(d).div(workers);
    return d.map((dw) => mean.add(dw).sub(dMean));
  });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => a.abs().max().dataSync()[0]);
}

Deno.test("output equals the mean gradient when it has rank ≤ r (all Q modes, both methods, W = 1, 4)", () => {
  const [n, m, r] = [64, 48, 4];
  for (const workers of [1, 4]) {
    for (const q of Q_MODES) {
      for (const method of METHODS) {
        for (const k of [r, 2]) { // rank exactly r, and rank < r
          const mean = lowRank(n, m, k, 10 * k + workers);
          const grads = splitAcrossWorkers(mean, workers, 100);
          const psgd = new PowerSGD({ rank: r, workers, q, orthogonalize: method });
          const [out] = psgd.step(grads.map((g) => [g]));
          const err = maxAbsDiff(out, mean) / maxAbs(mean);
          assert.ok(err < 1e-4, `W=${workers} q=${q} ${method} rank ${k}: relative error ${err}`);
          tf.dispose([mean, ...grads, out]);
          psgd.dispose();
        }
      }
    }
  }
});

Deno.test("matrix view: conv kernels are out × kh·kw·in (HWIO), round trips are exact", () => {
  assert.deepEqual(matrixShape([3, 5, 4, 8]), { view: "conv", n: 8, m: 60 });
  assert.deepEqual(matrixShape([6, 2, 5]), { view: "matrix", n: 6, m: 10 });
  assert.deepEqual(matrixShape([7]), { view: "vector", n: 7, m: 1 });
  const kernel = tf.randomNormal([3, 5, 4, 8], 0, 1, "float32", 1);
  const matrix = toMatrix(kernel);
  // Row o of the matrix is output channel o: kernel[y][x][c][o] at column (y·5 + x)·4 + c.
  const k = kernel.arraySync() as number[][][][];
  const mat = matrix.arraySync();
  assert.equal(mat[6][(2 * 5 + 3) * 4 + 1], k[2][3][1][6]);
  const back = fromMatrix(matrix, kernel.shape);
  assert.equal(maxAbsDiff(back, kernel), 0);
  const t3 = tf.randomNormal([6, 2, 5]);
  const t3back = fromMatrix(toMatrix(t3), t3.shape);
  assert.equal(maxAbsDiff(t3back, t3), 0);
  assert.throws(() => toMatrix(tf.zeros([4])), RangeError);
  assert.throws(() => fromMatrix(tf.zeros([4, 4]), [3, 3, 2, 4]), RangeError);
  tf.dispose([kernel, matrix, back, t3, t3back]);
});

Deno.test("a conv kernel whose out × kh·kw·in view has rank ≤ r comes back exactly, in HWIO", () => {
  const shape = [3, 3, 8, 16]; // view 16 × 72
  const mean = tf.tidy(() => fromMatrix(lowRank(16, 72, 2, 7), shape));
  const grads = splitAcrossWorkers(mean, 4, 30);
  const psgd = new PowerSGD({ rank: 2, workers: 4 });
  const [out] = psgd.step(grads.map((g) => [g]));
  assert.deepEqual(out.shape, shape);
  assert.ok(psgd.plan()![0].compressed);
  assert.ok(maxAbsDiff(out, mean) / maxAbs(mean) < 1e-4);
  tf.dispose([mean, ...grads, out]);
  psgd.dispose();
});

Deno.test("error feedback telescopes: Σ outputs + mean final error = Σ mean gradients", () => {
  const shapes = [[24, 20], [3, 3, 4, 10], [20], [3, 4]];
  const [workers, steps] = [4, 6];
  for (const q of Q_MODES) {
    for (const method of METHODS) {
      const psgd = new PowerSGD({ rank: 2, workers, q, orthogonalize: method, seed: 3 });
      const sumOut = shapes.map((s) => tf.zeros(s));
      const sumMean = shapes.map((s) => tf.zeros(s));
      for (let t = 0; t < steps; t++) {
        const grads = Array.from(
          { length: workers },
          (_, w) =>
            shapes.map((s, i) => tf.randomNormal(s, 0, 1, "float32", 1000 * t + 10 * w + i)),
        );
        const out = psgd.step(grads);
        for (let i = 0; i < shapes.length; i++) {
          const [a, b] = [sumOut[i], sumMean[i]];
          sumOut[i] = a.add(out[i]);
          sumMean[i] = tf.tidy(() => b.add(tf.addN(grads.map((g) => g[i])).div(workers)));
          tf.dispose([a, b]);
        }
        tf.dispose([...grads.flat(), ...out]);
      }
      for (let i = 0; i < shapes.length; i++) {
        const e = psgd.meanError(i);
        const lhs = sumOut[i].add(e);
        const diff = maxAbsDiff(lhs, sumMean[i]);
        assert.ok(diff < 1e-4, `q=${q} ${method} param ${i}: |Σout + ē − Σḡ| = ${diff}`);
        tf.dispose([e, lhs]);
      }
      assert.ok(psgd.errorSquaredNorm() > 0);
      tf.dispose([...sumOut, ...sumMean]);
      psgd.dispose();
    }
  }
});

Deno.test("rank ≥ min(n, m): skipped by default (plain mean), exact when compression is forced", () => {
  for (const shape of [[6, 20], [20, 6]]) {
    const grads = [0, 1, 2].map((w) => tf.randomNormal(shape, 0, 1, "float32", w));
    const mean = tf.tidy(() => tf.addN(grads).div(3));
    const skipped = new PowerSGD({ rank: 8, workers: 3 });
    const [a] = skipped.step(grads.map((g) => [g]));
    assert.equal(skipped.plan()![0].compressed, false);
    assert.ok(maxAbsDiff(a, mean) < 1e-6);
    const forced = new PowerSGD({ rank: 8, workers: 3, minCompressionRate: 0 });
    const [b] = forced.step(grads.map((g) => [g]));
    assert.deepEqual([forced.plan()![0].compressed, forced.plan()![0].rank], [true, 6]);
    assert.ok(maxAbsDiff(b, mean) < 1e-4);
    tf.dispose([...grads, mean, a, b]);
    skipped.dispose();
    forced.dispose();
  }
});

Deno.test("element counts: (n + m)·r per compressed matrix, n·m otherwise; cumulative stats in elements and bytes", () => {
  const shapes = [[64, 48], [3, 3, 8, 16], [48], [4, 4]];
  const plan = planCompression(shapes, 4);
  assert.deepEqual(
    plan.map((e) => [e.view, e.n, e.m, e.compressed, e.rank, e.elementsSent]),
    [
      ["matrix", 64, 48, true, 4, (64 + 48) * 4],
      ["conv", 16, 72, true, 4, (16 + 72) * 4],
      ["vector", 48, 1, false, 0, 48],
      ["matrix", 4, 4, false, 0, 16], // (4 + 4)·4·2 ≥ 16: not worth it
    ],
  );
  const psgd = new PowerSGD({ rank: 4, workers: 2 });
  for (let t = 0; t < 3; t++) {
    const grads = [0, 1].map((w) => shapes.map((s) => tf.randomNormal(s, 0, 1, "float32", t + w)));
    tf.dispose([...psgd.step(grads), ...grads.flat()]);
  }
  const full = 64 * 48 + 16 * 72 + 48 + 16;
  const sent = 448 + 352 + 48 + 16;
  const stats = psgd.stats();
  assert.deepEqual([stats.elementsUncompressed, stats.elementsSent], [3 * full, 3 * sent]);
  assert.deepEqual([stats.bytesUncompressed, stats.bytesSent], [12 * full, 12 * sent]);
  assert.ok(Math.abs(stats.ratio - full / sent) < 1e-12);
  assert.ok(Math.abs(stats.savedFraction - (1 - sent / full)) < 1e-12);
  psgd.dispose();
});

/** An n × m matrix U·diag(s)·Vᵀ with orthonormal U, V (from Householder) and given s. */
function withSingularValues(n: number, m: number, s: number[]): tf.Tensor2D {
  const k = s.length;
  const rand = (rows: number, seed: number) =>
    Float64Array.from(tf.tidy(() => tf.randomNormal([rows, k], 0, 1, "float32", seed).dataSync()));
  const u = tf.tensor2d(Float32Array.from(householderQ(rand(n, 1), n, k, 0)), [n, k]);
  const v = tf.tensor2d(Float32Array.from(householderQ(rand(m, 2), m, k, 0)), [m, k]);
  const out = tf.tidy(() => u.mul(tf.tensor1d(s)).matMul(v, false, true) as tf.Tensor2D);
  tf.dispose([u, v]);
  return out;
}

Deno.test("warm Q converges to the best rank-r approximation (power iteration); fixed Q does not", () => {
  const s = [10, 8, 3, 2.5, 2, 1];
  const g = withSingularValues(40, 30, s);
  const best = Math.sqrt(3 ** 2 + 2.5 ** 2 + 2 ** 2 + 1); // ‖G − G_2‖_F = 4.5
  const residual = (mode: QMode) => {
    const psgd = new PowerSGD({ rank: 2, workers: 1, q: mode, errorFeedback: false });
    let err = 0;
    for (let t = 0; t < 30; t++) {
      const [out] = psgd.step([[g]]);
      err = tf.tidy(() => g.sub(out).norm().dataSync()[0]);
      out.dispose();
    }
    psgd.dispose();
    return err;
  };
  const warm = residual("warm");
  const fixed = residual("fixed");
  assert.ok(Math.abs(warm - best) < 1e-3 * best, `warm ${warm} vs optimum ${best}`);
  assert.ok(fixed > best * 1.05, `fixed ${fixed} should stay above the optimum ${best}`);
  g.dispose();
});

Deno.test("same seed gives identical outputs; another seed, or fresh Q, gives different ones", () => {
  const grads = [[tf.randomNormal([32, 24], 0, 1, "float32", 9)]];
  const run = (config: Partial<PowerSgdConfig>) => {
    const psgd = new PowerSGD({ rank: 2, workers: 1, ...config });
    const outs = [0, 1].map(() => psgd.step(grads)[0]);
    const values = outs.map((o) => Array.from(o.dataSync()));
    tf.dispose(outs);
    psgd.dispose();
    return values;
  };
  assert.deepEqual(run({ seed: 1 }), run({ seed: 1 }));
  assert.notDeepEqual(run({ seed: 1 })[0], run({ seed: 2 })[0]);
  // The first step is the same for every Q mode; the second differs between fixed and fresh.
  const [fixed, fresh] = [run({ q: "fixed" }), run({ q: "fresh" })];
  assert.deepEqual(fixed[0], fresh[0]);
  assert.notDeepEqual(fixed[1], fresh[1]);
  tf.dispose(grads.flat());
});

Deno.test("16-bit communication: sent values are float16 (half the bytes), results stay within fp16 precision", () => {
  const f16round = (Math as unknown as { f16round: (x: number) => number }).f16round;
  const grads = [0, 1, 2, 3].map((w) => [
    tf.randomNormal([40, 32], 0, 1, "float32", w),
    tf.randomNormal([32], 0, 1, "float32", 10 + w),
  ]);
  const exact = new PowerSGD({ rank: 4, workers: 4 });
  const half = new PowerSGD({ rank: 4, workers: 4, communication: "float16" });
  const a = exact.step(grads);
  const b = half.step(grads);
  // The uncompressed bias: each worker sends its g/4 as IEEE halves, the sum is float32.
  const sent = grads.map((g) => Array.from(g[1].dataSync(), (v) => f16round(v / 4)));
  b[1].dataSync().forEach((v, k) =>
    assert.equal(v, sent.reduce((acc, values) => Math.fround(acc + values[k]), 0))
  );
  // Real halves: exactly half the bytes, the same elements.
  const [s32, s16] = [exact.stats(), half.stats()];
  assert.equal(s16.elementsSent, s32.elementsSent);
  assert.equal(s16.bytesSent * 2, s32.bytesSent);
  assert.equal(s32.bytesSent, 4 * s32.elementsSent);
  const rel = maxAbsDiff(a[0], b[0]) / maxAbs(a[0]);
  assert.ok(rel > 0 && rel < 1e-2, `float16 communication changed the matrix by ${rel}`);
  tf.dispose([...a, ...b, ...grads.flat()]);
  exact.dispose();
  half.dispose();
});

Deno.test("leak-free: numTensors flat across steps for every variant; dispose frees the state", () => {
  const shapes = [[32, 24], [3, 3, 4, 8], [24]];
  const variants: Partial<PowerSgdConfig>[] = [
    { q: "warm" },
    { q: "fixed", orthogonalize: "householder" },
    { q: "fresh", errorFeedback: false },
    { communication: "1-6-9", errorPrecision: "float16" },
  ];
  const grads = [0, 1].map((w) => shapes.map((s) => tf.randomNormal(s, 0, 1, "float32", w)));
  for (const variant of variants) {
    const start = tf.memory().numTensors;
    const psgd = new PowerSGD({ rank: 2, workers: 2, ...variant });
    tf.dispose(psgd.step(grads));
    const afterFirst = tf.memory().numTensors;
    for (let t = 0; t < 3; t++) tf.dispose(psgd.step(grads));
    assert.equal(tf.memory().numTensors, afterFirst, JSON.stringify(variant));
    psgd.dispose();
    assert.equal(tf.memory().numTensors, start, JSON.stringify(variant));
  }
  tf.dispose(grads.flat());
});

Deno.test("bad configs and inputs are rejected with what was expected", () => {
  assert.throws(() => new PowerSGD({ rank: 0, workers: 1 }), RangeError);
  assert.throws(() => new PowerSGD({ rank: 2, workers: 1.5 }), RangeError);
  assert.throws(() => new PowerSGD({ rank: 2, workers: 1, q: "cold" as QMode }), RangeError);
  assert.throws(
    () => new PowerSGD({ rank: 2, workers: 1, communication: "bf16" as "float16" }),
    RangeError,
  );
  const psgd = new PowerSGD({ rank: 2, workers: 2 });
  const a = tf.zeros([8, 8]);
  const b = tf.zeros([8, 4]);
  assert.throws(() => psgd.step([[a]]), /expected gradients of 2 workers/);
  assert.throws(() => psgd.step([[a], [b]]), /worker 1 has shape|gradient 0 of worker 1/);
  tf.dispose(psgd.step([[a], [a]]));
  assert.throws(() => psgd.step([[b], [b]]), /shapes changed/);
  assert.throws(() => psgd.meanError(5), RangeError);
  tf.dispose([a, b]);
  psgd.dispose();
});
