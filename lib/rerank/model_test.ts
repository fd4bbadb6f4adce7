import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { createReranker, LOGIT_SCALE_INIT, type RerankerConfig } from "./mod.ts";

await initBackend();

// Vocabulary of 40: pad 38, eot 39 (lib/tokenizer's layout).
const TINY: RerankerConfig = {
  textLen: 6,
  textVocab: 40,
  textWidth: 16,
  textLayers: 2,
  textHeads: 2,
  imageSize: 16,
  imageChannels: [8, 8],
  embedDim: 8,
  seed: 3,
};
const PAD = 38, EOT = 39;

const ids = (rows: number[][]) => tf.tensor2d(rows.flat(), [rows.length, rows[0].length], "int32");
const images = (n: number, seed: number, size = 16) =>
  tf.randomUniform([n, size, size, 3], 0, 1, "float32", seed) as tf.Tensor4D;

Deno.test("createReranker: defaults sized for the CPU, logit scale starts at 1/0.07", () => {
  const model = createReranker({ textLen: 12, textVocab: 300 });
  const c = model.config;
  assert.deepEqual(
    [c.textWidth, c.textLayers, c.textHeads, c.embedDim, c.imageChannels, c.padId],
    [64, 2, 4, 64, [32, 64, 128], 298],
  );
  assert.ok(Math.abs(model.logitScale.dataSync()[0] - LOGIT_SCALE_INIT) < 1e-6);
  assert.ok(Math.abs(model.scale() - 1 / 0.07) < 1e-3);
  model.dispose();
  assert.throws(() => createReranker({ ...TINY, textHeads: 3 }), /textHeads \(3\) must divide/);
  assert.throws(
    () => createReranker({ ...TINY, imageSize: 20, imageChannels: [8, 8, 8] }),
    /imageSize \(20\) must be divisible by 2\^3/,
  );
  assert.throws(() => createReranker({ ...TINY, padId: 40 }), /padId must be in \[0, 40\)/);
  assert.throws(() => createReranker({ ...TINY, imagePool: "max" as "mean" }), TypeError);
});

Deno.test("encodeText / encodeImages: unit rows of embedDim, each row independent of the batch", () => {
  const model = createReranker(TINY);
  const before = tf.memory().numTensors;
  const text = ids([[1, 2, 3, EOT, PAD, PAD], [4, 5, EOT, PAD, PAD, PAD], [
    7,
    EOT,
    PAD,
    PAD,
    PAD,
    PAD,
  ]]);
  const pics = images(3, 1);
  const t = model.encodeText(text), v = model.encodeImages(pics);
  assert.deepEqual(t.shape, [3, 8]);
  assert.deepEqual(v.shape, [3, 8]);
  const norms = tf.tidy(() => tf.concat([t.norm("euclidean", 1), v.norm("euclidean", 1)]));
  for (const n of norms.dataSync()) assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
  const one = tf.tidy(() => model.encodeText(text.slice([1, 0], [1, 6]) as tf.Tensor2D));
  const row = tf.tidy(() => t.slice([1, 0], [1, 8]));
  assert.ok(tf.tidy(() => one.sub(row).abs().max().dataSync()[0]) < 1e-5);
  tf.dispose([text, pics, t, v, norms, one, row]);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("encodeText reads the last real token: the pads after a caption never reach its embedding", () => {
  // The same weights at textLen 6 and 9 (the longer position table extends the shorter one):
  // a caption followed by 3 or by 6 pads must embed the same.
  const short = createReranker(TINY), long = createReranker({ ...TINY, textLen: 9 });
  const named = new Map(short.namedParameters());
  for (const [name, p] of long.namedParameters()) {
    const source = named.get(name)!;
    tf.tidy(() => {
      p.assign(
        name === "text.position.weight"
          ? tf.concat([source, tf.zeros([3, source.shape[1]!])])
          : source,
      );
    });
  }
  const a = ids([[5, 6, EOT, PAD, PAD, PAD]]);
  const b = ids([[5, 6, EOT, PAD, PAD, PAD, PAD, PAD, PAD]]);
  const c = ids([[5, 7, EOT, PAD, PAD, PAD]]);
  const [ea, eb, ec] = [short.encodeText(a), long.encodeText(b), short.encodeText(c)];
  const gap = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => x.sub(y).abs().max().dataSync()[0]);
  assert.ok(gap(ea, eb) < 1e-5, `pads changed the embedding by ${gap(ea, eb)}`);
  assert.ok(gap(ea, ec) > 1e-3, "a different token must change it");
  tf.dispose([a, b, c, ea, eb, ec]);
  short.dispose();
  long.dispose();
});

Deno.test("score is the (captions × images) cosine matrix; rerank returns the k best sorted by score", () => {
  const model = createReranker(TINY);
  const text = ids([[1, 2, EOT, PAD, PAD, PAD], [3, 4, 5, EOT, PAD, PAD]]);
  const pics = images(9, 2);
  const before = tf.memory().numTensors;
  const sims = model.score(text, pics);
  assert.deepEqual(sims.shape, [2, 9]);
  const expected = tf.tidy(() =>
    tf.matMul(model.encodeText(text), model.encodeImages(pics), false, true)
  );
  assert.ok(tf.tidy(() => sims.sub(expected).abs().max().dataSync()[0]) < 1e-6);
  const row1 = Array.from(sims.dataSync().slice(9, 18));
  tf.dispose([sims, expected]);

  const caption = Int32Array.from([3, 4, 5, EOT, PAD, PAD]);
  const { indices, scores } = model.rerank(caption, pics, 4);
  assert.equal(indices.length, 4);
  const sorted = row1.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]);
  assert.deepEqual(indices, sorted.slice(0, 4).map(([, i]) => i));
  for (let k = 0; k < 4; k++) {
    assert.ok(Math.abs(scores[k] - row1[indices[k]]) < 1e-6);
    if (k > 0) assert.ok(scores[k] <= scores[k - 1], `not descending: ${scores}`);
  }
  // All candidates, from a (1, textLen) tensor: a permutation of them, best first.
  const one = text.slice([1, 0], [1, 6]) as tf.Tensor2D;
  const all = model.rerank(one, pics, 9);
  assert.deepEqual([...all.indices].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(all.indices.slice(0, 4), indices);
  one.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => model.rerank(caption, pics, 0), /k must be an integer in \[1, 9\]/);
  assert.throws(() => model.rerank(caption, pics, 10), /k must be an integer in \[1, 9\]/);
  assert.throws(() => model.rerank(text, pics, 2), /one caption, got 2 rows/);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([text, pics]);
  model.dispose();
});

