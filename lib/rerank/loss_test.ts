import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { AdamW, valueAndGrads } from "../nn/mod.ts";
import {
  clampedScale,
  infoNce,
  infoNceTerms,
  LOGIT_SCALE_INIT,
  LOGIT_SCALE_MAX,
  nearMissTerms,
} from "./mod.ts";

await initBackend();

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

Deno.test("infoNce equals ln(B) for constant embeddings, at any scale", () => {
  const before = tf.memory().numTensors;
  for (const B of [2, 5, 16]) {
    const same = tf.tidy(() => tf.ones([B, 4]).div(2) as tf.Tensor2D); // unit rows
    for (const logScale of [0, LOGIT_SCALE_INIT, LOGIT_SCALE_MAX]) {
      const loss = infoNce(same, same, logScale);
      close(loss.dataSync()[0], Math.log(B), 1e-5, `B ${B}, log scale ${logScale}`);
      loss.dispose();
    }
    same.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("infoNce approaches 0 for well separated embeddings, and falls as the scale grows", () => {
  const B = 8;
  const basis = tf.eye(B) as tf.Tensor2D; // orthonormal: own pair cosine 1, the rest 0
  const losses = [0, 0.5, 1, 1.5, 2, LOGIT_SCALE_MAX].map((s) => {
    const loss = infoNce(basis, basis, s);
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  });
  for (let i = 1; i < losses.length - 1; i++) assert.ok(losses[i] < losses[i - 1], `${losses}`);
  // At scale 100: −log(e^100 / (e^100 + 7)) ≈ 7e^−100.
  assert.ok(losses.at(-1)! < 1e-6, `${losses.at(-1)}`);
  basis.dispose();
});

Deno.test("infoNceTerms: each pair's half of the row and column cross-entropies", () => {
  const B = 5, D = 3;
  const [text, image] = [11, 12].map((seed) =>
    tf.tidy(() => {
      const x = tf.randomNormal([B, D], 0, 1, "float32", seed);
      return x.div(x.norm("euclidean", 1, true)) as tf.Tensor2D;
    })
  );
  const logScale = 1.3;
  const terms = infoNceTerms(text, image, logScale);
  const t = text.arraySync(), v = image.arraySync();
  const s = Math.exp(logScale);
  const logit = (i: number, j: number) => s * t[i].reduce((sum, x, k) => sum + x * v[j][k], 0);
  const lse = (xs: number[]) => {
    const m = Math.max(...xs);
    return m + Math.log(xs.reduce((sum, x) => sum + Math.exp(x - m), 0));
  };
  const got = Array.from(terms.dataSync());
  for (let i = 0; i < B; i++) {
    const row = lse(Array.from({ length: B }, (_, j) => logit(i, j))) - logit(i, i);
    const column = lse(Array.from({ length: B }, (_, j) => logit(j, i))) - logit(i, i);
    close(got[i], (row + column) / 2, 1e-5, `pair ${i}`);
  }
  const mean = infoNce(text, image, logScale);
  close(mean.dataSync()[0], got.reduce((a, b) => a + b, 0) / B, 1e-6, "mean");
  tf.dispose([text, image, terms, mean]);
  const wrong = tf.zeros([3, 4]) as tf.Tensor2D, other = tf.zeros([2, 4]) as tf.Tensor2D;
  assert.throws(() => infoNce(wrong, other, 0), /same \(B, D\) shape, got \[3,4\] and \[2,4\]/);
  tf.dispose([wrong, other]);
});

Deno.test("the clamp holds: a log scale set above ln 100, or pushed past it by AdamW, is used as ln 100", () => {
  const scale = clampedScale(10);
  close(scale.dataSync()[0], 100, 1e-3, "exp(min(10, ln 100))");
  scale.dispose();
  const B = 6;
  const basis = tf.eye(B) as tf.Tensor2D;
  const atClamp = infoNce(basis, basis, LOGIT_SCALE_MAX);
  const above = infoNce(basis, basis, 10);
  assert.equal(above.dataSync()[0], atClamp.dataSync()[0]);
  tf.dispose([atClamp, above]);

  // Pairs a little apart (own cosine 0.04 above the rest): at scale 100 the softmax is not yet
  // saturated and a larger scale lowers the loss, so training pushes the scale up.
  const halfway = tf.tidy(() => tf.eye(B).add(10).div(Math.sqrt(1 + 20 + B * 100))) as tf.Tensor2D;
  const logScale = tf.variable(tf.scalar(LOGIT_SCALE_MAX - 0.05));
  const optimizer = new AdamW({ lr: 0.2 });
  const gradients: number[] = [];
  for (let step = 0; step < 3; step++) {
    const { loss, grads } = valueAndGrads(
      [logScale],
      () => infoNce(halfway, basis, logScale as tf.Scalar),
    );
    gradients.push(grads[0].dataSync()[0]);
    optimizer.step([logScale], grads);
    tf.dispose([loss, ...grads]);
  }
  assert.ok(gradients[0] < 0, `the first step must push the scale up: ${gradients}`);
  const pushed = logScale.dataSync()[0];
  assert.ok(pushed > LOGIT_SCALE_MAX, `AdamW should have overshot ln 100, got ${pushed}`);
  assert.ok(
    gradients[2] === 0,
    `above the clamp the loss does not depend on the scale: ${gradients}`,
  );
  const used = infoNce(halfway, basis, logScale as tf.Scalar);
  const clamped = infoNce(halfway, basis, LOGIT_SCALE_MAX);
  assert.equal(used.dataSync()[0], clamped.dataSync()[0]);
  tf.dispose([used, clamped, halfway, basis, logScale]);
  optimizer.dispose();
});

/** Random unit rows of shape `shape` (the last axis normalised). */
function unitRows(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.randomNormal(shape, 0, 1, "float32", seed);
    return x.div(x.norm("euclidean", -1, true));
  });
}

/** log Σ exp, stably. */
function lse(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((sum, x) => sum + Math.exp(x - m), 0));
}

