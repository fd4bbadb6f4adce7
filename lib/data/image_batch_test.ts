import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  concatImages,
  imageAt,
  imageBatch,
  imagesToTensor,
  padImages,
  resizeImages,
  selectImages,
  tensorToImages,
  toRgb,
  toRgb32,
} from "./image_batch.ts";

await initBackend();

const ramp = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

Deno.test("image batch: shapes are checked against the data length", () => {
  assert.throws(
    () => imageBatch(new Uint8Array(10), { count: 1, height: 2, width: 2, channels: 3 }),
    /10 bytes, expected 1×2×2×3 = 12/,
  );
  assert.throws(
    () => imageBatch(new Uint8Array(8), { count: 2, height: 2, width: 1, channels: 2 as 1 }),
    /1 or 3/,
  );
});

Deno.test("image batch: toRgb32 pads 28×28 grey with a 2-pixel black border and copies to RGB", () => {
  const grey = imageBatch(ramp(2 * 28 * 28).map((v) => v + 1), {
    count: 2,
    height: 28,
    width: 28,
    channels: 1,
  });
  const rgb = toRgb32(grey);
  assert.deepEqual([rgb.count, rgb.height, rgb.width, rgb.channels], [2, 32, 32, 3]);
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        const want = inside ? grey.data[(n * 28 + y - 2) * 28 + x - 2] : 0;
        const i = ((n * 32 + y) * 32 + x) * 3;
        assert.deepEqual([rgb.data[i], rgb.data[i + 1], rgb.data[i + 2]], [want, want, want]);
      }
    }
  }
  const already = imageBatch(ramp(32 * 32 * 3), { count: 1, height: 32, width: 32, channels: 3 });
  assert.equal(toRgb32(already), already);
  assert.throws(
    () =>
      toRgb32(
        imageBatch(new Uint8Array(30 * 30), { count: 1, height: 30, width: 30, channels: 1 }),
      ),
    /resizeImages/,
  );
});

Deno.test("image batch: select, concat, view and pad keep pixels where they belong", () => {
  const b = imageBatch(ramp(3 * 2 * 2 * 3), { count: 3, height: 2, width: 2, channels: 3 });
  assert.deepEqual(imageAt(b, 2).data, b.data.subarray(24, 36));
  const picked = selectImages(b, [2, 0, 2]);
  assert.deepEqual(picked.data.subarray(0, 12), b.data.subarray(24, 36));
  assert.deepEqual(picked.data.subarray(12, 24), b.data.subarray(0, 12));
  assert.deepEqual(concatImages([imageAt(b, 0), imageAt(b, 1), imageAt(b, 2)]).data, b.data);
  assert.throws(() => imageAt(b, 3), /\[0, 3\), got 3/);
  const one = imageBatch(Uint8Array.of(9), { count: 1, height: 1, width: 1, channels: 1 });
  assert.deepEqual(Array.from(padImages(one, 1, 5).data), [5, 5, 5, 5, 9, 5, 5, 5, 5]);
  assert.deepEqual(Array.from(toRgb(one).data), [9, 9, 9]);
});

Deno.test("image batch: bytes → float tensor → bytes is exact and leak-free", () => {
  const b = imageBatch(ramp(4 * 5 * 6 * 3), { count: 4, height: 5, width: 6, channels: 3 });
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    const t = imagesToTensor(b, [3, 1]);
    assert.deepEqual(t.shape, [2, 5, 6, 3]);
    const values = t.dataSync();
    assert.ok(values.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(tensorToImages(t).data, selectImages(b, [3, 1]).data);
    t.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("image batch: resizing a flat image keeps its colour", async () => {
  const flat = imageBatch(new Uint8Array(2 * 8 * 8 * 3).fill(77), {
    count: 2,
    height: 8,
    width: 8,
    channels: 3,
  });
  const small = await resizeImages(flat, 4);
  assert.deepEqual([small.count, small.height, small.width, small.channels], [2, 4, 4, 3]);
  assert.ok(small.data.every((v) => v === 77));
});
