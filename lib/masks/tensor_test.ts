import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  causalMask,
  columnMask,
  columnTransposedMask,
  convMask,
  rowMask,
  transposeImagePermutation,
} from "./masks.ts";
import { MASKED_LOGIT, maskTensor } from "./tensor.ts";

await initBackend();

Deno.test("maskTensor: float32 [L, L], 0 where allowed and −1e9 where forbidden", () => {
  const mask = rowMask(6, 4);
  const bias = maskTensor(mask);
  assert.deepEqual(bias.shape, [22, 22]);
  assert.equal(bias.dtype, "float32");
  const values = bias.dataSync();
  for (let i = 0; i < mask.length; i++) assert.equal(values[i], mask[i] ? 0 : MASKED_LOGIT);
  bias.dispose();
  const custom = maskTensor(causalMask(1, 1), { maskedLogit: -1e4 });
  assert.deepEqual(Array.from(custom.dataSync()), [0, -1e4, 0, 0]);
  custom.dispose();
});

Deno.test("maskTensor: masked keys get exactly zero attention, allowed keys sum to one", () => {
  const mask = convMask(6, 4, 3);
  const L = 22;
  const probs = tf.tidy(() => {
    const logits = tf.randomNormal([L, L], 0, 3, "float32", 7);
    return tf.softmax(tf.add(logits, maskTensor(mask)));
  });
  const p = probs.dataSync();
  probs.dispose();
  for (let i = 0; i < L; i++) {
    let sum = 0;
    for (let j = 0; j < L; j++) {
      if (!mask[i * L + j]) assert.equal(p[i * L + j], 0, `[${i}][${j}] leaked`);
      sum += p[i * L + j];
    }
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
  }
});

Deno.test("column attention on transposed states equals column attention on raster states", () => {
  const T = 5, n = 4, L = T + n * n, dim = 8;
  const perm = tf.tensor1d(transposeImagePermutation(T, n), "int32");
  const before = tf.memory().numTensors;
  const [direct, viaTranspose] = tf.tidy(() => {
    const q = tf.randomNormal([L, dim], 0, 1, "float32", 1);
    const k = tf.randomNormal([L, dim], 0, 1, "float32", 2);
    const v = tf.randomNormal([L, dim], 0, 1, "float32", 3);
    const attend = (qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor, mask: Uint8Array) =>
      tf.matMul(tf.softmax(tf.add(tf.matMul(qs, ks, false, true), maskTensor(mask))), vs);
    const direct = attend(q, k, v, columnMask(T, n));
    // Move states to transposed order (P is its own inverse, so one gather each way).
    const moved = [q, k, v].map((x) => tf.gather(x, perm));
    const out = attend(moved[0], moved[1], moved[2], columnTransposedMask(T, n));
    return [direct, tf.gather(out, perm)];
  });
  const a = direct.dataSync(), b = viaTranspose.dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `entry ${i}`);
  tf.dispose([direct, viaTranspose]);
  assert.equal(tf.memory().numTensors, before);
  perm.dispose();
});

Deno.test("maskTensor leaks nothing: one tensor per call, freed by dispose", () => {
  const mask = columnMask(3, 3);
  const before = tf.memory().numTensors;
  for (let rep = 0; rep < 5; rep++) {
    const bias = maskTensor(mask);
    assert.equal(tf.memory().numTensors, before + 1);
    bias.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("maskTensor rejects non-square, non-binary and non-Uint8Array masks", () => {
  const before = tf.memory().numTensors;
  assert.throws(() => maskTensor(new Uint8Array(5)), /perfect square/);
  assert.throws(() => maskTensor(Uint8Array.from([1, 0, 2, 1])), /0 or 1, got 2/);
  assert.throws(() => maskTensor([1, 0, 1, 1] as unknown as Uint8Array), TypeError);
  assert.throws(() => maskTensor(causalMask(1, 1), { maskedLogit: 0 }), RangeError);
  assert.equal(tf.memory().numTensors, before);
});
