import assert from "node:assert/strict";
import { BACKEND_ENV, initBackend, tf } from "./mod.ts";
import { Rng } from "../io/mod.ts";

type Case = {
  batch: number;
  size: [number, number];
  inCh: number;
  outCh: number;
  kernel: number;
  stride: 1 | 2;
  pad: "same" | "valid";
};

function randomArray(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Gradients of a conv layer's loss w.r.t. input and kernel, on the current backend. */
function convGrads(c: Case, x: Float32Array, w: Float32Array, probe: Float32Array) {
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [c.batch, c.size[0], c.size[1], c.inCh]);
    const wt = tf.tensor4d(w, [c.kernel, c.kernel, c.inCh, c.outCh]);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
      // A fixed random projection makes every output element's gradient distinct.
      return y.mul(tf.tensor(probe.subarray(0, y.size), y.shape)).sum();
    };
    const [dx, dw] = tf.grads(f)([xt, wt]);
    return [Float32Array.from(dx.dataSync()), Float32Array.from(dw.dataSync())];
  });
}

function embeddingGrad(vocab: number, dim: number, ids: Int32Array, probe: Float32Array) {
  return tf.tidy(() => {
    const table = tf.zeros([vocab, dim]);
    const g = tf.grad((t: tf.Tensor) =>
      tf.gather(t, tf.tensor1d(ids, "int32")).mul(tf.tensor2d(probe, [ids.length, dim])).sum()
    )(table);
    return Float32Array.from(g.dataSync());
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

Deno.test("wasm conv and embedding gradients match the cpu backend to 1e-4", async () => {
  const rng = new Rng(2024);
  const cases: Case[] = [];
  for (let i = 0; i < 24; i++) {
    const kernel = [1, 3, 5][rng.int(3)];
    const pad = rng.next() < 0.5 ? "same" : "valid";
    const minSize = pad === "valid" ? kernel : 1;
    cases.push({
      batch: 1 + rng.int(4),
      size: [minSize + rng.int(9), minSize + rng.int(9)],
      inCh: 1 + rng.int(6),
      outCh: 1 + rng.int(6),
      kernel,
      stride: rng.next() < 0.5 ? 1 : 2,
      pad,
    });
  }
  const inputs = cases.map((c) => ({
    x: randomArray(rng, c.batch * c.size[0] * c.size[1] * c.inCh),
    w: randomArray(rng, c.kernel * c.kernel * c.inCh * c.outCh),
    probe: randomArray(rng, c.batch * c.size[0] * c.size[1] * c.outCh),
  }));
  const embCases = [[7, 3, 5], [50, 16, 40], [3, 1, 9]].map(([vocab, dim, n]) => {
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = rng.int(vocab); // repeats on purpose: they must add up
    return { vocab, dim, ids, probe: randomArray(rng, n * dim) };
  });

  await initBackend("cpu");
  const ref = cases.map((c, i) => convGrads(c, inputs[i].x, inputs[i].w, inputs[i].probe));
  const embRef = embCases.map((e) => embeddingGrad(e.vocab, e.dim, e.ids, e.probe));

  assert.equal(await initBackend("wasm"), "wasm");
  const before = tf.memory().numTensors;
  cases.forEach((c, i) => {
    const [dx, dw] = convGrads(c, inputs[i].x, inputs[i].w, inputs[i].probe);
    const label = JSON.stringify(c);
    assert.ok(relErr(dx, ref[i][0]) < 1e-4, `input gradient differs for ${label}`);
    assert.ok(relErr(dw, ref[i][1]) < 1e-4, `kernel gradient differs for ${label}`);
  });
  embCases.forEach((e, i) => {
    const g = embeddingGrad(e.vocab, e.dim, e.ids, e.probe);
    assert.ok(relErr(g, embRef[i]) < 1e-4, `embedding gradient differs for vocab ${e.vocab}`);
  });
  assert.equal(tf.memory().numTensors, before, "the wasm training kernels leak tensors");
});

Deno.test("wasm UnsortedSegmentSum rejects ids outside [0, numSegments)", async () => {
  await initBackend("wasm");
  const x = tf.ones([3, 2]);
  const ids = tf.tensor1d([0, 5, 1], "int32");
  assert.throws(() => tf.unsortedSegmentSum(x, ids, 3), /segment id 5/);
  const ok = tf.unsortedSegmentSum(x, tf.tensor1d([2, 2, 0], "int32"), 3);
  assert.deepEqual(Array.from(ok.dataSync()), [1, 1, 0, 0, 2, 2]);
  tf.dispose([x, ids, ok]);
});

/** Whether the tensorflow backend starts here (.ci/setup builds it where it can). */
async function tensorflowStarts(): Promise<boolean> {
  try {
    await initBackend("tensorflow");
    return true;
  } catch (err) {
    // Where it cannot start, the error must say how to build it.
    assert.match((err as Error).message, /tfjs-node.*deno task setup/s);
    return false;
  }
}

Deno.test({
  name: "tensorflow starts where the run expects it (CI on our machines)",
  ignore: Deno.env.get("DALLE_LAB_EXPECT_TENSORFLOW") !== "1",
  fn: async () => {
    // Without this, a set-up that could not build it would only skip the parity tests.
    assert.ok(
      await tensorflowStarts(),
      "DALLE_LAB_EXPECT_TENSORFLOW=1 but tensorflow cannot start",
    );
    assert.equal(tf.getBackend(), "tensorflow");
    await initBackend("wasm");
  },
});

Deno.test("initBackend: unknown names and unavailable backends are clear errors", async () => {
  await initBackend("wasm");
  await assert.rejects(
    () => initBackend("bogus" as "cpu"),
    (e: Error) => e instanceof RangeError && /expected one of auto, tensorflow/.test(e.message),
  );
  assert.equal(tf.getBackend(), "wasm", "a failed request must not change the backend");
  await assert.rejects(() => initBackend("webgpu"), /webgpu/);
  assert.equal(tf.getBackend(), "wasm");
});

Deno.test("initBackend: auto picks tensorflow where it starts, else wasm; DALLE_LAB_BACKEND overrides", async () => {
  const saved = Deno.env.get(BACKEND_ENV);
  const hasTensorflow = await tensorflowStarts();
  try {
    Deno.env.delete(BACKEND_ENV);
    assert.equal(await initBackend(), hasTensorflow ? "tensorflow" : "wasm");
    Deno.env.set(BACKEND_ENV, "cpu");
    assert.equal(await initBackend(), "cpu");
    Deno.env.set(BACKEND_ENV, "wasm");
    assert.equal(await initBackend(), "wasm");
    Deno.env.set(BACKEND_ENV, "nonsense");
    await assert.rejects(() => initBackend(), /DALLE_LAB_BACKEND/);
  } finally {
    if (saved === undefined) Deno.env.delete(BACKEND_ENV);
    else Deno.env.set(BACKEND_ENV, saved);
    await initBackend("wasm");
  }
});

Deno.test("max-pool and nearest-upsampling gradients route every output cell exactly once", async () => {
  const backends = ["wasm", "cpu", ...(await tensorflowStarts() ? ["tensorflow"] : [])];
  for (const name of backends) {
    await initBackend(name as "wasm");
    const before = tf.memory().numTensors;
    const [pooled, upsampled] = tf.tidy(() => {
      const x = tf.randomNormal([8, 32, 32, 16], 0, 1, "float32", 5) as tf.Tensor4D;
      const dPool = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 2, 2, "valid").sum())(x);
      const y = tf.randomNormal([2, 3, 3, 2], 0, 1, "float32", 6) as tf.Tensor4D;
      const dUp = tf.grad((t: tf.Tensor) =>
        tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [6, 6]).sum()
      )(y);
      // Each pooling window sends 1 to one input; each input feeds a 2×2 block of the output.
      return [dPool.sum().dataSync()[0], Array.from(dUp.dataSync())];
    }) as [number, number[]];
    assert.equal(pooled, 8 * 16 * 16 * 16, `${name}: max-pool gradient mass`);
    assert.deepEqual(upsampled, new Array(2 * 3 * 3 * 2).fill(4), `${name}: upsampling gradient`);
    assert.equal(tf.memory().numTensors, before, `${name}: leaked tensors`);
  }
  await initBackend("wasm");
});

