import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  constant,
  Linear,
  linear,
  meanReducer,
  type ModelTrainOptions,
  NonFiniteError,
  Rng,
  shardSizes,
  train,
  type TrainOptions,
  trainOptionsOf,
  type TrainSpec,
  warmupCosine,
} from "./mod.ts";
import type { Rows } from "./testdata/linear_task.ts";

await initBackend();

const TASK = new URL("./testdata/linear_task.ts", import.meta.url).href;
const W_TRUE = [1.5, -2, 0.5];

/** Batch `step`: 7 rows, of which the last `pad(step)` are padding (zeros, mask 0). */
function batchOf(step: number, nanAt: Set<number> = new Set()): Rows {
  const rng = new Rng(100 + step);
  const pad = step % 4;
  const x = new Float32Array(7 * 3), y = new Float32Array(7), mask = new Float32Array(7);
  for (let r = 0; r < 7 - pad; r++) {
    for (let k = 0; k < 3; k++) x[r * 3 + k] = rng.normal();
    y[r] = W_TRUE.reduce((s, w, k) => s + w * x[r * 3 + k], 0.25);
    mask[r] = 1;
  }
  if (nanAt.has(step)) y[0] = NaN;
  return { x, y, mask };
}

function specOf(model: Linear, nanAt?: Set<number>): TrainSpec<Rows, Rows> {
  return {
    name: "linear",
    model,
    taskUrl: TASK,
    config: { seed: 3 },
    batchAt: (step) => batchOf(step, nanAt),
    split(batch, count) {
      let start = 0;
      return shardSizes(batch.y.length, count).map((rows) => {
        const shard = {
          x: batch.x.slice(start * 3, (start + rows) * 3),
          y: batch.y.slice(start, start + rows),
          mask: batch.mask.slice(start, start + rows),
        };
        start += rows;
        return shard;
      });
    },
    unit: "rows",
    size: (batch) => batch.mask.reduce((a, b) => a + b, 0),
    metrics: (values) => ({ loss: values.reduce((s, v) => s + v.loss[0], 0) }),
  };
}

const OPTIONS: TrainOptions = { steps: 40, lr: 0.05, seed: 1, workers: 1 };

Deno.test("train: 1, 2 and 3 shards take the same steps, however unevenly padding falls", async () => {
  const finals: Float32Array[][] = [];
  const losses: number[][] = [];
  for (const workers of [1, 2, 3]) {
    const model = new Linear(3, 1, { seed: 3 });
    const run = await train(specOf(model), { ...OPTIONS, workers });
    finals.push(model.parameters().map((p) => p.dataSync() as Float32Array));
    losses.push(run.rows.map((r) => r.loss as number));
    assert.ok((run.rows.at(-1)!.loss as number) < 0.05 * (run.rows[0].loss as number));
    run.dispose();
    model.dispose();
  }
  for (const other of [1, 2]) {
    losses[0].forEach((l, i) => assert.ok(Math.abs(l - losses[other][i]) < 1e-5, `step ${i}`));
    finals[0].forEach((w, j) =>
      w.forEach((v, k) => assert.ok(Math.abs(v - finals[other][j][k]) < 1e-5, `param ${j}[${k}]`))
    );
  }
});

Deno.test("train: bytes sent are the payloads' size; 16-bit halves them", async () => {
  const sent: number[] = [];
  for (const bits of [32, 16] as const) {
    const model = new Linear(3, 1, { seed: 3 });
    const run = await train(specOf(model), {
      ...OPTIONS,
      steps: 3,
      workers: 2,
      reducer: meanReducer({ bits }),
    });
    sent.push(run.rows[0].bytes_sent as number);
    run.dispose();
    model.dispose();
  }
  assert.deepEqual(sent, [4 * 4, 2 * 4], "4 values (3 weights + 1 bias) per shard");
});