Deno.test("input checks: image size, channels, dtype and range; id dtype, shape, range, empty rows", () => {
  const model = createReranker(TINY);
  const good = ids([[1, EOT, PAD, PAD, PAD, PAD]]);
  const before = tf.memory().numTensors;
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => model.encodeImages(images(2, 0, 32)), RangeError, /must be 16×16×3 RGB, got 32×32×3/],
    [
      () => model.encodeImages(tf.zeros([2, 16, 16, 1]) as tf.Tensor4D),
      RangeError,
      /16×16×3 RGB, got 16×16×1/,
    ],
    [() => model.encodeImages(tf.zeros([16, 16, 3]) as never), RangeError, /got shape \[16,16,3\]/],
    [
      () => model.encodeImages(tf.zeros([1, 16, 16, 3], "int32") as tf.Tensor4D),
      TypeError,
      /float32 in \[0, 1\], got int32/,
    ],
    [
      () => model.encodeImages(tf.fill([1, 16, 16, 3], 255) as tf.Tensor4D),
      RangeError,
      /values in \[255, 255\] \(bytes\? divide by 255\)/,
    ],
    [() => model.encodeText(ids([[1, 2, 3, 4, 5, 40]])), RangeError, /id 40 at row 0, position 5/],
    [() => model.encodeText(ids([[1, 2, 3]])), RangeError, /shape \[B,6\].*got \[1,3\]/],
    [
      () => model.encodeText(tf.zeros([1, 6]) as tf.Tensor2D),
      TypeError,
      /must be int32, got float32/,
    ],
    [
      () => model.encodeText(ids([[1, EOT, PAD, PAD, PAD, PAD], Array(6).fill(PAD)])),
      RangeError,
      /row 1 holds nothing but pads/,
    ],
    [() => model.score(good, images(1, 0, 8)), RangeError, /16×16×3 RGB, got 8×8×3/],
  ];
  for (const [run, type, message] of cases) {
    tf.tidy(() => {
      assert.throws(run, (err: Error) => {
        assert.equal(err.constructor, type, `${err.constructor.name}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
    });
  }
  assert.equal(tf.memory().numTensors, before);
  good.dispose();
  model.dispose();
});

Deno.test("the clamp holds on the model: a log scale set above ln 100 is used as ln 100", () => {
  const model = createReranker(TINY);
  const text = ids([[1, EOT, PAD, PAD, PAD, PAD], [2, 3, EOT, PAD, PAD, PAD]]);
  const pics = images(2, 5);
  model.logitScale.assign(tf.scalar(Math.log(100)));
  const atClamp = model.lossTerms(text, pics);
  model.logitScale.assign(tf.scalar(9));
  assert.ok(Math.abs(model.scale() - 100) < 1e-3, `${model.scale()}`);
  const above = model.lossTerms(text, pics);
  assert.deepEqual(above.dataSync(), atClamp.dataSync());
  tf.dispose([text, pics, atClamp, above]);
  model.dispose();
});
