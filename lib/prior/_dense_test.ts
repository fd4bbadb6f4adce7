import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { Linear } from "../nn/mod.ts";
import { batchMatMul, dense, denseWith } from "./_dense.ts";

await initBackend("wasm");

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

Deno.test("dense: same value and gradients as Linear.apply (tfjs's own matMul gradient)", () => {
  const layer = new Linear(6, 5, { seed: 1 });
  const x = tf.randomNormal([2, 3, 6], 0, 1, "float32", 2);
  const up = tf.randomNormal([2, 3, 5], 0, 1, "float32", 3); // a random upstream gradient
  const [w, b] = [layer.weight, layer.bias!];
  const ours = tf.grads((xx, ww, bb) => denseWith(ww as tf.Tensor2D, bb, xx).mul(up).sum())([
    x,
    w,
    b,
  ]);
  const theirs = tf.grads((xx, ww, bb) =>
    tf.matMul(xx.reshape([6, 6]), ww).add(bb).reshape([2, 3, 5]).mul(up).sum()
  )([x, w, b]);
  ours.forEach((g, i) => assert.ok(maxAbsDiff(g, theirs[i]) < 1e-5, `gradient ${i}`));
  const y1 = dense(layer, x), y2 = layer.apply(x);
  assert.ok(maxAbsDiff(y1, y2) < 1e-5);
  tf.dispose([x, up, y1, y2, ...ours, ...theirs]);
  layer.dispose();
});

Deno.test("batchMatMul (grouped convolution): same value and gradients as tf.matMul", () => {
  const a = tf.randomNormal([2, 3, 5, 4], 0, 1, "float32", 4);
  const b = tf.randomNormal([2, 3, 4, 7], 0, 1, "float32", 5);
  const up = tf.randomNormal([2, 3, 5, 7], 0, 1, "float32", 6);
  const before = tf.memory().numTensors;
  const ours = tf.grads((x, y) => batchMatMul(x, y).mul(up).sum())([a, b]);
  const theirs = tf.grads((x, y) => tf.matMul(x, y).mul(up).sum())([a, b]);
  ours.forEach((g, i) => assert.ok(maxAbsDiff(g, theirs[i]) < 1e-5, `gradient ${i}`));
  const y1 = batchMatMul(a, b), y2 = tf.matMul(a, b);
  assert.deepEqual(y1.shape, [2, 3, 5, 7]);
  assert.ok(maxAbsDiff(y1, y2) < 1e-5);
  tf.dispose([...ours, ...theirs, y1, y2]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, b, up]);
});
