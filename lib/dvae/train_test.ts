import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { Rng } from "../io/mod.ts";
import { cosine, GradientWorkers, meanReducer, warmupCosine } from "../nn/mod.ts";
import {
  createDvae,
  evaluateDvae,
  loadDvae,
  saveDvae,
  trainDvae,
  type TrainDvaeOptions,
} from "./mod.ts";
import { gradients } from "./_grad_task.ts";

await initBackend();
// These tests train in this process (`workers: 1`) unless they are about workers: the trainers'
// default, defaultWorkers(), is one process per core on wasm.

const TINY = { hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 } as const;

/** 8 images of 4×4-pixel blocks, each block one of the 8 binary RGB colours. */
function blockImages(size: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const blocks = Array.from({ length: 8 * 4 * 4 * 3 }, () => (rng.next() < 0.5 ? 0 : 1));
  return tf.tidy(() =>
    tf.image.resizeNearestNeighbor(tf.tensor4d(blocks, [8, 4, 4, 3]), [size, size])
  );
}

function reconstructionMse(dvae: ReturnType<typeof createDvae>, images: tf.Tensor4D): number {
  return tf.tidy(() => tf.squaredDifference(dvae.reconstruct(images), images).mean().dataSync()[0]);
}

Deno.test("a tiny dVAE overfits 8 images: token reconstruction error falls by 10×", async () => {
  // Fixed-σ Gaussian likelihood: with the logit-Laplace one this tiny model's codebook collapses
  // to 1–3 codes within a few hundred steps on these binary images (see the experiment notes).
  const images = blockImages(16, 1);
  const dvae = createDvae({
    imageSize: 16,
    hidden: 16,
    groups: 2,
    vocabSize: 32,
    reconstruction: "mse",
  });
  const before = reconstructionMse(dvae, images);
  const steps = 250;
  const run = await trainDvae(dvae, images, {
    steps,
    lr: warmupCosine(3e-3, 50, steps),
    beta: 0,
    tau: 1,
    seed: 0,
    emaDecay: 0.9,
    workers: 1,
  });
  const after = reconstructionMse(dvae, images);
  assert.ok(after * 10 < before, `MSE ${before.toFixed(4)} → ${after.toFixed(4)}: not 10× lower`);
  const last = run.rows.at(-1)!;
  assert.ok((last.codebook_perplexity as number) > 3, "uses more than a few codes");
  assert.equal(run.skippedSteps, 0);
  run.dispose();
  dvae.dispose();
  images.dispose();
});

Deno.test("trainDvae logs every column, keeps the tensor count flat and is seeded", async () => {
  const images = tf.randomUniform([20, 8, 8, 3], 0, 1, "float32", 3) as tf.Tensor4D;
  const losses: number[][] = [];
  for (let trial = 0; trial < 2; trial++) {
    const dvae = createDvae({ ...TINY, seed: 5 });
    const counts: number[] = [];
    const run = await trainDvae(dvae, images, {
      steps: 6,
      batchSize: 4,
      lr: 1e-3,
      seed: 7,
      workers: 1,
      onStep: () => void counts.push(tf.memory().numTensors),
    });
    assert.deepEqual(Object.keys(run.rows[0]), [
      "step",
      "loss",
      "elb_bits_per_dim",
      "recon_nll",
      "kl",
      "marginal_kl",
      "beta",
      "tau",
      "marginal_kl_weight",
      "info_weight",
      "codebook_perplexity",
      "codes_used_frac",
      "lr",
      "grad_norm",
      "skipped",
      "skipped_steps",
      "bytes_sent",
      "images_per_sec",
      "step_ms",
    ]);
    assert.deepEqual(run.rows.map((r) => r.step), [0, 1, 2, 3, 4, 5]);
    // Step 0 creates the optimiser's slots; after that nothing may accumulate.
    assert.ok(counts.slice(1).every((c) => c === counts[1]), `tensor counts ${counts}`);
    losses.push(run.rows.map((r) => r.loss as number));
    run.dispose();
    dvae.dispose();
  }
  assert.deepEqual(losses[0], losses[1], "same seed, same losses");
  images.dispose();
});

