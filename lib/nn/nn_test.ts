import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  AdamW,
  clipGradNorm,
  Conv2d,
  decodeSafetensors,
  Embedding,
  encodeSafetensors,
  LayerNorm,
  Linear,
  loadCheckpoint,
  loadWeights,
  Module,
  paramCount,
  Rng,
  saveCheckpoint,
  saveWeights,
  shardSizes,
  shardSlices,
  valueAndGrads,
} from "./mod.ts";

await initBackend();

class Tiny extends Module {
  conv = this.module("conv", new Conv2d(2, 4, 3, { seed: 1, stride: 2 }));
  emb = this.module("emb", new Embedding(5, 4, { seed: 2 }));
  ln = this.module("ln", new LayerNorm(4));
  head = this.module("head", new Linear(4, 1, { seed: 3 }));

  loss(x: tf.Tensor4D, ids: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const h = tf.relu(this.conv.apply(x)).mean([1, 2]); // (B, 4)
      const e = this.emb.apply(ids); // (B, 4)
      return this.head.apply(this.ln.apply(h.add(e))).square().mean() as tf.Scalar;
    });
  }
}

function batch(seed: number) {
  return {
    x: tf.randomUniform([3, 6, 6, 2], 0, 1, "float32", seed) as tf.Tensor4D,
    ids: tf.tensor1d([1, 4, 1], "int32"),
  };
}

Deno.test("module: parameters are named by path, counted and freed", () => {
  const before = tf.memory().numTensors;
  const m = new Tiny();
  assert.deepEqual(m.namedParameters().map(([n]) => n), [
    "conv.weight",
    "conv.bias",
    "emb.weight",
    "ln.gain",
    "ln.bias",
    "head.weight",
    "head.bias",
  ]);
  assert.equal(paramCount(m), 3 * 3 * 2 * 4 + 4 + 5 * 4 + 4 + 4 + 4 + 1);
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("module: layers give the same weights for the same seed and others for another", () => {
  const [a, b, c] = [1, 1, 2].map((seed) => new Linear(8, 8, { seed }));
  assert.deepEqual(a.weight.dataSync(), b.weight.dataSync());
  assert.notDeepEqual(a.weight.dataSync(), c.weight.dataSync());
  // Conv init is N(0, 1/(in·k²)): check the sample std of a large kernel.
  const conv = new Conv2d(64, 64, 3, { seed: 5 });
  const std = tf.tidy(() => tf.moments(conv.weight).variance.sqrt().dataSync()[0]);
  assert.ok(Math.abs(std - 1 / Math.sqrt(64 * 9)) < 0.002, `conv init std ${std}`);
  [a, b, c, conv].forEach((m) => m.dispose());
});

Deno.test("valueAndGrads: analytic gradients match central differences", () => {
  const m = new Tiny();
  const { x, ids } = batch(7);
  const params = m.parameters();
  const { loss, grads } = valueAndGrads(params, () => m.loss(x, ids));
  const rng = new Rng(11);
  const h = 1e-2;
  for (const [pi, p] of params.entries()) {
    const values = p.dataSync().slice();
    const g = grads[pi].dataSync();
    for (let k = 0; k < 3; k++) {
      const i = rng.int(values.length);
      const probe = (delta: number) => {
        const v = values.slice();
        v[i] += delta;
        tf.tidy(() => p.assign(tf.tensor(v, p.shape)));
        return tf.tidy(() => m.loss(x, ids).dataSync()[0]);
      };
      const numeric = (probe(h) - probe(-h)) / (2 * h);
      tf.tidy(() => p.assign(tf.tensor(values, p.shape)));
      const err = Math.abs(numeric - g[i]) / Math.max(1e-3, Math.abs(numeric) + Math.abs(g[i]));
      assert.ok(err < 2e-2, `param ${pi} entry ${i}: numeric ${numeric} vs analytic ${g[i]}`);
    }
  }
  tf.dispose([loss, ...grads, x, ids]);
  m.dispose();
});

Deno.test("AdamW: first step matches the closed form, with decoupled decay on matrices only", () => {
  const w = tf.variable(tf.tensor2d([[1, -2]]));
  const b = tf.variable(tf.tensor1d([0.5]));
  const opt = new AdamW({ lr: 0.1, weightDecay: 0.5 });
  const gw = tf.tensor2d([[0.3, -4]]);
  const gb = tf.tensor1d([2]);
  opt.step([w, b], [gw, gb]);
  // Step 1: m̂ = g, v̂ = g², so the Adam update is g/(|g|+ε) ≈ sign(g).
  const expectW = [1 * (1 - 0.1 * 0.5) - 0.1, -2 * (1 - 0.1 * 0.5) + 0.1];
  Array.from(w.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - expectW[i]) < 1e-6));
  assert.ok(Math.abs(b.dataSync()[0] - (0.5 - 0.1)) < 1e-6, "biases do not decay");
  tf.dispose([w, b, gw, gb]);
  opt.dispose();
});

