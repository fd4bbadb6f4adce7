import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { paramCount, valueAndGrads } from "../nn/mod.ts";
import { createDvae, DVAE_DEFAULTS, dvaeObjective } from "./mod.ts";

await initBackend();

const TINY = { hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 } as const;

Deno.test("the default dVAE has exactly the PyTorch peer's parameters, in order", async () => {
  const peer = JSON.parse(
    await Deno.readTextFile(new URL("./testdata/peer_param_shapes.json", import.meta.url)),
  ) as { parameters: number; shapes: { torch_name: string; hwio_shape: number[] }[] };
  const dvae = createDvae();
  assert.equal(paramCount(dvae), peer.parameters);
  const ours = dvae.namedParameters().map(([, v]) => v.shape);
  assert.deepEqual(ours, peer.shapes.map((s) => s.hwio_shape));
  assert.equal(dvae.gridSize, 8);
  assert.equal(dvae.dimsPerCell, 48);
  dvae.dispose();
});

Deno.test("conv init is N(0, 1/(n_in·k²)) with zero biases; post-gain 1/(groups·blocks)²", () => {
  const dvae = createDvae({ ...TINY, hidden: 16, vocabSize: 64 });
  for (const [name, v] of dvae.namedParameters()) {
    const values = Array.from(v.dataSync() as Float32Array);
    if (v.rank === 1) {
      assert.ok(values.every((x) => x === 0), `${name} starts at 0`);
      continue;
    }
    const [k, , nIn] = v.shape;
    const std = Math.sqrt(values.reduce((s, x) => s + x * x, 0) / values.length);
    const expected = 1 / Math.sqrt(nIn * k * k);
    if (values.length >= 500) {
      assert.ok(Math.abs(std / expected - 1) < 0.15, `${name}: std ${std} vs ${expected}`);
    }
  }
  const block = dvae.encoder.blocks[0][0];
  assert.equal(block.postGain, 1 / 4);
  const deeper = createDvae({ ...TINY, blocksPerGroup: 2 });
  assert.equal(deeper.encoder.blocks[1][1].postGain, 1 / 16);
  deeper.dispose();
  dvae.dispose();
});

Deno.test("encode gives int32 tokens on the grid; decode gives images in [0, 1]", () => {
  const dvae = createDvae(TINY);
  const x = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const tokens = dvae.encode(x);
  assert.equal(tokens.dtype, "int32");
  assert.deepEqual(tokens.shape, [3, 4, 4]);
  for (const t of tokens.dataSync()) assert.ok(t >= 0 && t < 16);
  const images = dvae.decode(tokens);
  assert.deepEqual(images.shape, [3, 8, 8, 3]);
  for (const v of images.dataSync()) assert.ok(v >= 0 && v <= 1);
  // encode is the argmax of the logits (no noise): repeatable.
  const again = dvae.encode(x);
  assert.deepEqual(again.dataSync(), tokens.dataSync());
  tf.dispose([tokens, images, again]);
  assert.equal(tf.memory().numTensors, before, "no tensors leak");
  assert.throws(() => dvae.decode(tf.zeros([1, 4, 4]) as tf.Tensor3D), TypeError);
  assert.throws(() => dvae.encode(tf.zeros([1, 6, 6, 3]) as tf.Tensor4D), RangeError);
  x.dispose();
  dvae.dispose();
});

Deno.test("createDvae rejects shapes that do not work out", () => {
  assert.throws(() => createDvae({ hidden: 6 }), /multiple of 4/);
  assert.throws(() => createDvae({ imageSize: 30 }), /divisible/);
  assert.throws(() => createDvae({ vocabSize: 0 }), RangeError);
  assert.throws(
    () => createDvae({ reconstruction: "bernoulli" as "mse" }),
    TypeError,
  );
  assert.equal(DVAE_DEFAULTS.vocabSize, 512);
});

Deno.test("every parameter gets a finite, non-zero gradient; tensor count is flat", () => {
  for (const reconstruction of ["logit-laplace", "mse"] as const) {
    const dvae = createDvae({ ...TINY, reconstruction });
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 4) as tf.Tensor4D;
    const named = dvae.namedParameters();
    let count = -1;
    for (let i = 0; i < 3; i++) {
      const { loss, grads } = valueAndGrads(named.map(([, v]) => v), () => {
        const out = dvaeObjective(dvae, x, { beta: 1, tau: 1, seed: i });
        tf.dispose([out.reconNll, out.kl, out.marginalKl, out.elbBitsPerDim, out.logits]);
        return out.loss;
      });
      grads.forEach((g, j) => {
        const values = g.dataSync();
        assert.ok(values.every(Number.isFinite), `${named[j][0]} gradient finite`);
        assert.ok(values.some((v) => v !== 0), `${named[j][0]} gradient non-zero`);
      });
      tf.dispose([loss, ...grads]);
      if (count >= 0) assert.equal(tf.memory().numTensors, count, `step ${i}: no leak`);
      count = tf.memory().numTensors;
    }
    x.dispose();
    dvae.dispose();
  }
});

Deno.test("initOutputBias makes the untrained decoder predict the data's average pixel", () => {
  for (const reconstruction of ["logit-laplace", "mse"] as const) {
    const dvae = createDvae({ ...TINY, reconstruction });
    // Red images: R = 1, G = B = 0.
    const red = tf.tidy(() => tf.concat([tf.ones([4, 8, 8, 1]), tf.zeros([4, 8, 8, 2])], 3));
    dvae.initOutputBias(red as tf.Tensor4D);
    const tokens = tf.randomUniform([2, 4, 4], 0, 16, "int32", 1) as tf.Tensor3D;
    const images = dvae.decode(tokens);
    const perChannel = tf.tidy(() => images.mean([0, 1, 2]).dataSync());
    assert.ok(perChannel[0] > 0.9 && perChannel[1] < 0.1 && perChannel[2] < 0.1, `${perChannel}`);
    tf.dispose([red, tokens, images]);
    dvae.dispose();
  }
});