Deno.test("trainDvae: tensor count flat over 200 steps and back where it started", async () => {
  const images = tf.randomUniform([8, 8, 8, 3], 0, 1, "float32", 13) as tf.Tensor4D;
  const dvae = createDvae(TINY);
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const run = await trainDvae(dvae, images, {
    steps: 200,
    batchSize: 2,
    lr: 1e-3,
    workers: 1,
    onStep: () => void counts.push(tf.memory().numTensors),
  });
  run.dispose();
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts.slice(0, 5)}…`);
  assert.equal(tf.memory().numTensors, before);
  dvae.dispose();
  images.dispose();
});

Deno.test("steps with non-finite loss are skipped and counted; weights stay unchanged", async () => {
  const dvae = createDvae(TINY);
  const before = dvae.parameters().map((p) => p.dataSync().slice());
  const bad = tf.fill([4, 8, 8, 3], NaN) as tf.Tensor4D;
  const run = await trainDvae(dvae, bad, { steps: 3, lr: 1e-3, workers: 1 });
  assert.equal(run.skippedSteps, 3);
  assert.equal(run.rows.at(-1)!.skipped_steps, 3);
  dvae.parameters().forEach((p, i) => assert.deepEqual(p.dataSync(), before[i]));
  run.dispose();
  dvae.dispose();
  bad.dispose();
});

Deno.test("a run resumed from its checkpoint ends where an uninterrupted one does", async () => {
  const dir = await Deno.makeTempDir();
  const images = tf.randomUniform([16, 8, 8, 3], 0, 1, "float32", 8) as tf.Tensor4D;
  // Explicit schedules and EMA decay: the defaults depend on `steps`, which differs below.
  const options = {
    batchSize: 4,
    lr: cosine(2e-3, 1e-4, 6),
    beta: 1,
    tau: cosine(1, 0.5, 6),
    emaDecay: 0.9,
    seed: 3,
    workers: 1,
  };
  const straight = createDvae({ ...TINY, seed: 1 });
  (await trainDvae(straight, images, { ...options, steps: 6 })).dispose();

  const path = `${dir}/ckpt.safetensors`;
  const first = createDvae({ ...TINY, seed: 1 });
  (await trainDvae(first, images, { ...options, steps: 3, checkpointPath: path })).dispose();
  first.dispose();
  // A different init: everything must come from the checkpoint.
  const second = createDvae({ ...TINY, seed: 42 });
  const rest = await trainDvae(second, images, {
    ...options,
    steps: 6,
    checkpointPath: path,
    resume: true,
  });
  assert.equal(rest.startStep, 3);
  assert.deepEqual(rest.rows.map((r) => r.step), [3, 4, 5]);
  const named = straight.namedParameters();
  second.parameters().forEach((p, i) => {
    assert.deepEqual(p.dataSync(), named[i][1].dataSync(), `${named[i][0]} differs`);
  });
  // EMA state came back too.
  const emaDiff = await rest.withEma(() =>
    tf.tidy(() => tf.sub(second.parameters()[0], named[0][1]).abs().max().dataSync()[0])
  );
  assert.ok(emaDiff > 0, "EMA weights differ from the raw ones");
  rest.dispose();
  second.dispose();
  straight.dispose();
  images.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("trainDvae takes a function of the step as data, and frees what it returns", async () => {
  const images = tf.randomUniform([6, 8, 8, 3], 0, 1, "float32", 2) as tf.Tensor4D;
  const asked: number[] = [];
  const data = (step: number) => {
    asked.push(step);
    return images.slice((step % 2) * 3, 3) as tf.Tensor4D;
  };
  const dvae = createDvae(TINY);
  const before = tf.memory().numTensors;
  const run = await trainDvae(dvae, data, { steps: 5, lr: 1e-3, workers: 1 });
  assert.equal(run.rows.length, 5);
  assert.deepEqual(asked, [0, 1, 2, 3, 4]);
  run.dispose();
  assert.equal(tf.memory().numTensors, before, "batches and optimiser freed");
  await assert.rejects(
    () => trainDvae(dvae, () => tf.zeros([2, 16, 16, 3]) as tf.Tensor4D, { steps: 1, workers: 1 }),
    /dVAE data for step 0: expected images \(N, 8, 8, 3\), got \(2,16,16,3\)/,
  );
  dvae.dispose();
  images.dispose();
});

Deno.test("evaluateDvae and save/load: the EMA model round-trips through a file", async () => {
  const dir = await Deno.makeTempDir();
  const images = tf.randomUniform([10, 8, 8, 3], 0, 1, "float32", 6) as tf.Tensor4D;
  const dvae = createDvae(TINY);
  const run = await trainDvae(dvae, images, { steps: 4, lr: 1e-3, workers: 1 });
  const path = `${dir}/dvae.safetensors`;
  const figures = await run.withEma(async () => {
    await saveDvae(path, dvae, { note: "test" });
    return evaluateDvae(dvae, images, { batchSize: 4 });
  });
  assert.equal(figures.images, 10);
  assert.ok(figures.mse > 0 && figures.perplexity >= 1 && figures.usedFraction <= 1);
  assert.ok(Number.isFinite(figures.elbBitsPerDim));
  const { model: loaded, metadata } = await loadDvae(path);
  assert.deepEqual(loaded.config, dvae.config);
  assert.equal(metadata.note, "test");
  const again = evaluateDvae(loaded, images, { batchSize: 4 });
  assert.deepEqual(again, figures, "same weights, same seed → same figures");
  await assert.rejects(() => loadDvae(`${dir}/missing.safetensors`), /no dVAE at/);
  run.dispose();
  loaded.dispose();
  dvae.dispose();
  images.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a gradient worker computes exactly the gradients this process does", async () => {
  const dvae = createDvae({ ...TINY, seed: 4 });
  const params = dvae.parameters();
  const images = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 12) as tf.Tensor4D;
  const options = {
    beta: 1,
    tau: 0.8,
    seed: 9,
    straightThrough: false,
    marginalKlWeight: 2,
    infoWeight: 1,
    dequantize: true,
    shard: 1,
    shards: 2,
    totals: { images: 5 },
  };
  const named = dvae.namedParameters();
  const pool = await GradientWorkers.start(1, {
    taskUrl: new URL("./_grad_task.ts", import.meta.url).href,
    config: dvae.config,
    backend: tf.getBackend(), // the worker must run this process's kernels for exact equality
    reducer: meanReducer(),
    context: { shapes: named.map(([, p]) => p.shape), names: named.map(([n]) => n), shards: 2 },
  });
  try {
    const weights = params.map((p) => p.dataSync() as Float32Array);
    const shard = { images: images.dataSync() as Float32Array, shape: images.shape };
    const remote = await pool.step(0, weights, shard, options);
    const local = gradients(dvae, params, shard, options);
    assert.deepEqual(Array.from(remote.values.parts), Array.from(local.values.parts));
    assert.deepEqual(Array.from(remote.values.tokens), Array.from(local.values.tokens));
    local.grads.forEach((g, i) => assert.deepEqual(remote.payload[i], g.dataSync(), `grad ${i}`));
    tf.dispose(local.grads);
    // A bad request is an error on this side, and the worker keeps serving.
    await assert.rejects(() => pool.step(0, weights.slice(1), shard, options), /weight arrays/);
    assert.equal((await pool.step(0, weights, shard, options)).payload.length, params.length);
  } finally {
    pool.close();
  }
  images.dispose();
  dvae.dispose();
});

Deno.test("trainDvae with 2 workers: seeded, leak-free, and its loss falls", async () => {
  const images = blockImages(8, 2);
  const runs: number[][] = [];
  for (let trial = 0; trial < 2; trial++) {
    const dvae = createDvae({ ...TINY, seed: 6 });
    const counts: number[] = [];
    const run = await trainDvae(dvae, images, {
      steps: 30,
      batchSize: 8,
      lr: 3e-3,
      beta: 0,
      tau: 1,
      workers: 2,
      seed: 1,
      onStep: () => void counts.push(tf.memory().numTensors),
    });
    assert.ok(counts.slice(1).every((c) => c === counts[1]), `tensor counts ${counts}`);
    runs.push(run.rows.map((r) => r.loss as number));
    run.dispose();
    dvae.dispose();
  }
  assert.deepEqual(runs[0], runs[1], "same seed, same losses");
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(runs[0].slice(-5)) < mean(runs[0].slice(0, 5)), `losses ${runs[0]}`);
  const dvae = createDvae(TINY);
  await assert.rejects(
    () => trainDvae(dvae, images, { steps: 1, batchSize: 8, workers: 0 }),
    /workers must be a positive integer/,
  );
  dvae.dispose();
  images.dispose();
});

Deno.test("trainDvae: a misspelt option, a batch larger than the data or a bad AdamW setting is an error before any work", async () => {
  const images = tf.zeros([4, 8, 8, 3]) as tf.Tensor4D;
  const none = tf.zeros([0, 8, 8, 3]) as tf.Tensor4D;
  const dvae = createDvae(TINY);
  const before = tf.memory().numTensors;
  const reject = (options: Record<string, unknown>, kind: typeof RangeError, message: string) =>
    assert.rejects(
      () => trainDvae(dvae, images, { steps: 2, workers: 1, ...options } as TrainDvaeOptions),
      (e: Error) => e.constructor === kind && e.message === message,
      message,
    );
  // A misspelt β would otherwise train with the default schedule.
  await reject(
    { bta: 2 },
    TypeError,
    'trainDvae: unknown option "bta" (did you mean "beta"?); known options: steps, batchSize, ' +
      "beta, tau, lr, weightDecay, emaDecay, clipNorm, marginalKlWeight, infoWeight, " +
      "straightThrough, workers, reducer, compile, dequantize, seed, log, " +
      "checkpointPath, checkpointEvery, resume, maxConsecutiveSkips, timeouts, onStep",
  );
  await reject(
    { batchSize: 8 },
    RangeError,
    "trainDvae: batch size 8 > 4 images in the data; pass batchSize ≤ 4",
  );
  await assert.rejects(
    () => trainDvae(dvae, none, { steps: 2, workers: 1 }),
    /^RangeError: dVAE data: expected at least one image, got none$/,
  );
  await reject({ lr: -1e-3 }, RangeError, "AdamW lr must be a finite number > 0, got -0.001");
  await reject(
    { lr: cosine(-1e-3, 0, 2) },
    RangeError,
    "lr must be a finite number ≥ 0 at every step, got -0.001 at step 0 (cosine -0.001→0 over 2)",
  );
  await reject(
    { weightDecay: -1 },
    RangeError,
    "AdamW weightDecay must be a finite number ≥ 0, got -1",
  );
  await reject({ emaDecay: 1 }, RangeError, "AdamW emaDecay must be in [0, 1), got 1");
  assert.equal(tf.memory().numTensors, before);
  dvae.dispose();
  images.dispose();
  none.dispose();
});