Deno.test("AdamW: settings out of range are errors naming the setting, the value and the range", () => {
  const cases: [ConstructorParameters<typeof AdamW>[0], string][] = [
    [{ lr: -1e-3 }, "AdamW lr must be a finite number > 0, got -0.001"],
    [{ lr: 0 }, "AdamW lr must be a finite number > 0, got 0"],
    [{ lr: Infinity }, "AdamW lr must be a finite number > 0, got Infinity"],
    [{ beta2: 1 }, "AdamW beta2 must be in [0, 1), got 1"],
    [{ eps: 0 }, "AdamW eps must be a finite number > 0, got 0"],
    [{ eps: -1e-8 }, "AdamW eps must be a finite number > 0, got -1e-8"],
    [{ weightDecay: -0.1 }, "AdamW weightDecay must be a finite number ≥ 0, got -0.1"],
    [{ emaDecay: 1 }, "AdamW emaDecay must be in [0, 1), got 1"],
    [{ emaDecay: -0.5 }, "AdamW emaDecay must be in [0, 1), got -0.5"],
    [{ emaDecay: NaN }, "AdamW emaDecay must be in [0, 1), got NaN"],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new AdamW(options),
      (e: Error) => e.constructor === RangeError && e.message === message,
      message,
    );
  }
  assert.throws(
    () => new AdamW({ lr: "1e-3" as unknown as number }),
    /^TypeError: AdamW lr must be a number, got string$/,
  );
  new AdamW({ lr: 1, beta1: 0, emaDecay: 0, weightDecay: 0 }).dispose(); // the edges that are fine
  const w = tf.variable(tf.tensor1d([1]));
  const g = tf.tensor1d([1]);
  const opt = new AdamW();
  assert.throws(
    () => opt.step([w], [g], -1e-3),
    /AdamW\.step: lr must be a finite number ≥ 0, got -0\.001$/,
  );
  opt.step([w], [g], 0); // a warm-up's first step
  assert.equal(w.dataSync()[0], 1);
  tf.dispose([w, g]);
  opt.dispose();
});

Deno.test("AdamW: 100 steps of a small model leave the tensor count unchanged", () => {
  const m = new Tiny();
  const opt = new AdamW({ lr: 1e-2, weightDecay: 1e-4, emaDecay: 0.99 });
  const { x, ids } = batch(1);
  const step = () => {
    const { loss, grads } = valueAndGrads(m.parameters(), () => m.loss(x, ids));
    const clipped = clipGradNorm(grads, 1);
    opt.step(m.parameters(), clipped.grads);
    const value = loss.dataSync()[0];
    tf.dispose([loss, ...grads, ...clipped.grads]);
    return value;
  };
  const first = step(); // creates the optimiser's moment slots
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 100; i++) last = step();
  assert.equal(tf.memory().numTensors, before);
  assert.ok(last < first, `loss did not fall: ${first} → ${last}`);
  tf.dispose([x, ids]);
  opt.dispose();
  m.dispose();
});

Deno.test("clipGradNorm: scales to the bound and flags non-finite gradients", () => {
  const g = [tf.tensor1d([3, 0]), tf.tensor1d([4])];
  const c = clipGradNorm(g, 1);
  assert.ok(Math.abs(c.norm - 5) < 1e-6);
  assert.ok(Math.abs(c.grads[0].dataSync()[0] - 0.6) < 1e-5);
  const bad = clipGradNorm([tf.tensor1d([NaN, 1])], 1);
  assert.equal(bad.finite, false);
  tf.dispose([...g, ...c.grads, ...bad.grads]);
});

