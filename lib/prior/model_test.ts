import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { causalMask, columnMask, convMask, rowMask } from "../masks/mod.ts";
import { createPrior, type PriorConfig, type PriorLayerMask, resolvePriorConfig } from "./mod.ts";

await initBackend();

const T = 4, n = 4, L = T + n * n;
const TINY: PriorConfig = {
  textLen: T,
  textVocab: 24,
  imageGrid: n,
  imageVocab: 16,
  dModel: 16,
  layers: 5,
  heads: 2,
  convKernel: 3,
  seed: 3,
};
const PAD = 22; // textVocab − 2

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function tokens(rows: number, width: number, vocab: number, seed: number): Int32Array {
  const out = new Int32Array(rows * width);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s % vocab;
  }
  return out;
}

Deno.test("config: paper schedule, dense, explicit kinds, and errors that say what came", () => {
  assert.deepEqual(resolvePriorConfig(TINY).masks, ["row", "column", "row", "row", "conv"]);
  assert.deepEqual(resolvePriorConfig({ ...TINY, masks: "dense" }).masks, Array(5).fill("dense"));
  assert.equal(resolvePriorConfig(TINY).padId, PAD);
  assert.throws(() => resolvePriorConfig({ ...TINY, heads: 3 }), /heads \(3\) must divide dModel/);
  assert.throws(() => resolvePriorConfig({ ...TINY, masks: ["row"] }), /must name 5 layers, got 1/);
  assert.throws(
    () =>
      resolvePriorConfig({
        ...TINY,
        masks: ["row", "row", "row", "row", "diag" as PriorLayerMask],
      }),
    TypeError,
  );
  assert.throws(() => resolvePriorConfig({ ...TINY, convKernel: 4 }), /odd integer/);
  assert.throws(() => createPrior({ ...TINY, textLen: 1 }), /textLen must be ≥ 2/);
});

Deno.test("column layers on transposed image states equal the plain column mask (1e-5)", () => {
  const transposed = createPrior({ ...TINY, columnAttention: "transposed" });
  const plain = createPrior({ ...TINY, columnAttention: "plain" });
  const B = 3;
  const text = tf.tensor2d(tokens(B, T, 22, 1), [B, T], "int32");
  const image = tf.tensor2d(tokens(B, n * n, 16, 2), [B, n * n], "int32");
  const a = transposed.forward(text, image);
  const b = plain.forward(text, image);
  assert.ok(maxAbsDiff(a.imageLogits.dataSync(), b.imageLogits.dataSync()) < 1e-5);
  assert.ok(maxAbsDiff(a.textLogits.dataSync(), b.textLogits.dataSync()) < 1e-5);
  tf.dispose([text, image, a.imageLogits, a.textLogits, b.imageLogits, b.textLogits]);
  transposed.dispose();
  plain.dispose();
});

// Leak test: with one layer, position q's output depends on position j only through attention,
// so changing every token the mask forbids q to see must leave q's logits exactly as they were,
// and changing one allowed earlier token must move them (so the test can fail).
const LEAK_MASKS: [PriorLayerMask, Uint8Array][] = [
  ["row", rowMask(T, n)],
  ["column", columnMask(T, n)],
  ["conv", convMask(T, n, 3)],
  ["dense", causalMask(T, n)],
];
for (const [kind, mask] of LEAK_MASKS) {
  Deno.test(`leak test (${kind}): perturbing forbidden keys leaves a query's output unchanged`, () => {
    const prior = createPrior({ ...TINY, layers: 1, masks: [kind], seed: 11 });
    const queries = L - 1; // the last position predicts nothing, so it has no logits
    const baseText = tokens(1, T, 20, 5), baseImage = tokens(1, n * n, 16, 6);
    // Row 0: the stream as it is. Row 1 + q: q's forbidden keys changed. Row L + q: one allowed
    // key before q changed (the nearest one), where q has one.
    const B = 1 + 2 * queries;
    const text = new Int32Array(B * T), image = new Int32Array(B * n * n);
    for (let r = 0; r < B; r++) {
      text.set(baseText, r * T);
      image.set(baseImage, r * n * n);
    }
    const perturb = (row: number, pos: number) => {
      if (pos < T) text[row * T + pos] = (text[row * T + pos] + 7) % 20; // never the pad id
      else image[row * n * n + pos - T] = (image[row * n * n + pos - T] + 5) % 16;
    };
    const allowedBefore: number[] = [];
    for (let q = 0; q < queries; q++) {
      for (let j = 0; j < L; j++) if (mask[q * L + j] === 0) perturb(1 + q, j);
      let j = q - 1;
      while (j >= 0 && mask[q * L + j] === 0) j--;
      allowedBefore.push(j);
      if (j >= 0) perturb(1 + queries + q, j);
    }
    const textT = tf.tensor2d(text, [B, T], "int32");
    const imageT = tf.tensor2d(image, [B, n * n], "int32");
    const { textLogits, imageLogits } = prior.forward(textT, imageT);
    const tl = textLogits.arraySync(), il = imageLogits.arraySync();
    const outputAt = (row: number, q: number) => (q < T - 1 ? tl[row][q] : il[row][q - (T - 1)]);
    let moved = 0;
    for (let q = 0; q < queries; q++) {
      const base = outputAt(0, q);
      const diff = maxAbsDiff(outputAt(1 + q, q), base);
      assert.ok(diff < 1e-6, `${kind}: query ${q} changed by ${diff} when forbidden keys moved`);
      if (allowedBefore[q] >= 0) {
        const allowedDiff = maxAbsDiff(outputAt(1 + queries + q, q), base);
        assert.ok(
          allowedDiff > 1e-5,
          `${kind}: query ${q} ignored allowed key ${allowedBefore[q]}`,
        );
        moved++;
      }
    }
    assert.ok(moved > 10);
    tf.dispose([textT, imageT, textLogits, imageLogits]);
    prior.dispose();
  });
}

