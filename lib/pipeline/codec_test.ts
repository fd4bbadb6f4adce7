import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { captionRows, imageTokens, tokensToImages } from "./mod.ts";

await initBackend();

// A codec whose tokens are 2×2-pixel cells' grey levels quantised to 16 steps: decode(encode(x))
// is x up to quantisation, so chunking and ordering mistakes show up as wrong pixels.
const codec = {
  encode: (x: tf.Tensor4D) =>
    tf.tidy(() =>
      tf.avgPool(x.mean(3, true) as tf.Tensor4D, 2, 2, "valid").squeeze([3]).mul(15).round().cast(
        "int32",
      )
    ) as tf.Tensor3D,
  decode: (t: tf.Tensor3D) =>
    tf.tidy(() => {
      const grey = t.cast("float32").div(15).expandDims(3) as tf.Tensor4D; // (B, n, n, 1)
      const [B, n] = grey.shape;
      return tf.image.resizeNearestNeighbor(grey, [2 * n, 2 * n]).tile([1, 1, 1, 3]).reshape([
        B,
        2 * n,
        2 * n,
        3,
      ]);
    }) as tf.Tensor4D,
};
const tokenizer = {
  encodeBatch: (texts: readonly string[], o: { textLen?: number }) => {
    const L = o.textLen!;
    const ids = new Int32Array(texts.length * L).fill(22); // pad
    texts.forEach((t, i) =>
      [...t].slice(0, L).forEach((ch, j) => (ids[i * L + j] = ch.charCodeAt(0) % 20))
    );
    return { ids, lengths: new Int32Array(texts.map((t) => Math.min(t.length, L))) };
  },
};

Deno.test("imageTokens: chunked encoding equals one pass; tokensToImages inverts it", () => {
  const levels = tf.tidy(() =>
    tf.randomUniform([5, 4, 4, 1], 0, 16, "int32", 3).cast("float32").div(15)
  );
  const images = tf.tidy(() =>
    tf.image.resizeNearestNeighbor(levels as tf.Tensor4D, [8, 8]).tile([1, 1, 1, 3])
  ) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const whole = imageTokens(codec, images, 256);
  const chunked = imageTokens(codec, images, 2);
  assert.equal(whole.length, 5 * 16);
  assert.deepEqual(chunked, whole);
  assert.deepEqual(whole, Int32Array.from(levels.dataSync(), (v) => Math.round(v * 15)));
  const back = tokensToImages(codec, whole, 4);
  assert.ok(tf.tidy(() => back.sub(images).abs().max().dataSync()[0]) < 1e-6);
  back.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => tokensToImages(codec, new Int32Array(15), 4), /B·16 ids, got 15/);
  tf.dispose([levels, images]);
});

Deno.test("captionRows: fixed-length rows of ids, truncated or padded", () => {
  const rows = captionRows(tokenizer, ["ab", "cdefg"], 4);
  assert.deepEqual(rows.map((r) => Array.from(r)), [[17, 18, 22, 22], [19, 0, 1, 2]]);
});
