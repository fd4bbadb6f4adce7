import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { loadCheckpoint, warmupCosine } from "../nn/mod.ts";
import {
  createPrior,
  loadPrior,
  type PriorBatch,
  type PriorConfig,
  savePrior,
  trainPrior,
} from "./mod.ts";

await initBackend();
// These tests train in this process (`workers: 1`) unless they are about workers: the trainers'
// default, defaultWorkers(), is one process per core on wasm.

const T = 4, n = 2;
const CONFIG: PriorConfig = {
  textLen: T,
  textVocab: 12,
  imageGrid: n,
  imageVocab: 8,
  dModel: 16,
  layers: 2,
  heads: 2,
  convKernel: 3,
  seed: 1,
};

// Two captions, each always followed by its own image: learnable exactly.
const BATCH: PriorBatch = {
  text: new Int32Array([1, 2, 10, 10, 3, 4, 5, 10]),
  image: new Int32Array([0, 1, 2, 3, 7, 6, 5, 4]),
};

Deno.test("trainPrior: the loss falls, rows hold the metrics, lr follows warm-up + cosine", async () => {
  const prior = createPrior(CONFIG);
  const run = await trainPrior(prior, [BATCH], {
    steps: 40,
    lr: 1e-2,
    warmupSteps: 4,
    workers: 1,
  });
  const rows = run.rows;
  assert.equal(rows.length, 40);
  const first = rows[0], last = rows[39];
  assert.ok((last.loss as number) < 0.3 * (first.loss as number), `${first.loss} → ${last.loss}`);
  assert.ok((last.image_loss_nats as number) < (first.image_loss_nats as number));
  const expected = warmupCosine(1e-2, 4, 40, 1e-3);
  rows.forEach((row, i) => {
    assert.equal(row.step, i);
    assert.ok(Math.abs((row.lr as number) - expected.at(i)) < 1e-12);
    assert.equal(row.skipped, false);
    assert.ok(
      Math.abs((row.image_bits_per_token as number) - (row.image_loss_nats as number) / Math.LN2) <
        1e-9,
    );
    const weighted = (row.text_loss_nats as number) / 8 + (7 * (row.image_loss_nats as number)) / 8;
    assert.ok(Math.abs((row.loss as number) - weighted) < 1e-5);
  });
  run.dispose();
  prior.dispose();
});

Deno.test("trainPrior: tensor count flat over 200 steps and back to the start afterwards", async () => {
  const prior = createPrior({ ...CONFIG, dropout: 0.1 });
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const batchAt = (step: number) => ({
    ...BATCH,
    image: BATCH.image.map((v) => (v + step) % 8),
  });
  const run = await trainPrior(prior, batchAt, {
    steps: 200,
    workers: 1,
    onStep: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  run.dispose();
  assert.ok(counts.every((c) => c === counts[0]), `counts ${counts}`);
  assert.equal(tf.memory().numTensors, before);
  prior.dispose();
});

Deno.test("trainPrior writes a checkpoint; savePrior/loadPrior round-trip gives the same logits", async () => {
  const dir = await Deno.makeTempDir();
  const prior = createPrior(CONFIG);
  const run = await trainPrior(prior, [BATCH], {
    steps: 3,
    lr: 1e-2,
    workers: 1,
    checkpointPath: `${dir}/ckpt.safetensors`,
  });
  run.dispose();
  const resumed = createPrior(CONFIG);
  const { step, config } = await loadCheckpoint(`${dir}/ckpt.safetensors`, { model: resumed });
  assert.equal(step, 3);
  assert.equal((config as { model: { dModel: number } }).model.dModel, 16);
  await savePrior(`${dir}/prior.safetensors`, prior, { tokenizer: "tok.json" });
  const { model: loaded, metadata } = await loadPrior(`${dir}/prior.safetensors`);
  assert.equal(metadata.tokenizer, "tok.json");
  assert.deepEqual(loaded.config, prior.config);
  const text = tf.tensor2d(BATCH.text, [2, T], "int32");
  const image = tf.tensor2d(BATCH.image, [2, n * n], "int32");
  const logits = [prior, resumed, loaded].map((m) => m.forward(text, image));
  const base = logits[0].imageLogits.dataSync();
  for (const other of logits.slice(1)) assert.deepEqual(other.imageLogits.dataSync(), base);
  tf.dispose([text, image, ...logits.flatMap((l) => [l.textLogits, l.imageLogits])]);
  await assert.rejects(() => trainPrior(prior, [], { steps: 1, workers: 1 }), /at least one batch/);
  await assert.rejects(
    () =>
      trainPrior(prior, [{ text: new Int32Array(4), image: new Int32Array(3) }], {
        steps: 1,
        workers: 1,
      }),
    /B·4 text ids and B·4 image ids, got 4 and 3/,
  );
  [prior, resumed, loaded].forEach((m) => m.dispose());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("trainPrior with 2 and 3 workers matches 1 worker (no dropout), pads unevenly spread", async () => {
  // Five rows with 1, 3, 2, 3 and 1 text targets (pads not counted): shards of 3+2 or 2+2+1 hold
  // different shares of the targets, and the step must still be the whole batch's.
  const config = { ...CONFIG, countPadTargets: false, padId: 10 };
  const batch: PriorBatch = {
    text: new Int32Array([1, 2, 10, 10, 3, 4, 5, 6, 3, 4, 5, 10, 1, 2, 3, 4, 7, 8, 10, 10]),
    image: new Int32Array(Array.from({ length: 5 * n * n }, (_, i) => (i * 3) % 8)),
  };
  const losses: number[][] = [];
  const finals: Float32Array[][] = [];
  for (const workers of [1, 2, 3]) {
    const prior = createPrior(config);
    const run = await trainPrior(prior, [batch], { steps: 6, lr: 1e-2, warmupSteps: 1, workers });
    losses.push(run.rows.map((r) => r.loss as number));
    finals.push(prior.parameters().map((p) => p.dataSync() as Float32Array));
    run.dispose();
    prior.dispose();
  }
  for (const other of [1, 2]) {
    losses[0].forEach((l, i) =>
      assert.ok(Math.abs(l - losses[other][i]) < 1e-5, `step ${i}: ${losses}`)
    );
    finals[0].forEach((w, j) =>
      w.forEach((v, k) => assert.ok(Math.abs(v - finals[other][j][k]) < 1e-4, `param ${j}[${k}]`))
    );
  }
  const prior = createPrior(CONFIG);
  await assert.rejects(
    () => trainPrior(prior, [BATCH], { steps: 1, workers: 3 }),
    /cannot be split over 3/,
  );
  prior.dispose();
});
