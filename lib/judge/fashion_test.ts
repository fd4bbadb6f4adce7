import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { loadFashionMnist, toRgb32 } from "../data/mod.ts";
import { createFashionClassifier, frechetDistance } from "./mod.ts";

await initBackend();

Deno.test("the shipped Fashion-MNIST classifier: ≥ 90% of the 10,000 test images, ~10% against shuffled labels", async () => {
  // An empty cache folder: the shipped weights, never a classifier trained on this machine.
  const cacheDir = await Deno.makeTempDir();
  const classifier = await createFashionClassifier({
    cacheDir,
    onProgress: (m) => assert.fail(`it trained instead of loading the shipped weights: ${m}`),
  });
  try {
    const test = await loadFashionMnist({ split: "test" });
    const reading = classifier.read(toRgb32(test.images));
    assert.deepEqual([reading.count, reading.dim], [10000, 128]);
    const right = (labels: ArrayLike<number>) =>
      reading.labels.filter((l, i) => l === labels[i]).length / reading.count;
    assert.ok(right(test.labels) >= 0.9, `accuracy ${right(test.labels)}`);
    // Negative control: the same reading against another image's label is at chance.
    const shifted = test.labels.map((_, i) => test.labels[(i + 1) % test.labels.length]);
    assert.ok(Math.abs(right(shifted) - 0.1) < 0.03, `shuffled: ${right(shifted)}`);

    // Its features: two halves of the test set lie close, noise lies far (the Fréchet floor).
    const half = 5000 * reading.dim;
    const a = { values: reading.features.subarray(0, half), count: 5000, dim: reading.dim };
    const b = { values: reading.features.subarray(half), count: 5000, dim: reading.dim };
    const floor = frechetDistance(a, b);
    const noise = tf.randomUniform([500, 32, 32, 3], 0, 1, "float32", 3) as tf.Tensor4D;
    const fromNoise = classifier.read(noise);
    noise.dispose();
    const far = frechetDistance(a, { values: fromNoise.features, count: 500, dim: reading.dim });
    assert.ok(floor * 20 < far, `real vs real ${floor}, real vs noise ${far}`);
    assert.throws(() => classifier.read(test.images), /reads 32×32×3 images .* 28×28×1/);
  } finally {
    classifier.dispose();
    await Deno.remove(cacheDir, { recursive: true });
  }
});
