import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { createPrior, heldOutLoss } from "./mod.ts";

await initBackend();

Deno.test("heldOutLoss: batch size does not change it, and it equals the loss's own means on one batch", () => {
  const prior = createPrior({
    textLen: 5,
    textVocab: 20,
    imageGrid: 2,
    imageVocab: 16,
    dModel: 16,
    layers: 2,
    heads: 2,
    countPadTargets: false,
    padId: 18,
  });
  // Captions with 4, 2 and 1 text targets: means over targets, not over rows.
  const text = new Int32Array([1, 2, 3, 4, 5, 1, 2, 3, 18, 18, 4, 5, 18, 18, 18]);
  const image = Int32Array.from({ length: 12 }, (_, i) => (i * 5) % 16);
  const before = tf.memory().numTensors;
  const whole = heldOutLoss(prior, text, image, 64);
  const byOne = heldOutLoss(prior, text, image, 1);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(whole.examples, 3);
  assert.ok(Math.abs(whole.imageBitsPerToken - byOne.imageBitsPerToken) < 1e-6);
  assert.ok(Math.abs(whole.textLossNats - byOne.textLossNats) < 1e-6);
  const [textLoss, imageLoss] = tf.tidy(() => {
    const out = prior.loss(tf.tensor2d(text, [3, 5], "int32"), tf.tensor2d(image, [3, 4], "int32"));
    return [out.textLoss.dataSync()[0], out.imageLoss.dataSync()[0]];
  });
  assert.ok(Math.abs(whole.textLossNats - textLoss) < 1e-5);
  assert.ok(Math.abs(whole.imageBitsPerToken - imageLoss / Math.LN2) < 1e-5);
  assert.throws(() => heldOutLoss(prior, text.slice(1), image), /N·5 text ids and N·4 image ids/);
  prior.dispose();
});