Deno.test("pad embeddings differ per position and replace the pad token's embedding", () => {
  const prior = createPrior(TINY);
  const allPad = tf.tensor2d(new Int32Array(T).fill(PAD), [1, T], "int32");
  const emb = prior.embedText(allPad);
  const rows = emb.arraySync()[0];
  const expected = tf.tidy(() => prior.padEmbedding.add(prior.textPosition))
    .arraySync() as number[][];
  for (let t = 0; t < T; t++) {
    assert.ok(maxAbsDiff(rows[t], expected[t]) < 1e-6);
    for (let u = 0; u < t; u++) {
      assert.ok(maxAbsDiff(rows[t], rows[u]) > 1e-3, `pad at ${t} equals pad at ${u}`);
    }
  }
  // Without the pad position terms, position t's pad vector still differs from position u's.
  const pads = prior.padEmbedding.arraySync() as number[][];
  for (let t = 1; t < T; t++) assert.ok(maxAbsDiff(pads[t], pads[0]) > 1e-3);
  // The text-token table's row for the pad id is never read.
  const before = emb.dataSync().slice();
  prior.textEmbedding.weight.assign(
    tf.tidy(() =>
      prior.textEmbedding.weight.add(tf.oneHot([PAD], TINY.textVocab).transpose().mul(5))
    ),
  );
  const after = prior.embedText(allPad);
  assert.equal(maxAbsDiff(after.dataSync(), before), 0);
  tf.dispose([allPad, emb, after]);
  prior.dispose();
});

function logSoftmaxRow(row: number[]): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return row.map((v) => v - lse);
}

Deno.test("loss: text and image parts each averaged over their own targets, weighted 1/8 and 7/8", () => {
  const B = 3;
  const text = tokens(B, T, 20, 9);
  text[1 * T + 2] = PAD; // row 1 ends after two tokens, row 2 after one
  text[1 * T + 3] = PAD;
  text.fill(PAD, 2 * T + 1, 3 * T);
  const image = tokens(B, n * n, 16, 10);
  const textT = tf.tensor2d(text, [B, T], "int32");
  const imageT = tf.tensor2d(image, [B, n * n], "int32");
  for (const countPadTargets of [true, false]) {
    const prior = createPrior({ ...TINY, countPadTargets });
    const { textLogits, imageLogits } = prior.forward(textT, imageT);
    const tl = textLogits.arraySync(), il = imageLogits.arraySync();
    let textSum = 0, textCount = 0, imageSum = 0, imageCount = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T - 1; t++) {
        const target = text[b * T + t + 1];
        if (!countPadTargets && target === PAD) continue;
        textSum -= logSoftmaxRow(tl[b][t])[target];
        textCount++;
      }
      for (let a = 0; a < n * n; a++) {
        imageSum -= logSoftmaxRow(il[b][a])[image[b * n * n + a]];
        imageCount++;
      }
    }
    assert.equal(textCount, countPadTargets ? B * (T - 1) : 3 + 1 + 0);
    const textLoss = textSum / textCount, imageLoss = imageSum / imageCount;
    const out = prior.loss(textT, imageT);
    const close = (a: number, b: number) => Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b));
    assert.ok(close(out.textLoss.dataSync()[0], textLoss));
    assert.ok(close(out.imageLoss.dataSync()[0], imageLoss));
    assert.ok(close(out.loss.dataSync()[0], textLoss / 8 + (7 * imageLoss) / 8));
    tf.dispose([textLogits, imageLogits, out.loss, out.textLoss, out.imageLoss]);
    prior.dispose();
  }
  // Other weights are used as given.
  const textOnly = createPrior({ ...TINY, lossWeights: { text: 1, image: 0 } });
  const out = textOnly.loss(textT, imageT);
  assert.equal(out.loss.dataSync()[0], out.textLoss.dataSync()[0]);
  tf.dispose([out.loss, out.textLoss, out.imageLoss, textT, imageT]);
  textOnly.dispose();
});

Deno.test("forward and loss leak no tensors; bad inputs are rejected with what came", () => {
  const prior = createPrior(TINY);
  const text = tf.tensor2d(tokens(2, T, 20, 1), [2, T], "int32");
  const image = tf.tensor2d(tokens(2, n * n, 16, 2), [2, n * n], "int32");
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const { loss, textLoss, imageLoss } = prior.loss(text, image, { training: true, seed: i });
    tf.dispose([loss, textLoss, imageLoss]);
  }
  assert.equal(tf.memory().numTensors, before);
  const floatText = tf.zeros([2, T]) as tf.Tensor2D;
  assert.throws(() => prior.forward(floatText, image), /text must be int32, got float32/);
  const shortImage = tf.zeros([2, 3], "int32") as tf.Tensor2D;
  assert.throws(
    () => prior.forward(text, shortImage),
    /image must have shape \[2,16\], got \[2,3\]/,
  );
  assert.equal(tf.memory().numTensors, before + 2);
  tf.dispose([text, image, floatText, shortImage]);
  prior.dispose();
});