Deno.test("safetensors: round trip, and clear errors on corrupt or mismatched files", async () => {
  const dir = await Deno.makeTempDir();
  const a = new Tiny(), b = new Tiny();
  tf.tidy(() => b.parameters().forEach((p) => p.assign(p.mul(0).add(3))));
  await saveWeights(`${dir}/w.safetensors`, a, { note: "hi" });
  const meta = await loadWeights(`${dir}/w.safetensors`, b);
  assert.equal(meta.note, "hi");
  a.parameters().forEach((p, i) => assert.deepEqual(p.dataSync(), b.parameters()[i].dataSync()));

  const bytes = await Deno.readFile(`${dir}/w.safetensors`);
  assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 10), "cut"), /truncated/);
  assert.throws(() => decodeSafetensors(new Uint8Array(4), "tiny"), /8-byte/);
  const garbage = bytes.slice();
  garbage[10] = 0x7b; // "{" inside the JSON header
  garbage[11] = 0x7b;
  assert.throws(() => decodeSafetensors(garbage, "garbage"), /not JSON|lacks|dtype/);

  const other = new Linear(4, 2);
  await saveWeights(`${dir}/other.safetensors`, other);
  const before = b.parameters().map((p) => p.dataSync().slice());
  await assert.rejects(() => loadWeights(`${dir}/other.safetensors`, b), /missing "conv.weight"/);
  b.parameters().forEach((p, i) =>
    assert.deepEqual(p.dataSync(), before[i], "a failed load changed the model")
  );
  await assert.rejects(() => loadWeights(`${dir}/nope.safetensors`, b), /not found/);

  // A PyTorch reader needs: u64 header length, JSON header, F32 data at the stated offsets.
  const t = tf.tensor2d([[1, 2, 3]]);
  const raw = encodeSafetensors([["t", t]]);
  const len = Number(new DataView(raw.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(raw.subarray(8, 8 + len)));
  assert.deepEqual(header.t, { dtype: "F32", shape: [1, 3], data_offsets: [0, 12] });
  assert.equal((8 + len) % 8, 0, "data section is 8-byte aligned");
  assert.deepEqual(Array.from(new Float32Array(raw.slice(8 + len).buffer)), [1, 2, 3]);
  [a, b, other].forEach((m) => m.dispose());
  t.dispose();
});

Deno.test("checkpoint: resuming gives the same weights as training straight through", async () => {
  const dir = await Deno.makeTempDir();
  const train = (m: Tiny, opt: AdamW, steps: number, from: number) => {
    for (let s = from; s < from + steps; s++) {
      const { x, ids } = batch(100 + s);
      const { loss, grads } = valueAndGrads(m.parameters(), () => m.loss(x, ids));
      opt.step(m.parameters(), grads);
      tf.dispose([loss, ...grads, x, ids]);
    }
  };
  const straight = new Tiny();
  const optS = new AdamW({ lr: 1e-2, weightDecay: 0.1, emaDecay: 0.9 });
  train(straight, optS, 6, 0);

  const first = new Tiny();
  const opt1 = new AdamW({ lr: 1e-2, weightDecay: 0.1, emaDecay: 0.9 });
  train(first, opt1, 3, 0);
  await saveCheckpoint(`${dir}/ckpt.safetensors`, {
    model: first,
    optimizer: opt1,
    step: 3,
    config: { k: 1 },
  });
  const resumed = new Tiny();
  const opt2 = new AdamW({ lr: 1e-2, weightDecay: 0.1, emaDecay: 0.9 });
  const { step, config } = await loadCheckpoint(`${dir}/ckpt.safetensors`, {
    model: resumed,
    optimizer: opt2,
  });
  assert.equal(step, 3);
  assert.deepEqual(config, { k: 1 });
  assert.equal(opt2.stepCount, 3);
  train(resumed, opt2, 3, 3);
  straight.parameters().forEach((p, i) => {
    const q = resumed.parameters()[i];
    const diff = tf.tidy(() => p.sub(q).abs().max().dataSync()[0]);
    assert.ok(diff < 1e-6, `parameter ${i} differs by ${diff}`);
  });
  // The EMA came back too: evaluating under it gives the same weights both ways.
  const emaS = await optS.withEma(
    straight.parameters(),
    () => straight.parameters()[0].dataSync().slice(),
  );
  const emaR = await opt2.withEma(
    resumed.parameters(),
    () => resumed.parameters()[0].dataSync().slice(),
  );
  emaS.forEach((v, i) => assert.ok(Math.abs(v - emaR[i]) < 1e-6));
  [straight, first, resumed].forEach((m) => m.dispose());
  [optS, opt1, opt2].forEach((o) => o.dispose());
});

Deno.test("Rng: seeded, uniform in range, normal moments plausible", () => {
  const a = new Rng(9), b = new Rng(9);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), b.next());
  const r = new Rng(1);
  let sum = 0, sq = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.03 && Math.abs(sq / n - 1) < 0.05);
  assert.throws(() => r.int(0), RangeError);
  assert.deepEqual(new Rng(3).shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
});

Deno.test("shardSizes splits evenly (extras first)", () => {
  assert.deepEqual(shardSizes(7, 2), [4, 3]);
  assert.deepEqual(shardSizes(9, 3), [3, 3, 3]);
  assert.deepEqual(shardSizes(5, 1), [5]);
  assert.throws(() => shardSizes(1, 2), /cannot be split/);
  assert.throws(() => shardSizes(4, 0), /cannot be split/);
  // The items themselves, in contiguous parts of those sizes.
  assert.deepEqual(shardSlices([5, 6, 7, 8, 9, 10, 11], 2), [[5, 6, 7, 8], [9, 10, 11]]);
  assert.throws(() => shardSlices([1], 2), /cannot be split/);
});
