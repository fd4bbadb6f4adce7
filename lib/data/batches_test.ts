import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { batches } from "./batches.ts";
import { type CaptionedImages, imageBatch } from "./image_batch.ts";

await initBackend();

/** 10 one-pixel grey images whose value is 10·index, captioned with their index. */
function tiny(count = 10): CaptionedImages {
  return {
    images: imageBatch(Uint8Array.from({ length: count }, (_, i) => 10 * i), {
      count,
      height: 1,
      width: 1,
      channels: 1,
    }),
    captions: Array.from({ length: count }, (_, i) => `image ${i}`),
  };
}

Deno.test("batches: each epoch visits every image once, shuffled by the seed", () => {
  const seen: number[][] = [[], []];
  for (const b of batches(tiny(), { batchSize: 4, seed: 1, epochs: 2 })) {
    assert.deepEqual(b.images.shape, [b.indices.length, 1, 1, 1]);
    // pixels and captions belong to the indices reported
    assert.deepEqual(
      Array.from(b.images.dataSync()).map((v) => Math.round(v * 255)),
      b.indices.map((i) => 10 * i),
    );
    assert.deepEqual(b.captions, b.indices.map((i) => `image ${i}`));
    seen[b.epoch].push(...b.indices);
  }
  for (const order of seen) {
    assert.deepEqual([...order].sort((a, b) => a - b), [...Array(10).keys()]);
  }
  assert.notDeepEqual(seen[0], seen[1]); // reshuffled each epoch
  assert.notDeepEqual(seen[0], [...Array(10).keys()]);
  const again = [...batches(tiny(), { batchSize: 4, seed: 1 })].map((b) => b.indices).flat();
  assert.deepEqual(again, seen[0]);
  const other = [...batches(tiny(), { batchSize: 4, seed: 2 })].map((b) => b.indices).flat();
  assert.notDeepEqual(other, seen[0]);
});

Deno.test("batches: dropLast leaves out the short batch; shuffle false keeps order", () => {
  const sizes = [...batches(tiny(), { batchSize: 4, dropLast: true })].map((b) => b.indices.length);
  assert.deepEqual(sizes, [4, 4]);
  const kept = [...batches(tiny(), { batchSize: 4, shuffle: false })].map((b) => b.indices);
  assert.deepEqual(kept, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  assert.throws(
    () => [...batches(tiny(), { batchSize: 0 })],
    /batchSize must be a positive integer/,
  );
});

Deno.test("batches: the iterator disposes each batch on advance, at the end, and on break", () => {
  const before = tf.memory().numTensors;
  let previous: tf.Tensor | null = null;
  for (const b of batches(tiny(), { batchSize: 3, epochs: 3 })) {
    if (previous) assert.ok(previous.isDisposed, "previous batch freed when advancing");
    assert.ok(!b.images.isDisposed);
    previous = b.images;
    assert.equal(tf.memory().numTensors, before + 1);
  }
  assert.ok(previous?.isDisposed);
  assert.equal(tf.memory().numTensors, before);
  for (const b of batches(tiny(), { batchSize: 3 })) {
    previous = b.images;
    break;
  }
  assert.ok(previous?.isDisposed);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => {
    for (const _ of batches(tiny(), { batchSize: 3 })) throw new Error("consumer failed");
  }, /consumer failed/);
  assert.equal(tf.memory().numTensors, before);
});
