import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { PatchCodec } from "./mod.ts";

await initBackend();

/** Images (count, 8, 8, 3) tiled from `distinct` random 4×4 patches (a known codebook). */
function tiledImages(count: number, distinct: number, seed: number) {
  const patches = tf.tidy(() => tf.randomUniform([distinct, 48], 0, 1, "float32", seed));
  const ids = tf.tidy(() => tf.randomUniform([count, 2, 2], 0, distinct, "int32", seed + 1));
  const images = tf.tidy(() =>
    tf.depthToSpace(
      tf.gather(patches, ids.reshape([-1])).reshape([count, 2, 2, 48]) as tf.Tensor4D,
      4,
    )
  ) as tf.Tensor4D;
  return { patches, ids, images };
}

Deno.test("PatchCodec: images made of K distinct patches encode and decode exactly", () => {
  const { patches, ids, images } = tiledImages(20, 6, 1);
  const codec = PatchCodec.fit(images, { vocabSize: 6, iterations: 5, seed: 2 });
  const tokens = codec.encode(images);
  assert.deepEqual(tokens.shape, [20, 2, 2]);
  assert.equal(tokens.dtype, "int32");
  const back = codec.decode(tokens);
  assert.ok(tf.tidy(() => back.sub(images).abs().max().dataSync()[0]) < 1e-5);
  // Tokens are a relabelling of the patch ids: equal ids ⇔ equal tokens.
  const a = ids.dataSync(), b = tokens.dataSync();
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a.length; j++) assert.equal(a[i] === a[j], b[i] === b[j]);
  }
  tf.dispose([patches, ids, images, tokens, back]);
  codec.dispose();
});

Deno.test("PatchCodec: same seed, same codebook; save/load keeps it; no tensors leak", async () => {
  const images = tf.randomUniform([6, 8, 8, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const a = PatchCodec.fit(images, { vocabSize: 8, iterations: 3, seed: 4 });
  const b = PatchCodec.fit(images, { vocabSize: 8, iterations: 3, seed: 4 });
  assert.deepEqual(a.centroids.dataSync(), b.centroids.dataSync());
  const path = `${await Deno.makeTempDir()}/codec.safetensors`;
  await a.save(path);
  const c = await PatchCodec.load(path);
  assert.deepEqual(c.centroids.dataSync(), a.centroids.dataSync());
  assert.equal(c.patch, 4);
  const t = c.encode(images);
  t.dispose();
  [a, b, c].forEach((codec) => codec.dispose());
  assert.equal(tf.memory().numTensors, before);
  const odd = tf.zeros([1, 6, 6, 3]) as tf.Tensor4D;
  assert.throws(() => PatchCodec.fit(odd, { vocabSize: 8 }), /multiples of 4, got \[1,6,6,3\]/);
  assert.throws(() => PatchCodec.fit(images, { vocabSize: 100 }), /at least 100 patches/);
  tf.dispose([odd, images]);
  assert.equal(tf.memory().numTensors, before - 1);
});