Deno.test("wasm matMul with transpose flags and its gradients match the cpu backend", async () => {
  const rng = new Rng(77);
  const shapes: [number[], number[], boolean, boolean][] = [
    [[5, 3], [3, 4], false, false],
    [[3, 5], [3, 4], true, false],
    [[5, 3], [4, 3], false, true],
    [[3, 5], [4, 3], true, true],
    [[2, 3, 5], [2, 4, 3], true, true],
    [[2, 6, 3], [2, 2, 3], false, true],
  ];
  const data = shapes.map(([sa, sb]) => ({
    a: randomArray(rng, sa.reduce((x, y) => x * y, 1)),
    b: randomArray(rng, sb.reduce((x, y) => x * y, 1)),
  }));
  const compute = () =>
    shapes.map(([sa, sb, ta, tb], i) =>
      tf.tidy(() => {
        const a = tf.tensor(data[i].a, sa), b = tf.tensor(data[i].b, sb);
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb).square().sum();
        const [ga, gb] = tf.grads(f)([a, b]);
        return [tf.matMul(a, b, ta, tb), ga, gb].map((t) => Float32Array.from(t.dataSync()));
      })
    );
  await initBackend("cpu");
  const ref = compute();
  await initBackend("wasm");
  const before = tf.memory().numTensors;
  compute().forEach((got, i) =>
    got.forEach((g, j) => assert.ok(relErr(g, ref[i][j]) < 1e-5, `case ${i} output ${j}`))
  );
  assert.equal(tf.memory().numTensors, before);
});