Deno.test("train: a non-finite step is skipped and counted; K in a row stop the run with the step and parameter", async () => {
  const model = new Linear(3, 1, { seed: 3 });
  const run = await train(specOf(model, new Set([2, 5])), { ...OPTIONS, steps: 8 });
  const skipped = run.rows.filter((r) => r.skipped).map((r) => r.step);
  assert.deepEqual(skipped, [2, 5]);
  assert.equal(run.rows.at(-1)!.skipped_steps, 2);
  assert.equal(run.skippedSteps, 2);
  assert.ok(run.rows.every((r) => r.step === 2 || r.step === 5 || Number.isFinite(r.loss)));
  run.dispose();

  const before = model.parameters().map((p) => p.dataSync().slice());
  const bad = new Set([10, 11, 12, 13, 14]);
  const err = await train(specOf(model, bad), {
    ...OPTIONS,
    steps: 20,
    maxConsecutiveSkips: 3,
  }).then(() => null, (e) => e);
  assert.ok(err instanceof NonFiniteError, `not a NonFiniteError: ${err}`);
  assert.equal(err.step, 12);
  assert.equal(err.parameter, "weight");
  assert.match(
    err.message,
    /^linear: 3 consecutive steps skipped, the last at step 12 \(loss NaN\); first non-finite gradient: "weight"$/,
  );
  assert.notDeepEqual(model.parameters()[0].dataSync(), before[0], "steps 0–9 were taken");
  model.dispose();
});

Deno.test("train: tensor count flat over 200 steps, and back where it started", async () => {
  const model = new Linear(3, 1, { seed: 3 });
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const run = await train(specOf(model), {
    ...OPTIONS,
    steps: 200,
    adamw: { emaDecay: 0.9 },
    onStep: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  run.dispose();
  assert.ok(counts.every((c) => c === counts[0]), `counts ${counts.slice(0, 5)}…`);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("train: resuming refuses another model config and another worker count", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/checkpoint.safetensors`;
  try {
    const model = new Linear(3, 1, { seed: 3 });
    (await train(specOf(model), { ...OPTIONS, steps: 2, checkpointPath: path })).dispose();
    const other = { ...specOf(model), config: { seed: 3, width: 4 } };
    await assert.rejects(
      () => train(other, { ...OPTIONS, checkpointPath: path, resume: true }),
      /checkpoint\.safetensors was written for another linear: model\.width is undefined there, 4 here/,
    );
    await assert.rejects(
      () => train(specOf(model), { ...OPTIONS, workers: 2, checkpointPath: path, resume: true }),
      /written by a run with 1 workers; resume it with --workers=1/,
    );
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train: a step size that is negative at some step or 0 at all is an error before any work", async () => {
  const model = new Linear(3, 1, { seed: 3 });
  const before = tf.memory().numTensors;
  const reject = (lr: TrainOptions["lr"], message: string) =>
    assert.rejects(
      () => train(specOf(model), { ...OPTIONS, steps: 10, lr }),
      (e: Error) => e.constructor === RangeError && e.message === message,
    );
  // A warm-up from 0 hides a negative peak at step 0: every step is read up front.
  await reject(
    warmupCosine(-1e-3, 5, 10),
    "lr must be a finite number ≥ 0 at every step, got -0.0002 at step 1 (warmup 5 then cosine -0.001→-0.0001 by 10)",
  );
  await assert.rejects(
    () => train(specOf(model), { ...OPTIONS, steps: 10, lr: linear(1e-3, -1e-3, 10) }),
    /^RangeError: lr must be a finite number ≥ 0 at every step, got -0\.000199+\d* at step 6 \(linear 0\.001→-0\.001 over 10\)$/,
  );
  await reject(constant(0), "lr must be > 0 at some step, got 0 at all 10 (constant 0)");
  await reject(-0.05, "AdamW lr must be a finite number > 0, got -0.05");
  await assert.rejects(
    () => train(specOf(model), { ...OPTIONS, adamw: { emaDecay: 1 } }),
    /^RangeError: AdamW emaDecay must be in \[0, 1\), got 1$/,
  );
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("trainOptionsOf: the peak, the final step size and AdamW's settings are checked at once", () => {
  const defaults = { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1, clipNorm: 1 };
  const check = (options: Partial<ModelTrainOptions>, message: string) =>
    assert.throws(
      () => trainOptionsOf({ steps: 100, ...options }, defaults),
      (e: Error) => e.constructor === RangeError && e.message === message,
    );
  check({ lr: -1e-3 }, "AdamW lr must be a finite number > 0, got -0.001");
  check({ lr: 0 }, "AdamW lr must be a finite number > 0, got 0");
  check({ finalLr: -1e-5 }, "finalLr must be a finite number ≥ 0, got -0.00001");
  check({ eps: 0 }, "AdamW eps must be a finite number > 0, got 0");
  check({ weightDecay: -1 }, "AdamW weightDecay must be a finite number ≥ 0, got -1");
  check({ emaDecay: 1.5 }, "AdamW emaDecay must be in [0, 1), got 1.5");
  assert.throws(
    () => trainOptionsOf({ steps: 100 }, { ...defaults, beta2: 1 }),
    /AdamW beta2 must be in \[0, 1\), got 1$/,
  );
});