Deno.test("nearMissTerms: each image's cross-entropy over the batch's captions and its own near misses, computed directly", () => {
  const before = tf.memory().numTensors;
  const B = 4, K = 3, D = 5, logScale = 1.7;
  const text = unitRows([B, D], 21) as tf.Tensor2D;
  const image = unitRows([B, D], 22) as tf.Tensor2D;
  const near = unitRows([B, K, D], 23) as tf.Tensor3D;
  const terms = nearMissTerms(text, image, near, logScale);
  const t = text.arraySync(), v = image.arraySync(), n = near.arraySync();
  const s = Math.exp(logScale);
  const dot = (a: number[], b: number[]) => a.reduce((sum, x, k) => sum + x * b[k], 0);
  const got = Array.from(terms.dataSync());
  for (let i = 0; i < B; i++) {
    // Image i's logits: every caption of the batch, then only its own K near misses.
    const logits = [...t.map((tj) => s * dot(tj, v[i])), ...n[i].map((nk) => s * dot(nk, v[i]))];
    close(got[i], lse(logits) - s * dot(t[i], v[i]), 1e-5, `image ${i}`);
  }
  // Constant embeddings: chance over B + K captions, at any scale.
  const same = tf.tidy(() => tf.ones([B, D]).div(Math.sqrt(D))) as tf.Tensor2D;
  const sameNear = tf.tidy(() => tf.ones([B, K, D]).div(Math.sqrt(D))) as tf.Tensor3D;
  for (const scale of [0, LOGIT_SCALE_INIT, 10]) {
    const chance = nearMissTerms(same, same, sameNear, scale);
    for (const x of chance.dataSync()) close(x, Math.log(B + K), 1e-5, `scale ${scale}`);
    chance.dispose();
  }
  const wrong = tf.zeros([B + 1, K, D]) as tf.Tensor3D;
  assert.throws(
    () => nearMissTerms(text, image, wrong, 0),
    /near misses \(B, K, D\), got \[4,5\], \[4,5\] and \[5,3,5\]/,
  );
  tf.dispose([text, image, near, terms, same, sameNear, wrong]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("infoNce + w · nearMissTerms: autodiff gradients match central finite differences (embeddings and log scale)", () => {
  const before = tf.memory().numTensors;
  const B = 3, K = 2, D = 4, w = 0.7;
  const initial = [unitRows([B, D], 31), unitRows([B, D], 32), unitRows([B, K, D], 33)];
  initial.push(tf.scalar(1.1));
  const vars = ["fd_text", "fd_image", "fd_near", "fd_logScale"].map((name, i) =>
    tf.variable(initial[i], true, name)
  );
  const loss = () =>
    tf.tidy(() => {
      const [text, image, near, logScale] = vars;
      const pairs = infoNceTerms(text as tf.Tensor2D, image as tf.Tensor2D, logScale as tf.Scalar);
      const extra = nearMissTerms(
        text as tf.Tensor2D,
        image as tf.Tensor2D,
        near as tf.Tensor3D,
        logScale as tf.Scalar,
      );
      return pairs.add(extra.mul(w)).mean() as tf.Scalar;
    });
  const { loss: value, grads } = valueAndGrads(vars, loss);
  const eps = 1e-2;
  let checked = 0;
  vars.forEach((variable, v) => {
    const base = variable.dataSync().slice();
    const analytic = grads[v].dataSync();
    for (let k = 0; k < base.length; k++) {
      const at = (x: number) => {
        const moved = base.slice();
        moved[k] = x;
        tf.tidy(() => variable.assign(tf.tensor(moved, variable.shape)));
        const l = loss();
        const out = l.dataSync()[0];
        l.dispose();
        return out;
      };
      const numeric = (at(base[k] + eps) - at(base[k] - eps)) / (2 * eps);
      tf.tidy(() => variable.assign(tf.tensor(base, variable.shape)));
      close(analytic[k], numeric, 2e-3 + 2e-2 * Math.abs(numeric), `${variable.name}[${k}]`);
      checked++;
    }
  });
  assert.equal(checked, B * D * 2 + B * K * D + 1);
  const largest = tf.tidy(() => grads[2].abs().max().dataSync()[0]);
  assert.ok(largest > 1e-3, `the near misses get a gradient: ${largest}`);
  tf.dispose([value, ...grads, ...vars, ...initial]);
  assert.equal(tf.memory().numTensors, before);
});
