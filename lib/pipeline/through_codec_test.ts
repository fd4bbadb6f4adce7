import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { throughCodec } from "./mod.ts";

await initBackend();

/** A codec that keeps each pixel's mean and gives back a grey image of it (a visible change). */
const GREY = {
  encode: (x: tf.Tensor4D) => x.mean(3).mul(255).round().toInt() as tf.Tensor3D,
  decode: (t: tf.Tensor3D) =>
    tf.tidy(() => t.toFloat().div(255).expandDims(3).tile([1, 1, 1, 3])) as tf.Tensor4D,
};

function batch(count: number) {
  const data = new Uint8Array(count * 2 * 2 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  return { data, count, height: 2, width: 2, channels: 3 as const };
}

Deno.test("throughCodec: the chosen share of rows is reconstructed, the rest copied untouched", () => {
  const images = batch(10);
  const before = tf.memory().numTensors;
  const { images: out, rows } = throughCodec(GREY, images, { fraction: 0.3, seed: 4, chunk: 2 });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows, [...rows].sort((a, b) => a - b));
  for (let r = 0; r < 10; r++) {
    const got = out.data.subarray(r * 12, (r + 1) * 12);
    const was = images.data.subarray(r * 12, (r + 1) * 12);
    if (!rows.includes(r)) {
      assert.deepEqual(got, was);
      continue;
    }
    for (let p = 0; p < 4; p++) {
      const mean = (was[3 * p] + was[3 * p + 1] + was[3 * p + 2]) / 3;
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[3 * p + c] - mean) <= 1);
    }
  }
  assert.notEqual(images.data, out.data); // a new buffer: the caller's images stay as they were
});

Deno.test("throughCodec: seeded rows; 0 and 1 replace none and all", () => {
  const images = batch(20);
  const a = throughCodec(GREY, images, { fraction: 0.5, seed: 1 }).rows;
  assert.deepEqual(throughCodec(GREY, images, { fraction: 0.5, seed: 1 }).rows, a);
  assert.notDeepEqual(throughCodec(GREY, images, { fraction: 0.5, seed: 2 }).rows, a);
  assert.equal(throughCodec(GREY, images, { fraction: 0 }).rows.length, 0);
  assert.equal(throughCodec(GREY, images, { fraction: 1 }).rows.length, 20);
});

Deno.test("throughCodec: a bad share, chunk or codec size is refused", () => {
  const images = batch(4);
  assert.throws(() => throughCodec(GREY, images, { fraction: 1.5 }), /fraction must be in/);
  assert.throws(() => throughCodec(GREY, images, { fraction: NaN }), /fraction must be in/);
  assert.throws(() => throughCodec(GREY, images, { fraction: 1, chunk: 0 }), /chunk must be/);
  const half = {
    encode: GREY.encode,
    decode: (t: tf.Tensor3D) => tf.zeros([t.shape[0], 1, 1, 3]) as tf.Tensor4D,
  };
  assert.throws(() => throughCodec(half, images, { fraction: 1 }), /gave back 1×1×3 images/);
});
