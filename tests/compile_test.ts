/**
 * A compiled step (lib/nn's traced tasks, one TensorFlow call per step) against the eager one, for
 * every model the trainer trains through a traceable task: the dVAE (Gumbel noise and schedule
 * values as inputs), the prior (padding, masks, dropout) and the reranker (near misses). One step at
 * the same weights: the loss and every gradient within 1e-5 relative; a short run: the same rows.
 */
import assert from "node:assert/strict";
import { canTrace, COMPILE_ENV, initBackend, tf, traceTotals } from "../lib/backend/mod.ts";
import { makeShapes } from "../lib/data/mod.ts";
import { AdamW, linear, type ShardContext, type TaskGradients } from "../lib/nn/mod.ts";
import { createDvae, trainDvae } from "../lib/dvae/mod.ts";
import { createPrior, type PriorConfig, trainPrior } from "../lib/prior/mod.ts";
import { createReranker, rerankData, trainReranker } from "../lib/rerank/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import * as dvaeTask from "../lib/dvae/_grad_task.ts";
import * as priorTask from "../lib/prior/_grad_task.ts";
import * as rerankTask from "../lib/rerank/_grad_task.ts";

const tracing = (await initBackend()) === "tensorflow" && canTrace();

/** Largest |a − b| over largest |a|, per tensor, the worst over all. */
function worstRelative(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, k) => {
    let diff = 0, size = 0;
    x.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - b[k][i]));
      size = Math.max(size, Math.abs(v));
    });
    worst = Math.max(worst, diff / (size || 1));
  });
  return worst;
}

/** The task's gradients eagerly and compiled (the third call: traced at the first two). */
function oneStep(
  gradients: () => (compile: boolean) => TaskGradients,
): { loss: number; grads: number } {
  const run = gradients();
  const read = (g: TaskGradients) => {
    const out = {
      values: Object.values(g.values).map((v) => Float32Array.from(v as ArrayLike<number>)),
      grads: g.grads.map((t) => t.dataSync() as Float32Array),
    };
    tf.dispose(g.grads);
    return out;
  };
  const eager = read(run(false));
  const compiledBefore = traceTotals().compiled;
  let compiled = read(run(true));
  for (let i = 0; i < 2; i++) compiled = read(run(true));
  assert.equal(traceTotals().compiled, compiledBefore + 3, "each compiled call ran the graph");
  return {
    loss: worstRelative(eager.values, compiled.values),
    grads: worstRelative(eager.grads, compiled.grads),
  };
}

const context = (seed: number, totals: Record<string, number>): ShardContext => ({
  seed,
  shard: 0,
  shards: 1,
  totals,
});

const PRIOR: PriorConfig = {
  textLen: 6,
  textVocab: 12,
  imageGrid: 2,
  imageVocab: 8,
  dModel: 16,
  layers: 2,
  heads: 2,
  masks: ["row", "column"],
  dropout: 0.1,
  padId: 11,
  seed: 1,
};
/** Four captions padded differently at each step (so the text total changes), and images. */
const priorBatch = (step: number) => ({
  text: Int32Array.from({ length: 24 }, (_, i) => i % 6 > 2 + ((step + i) % 3) ? 11 : (i * 7) % 11),
  image: Int32Array.from({ length: 16 }, (_, i) => (i * 3 + step) % 8),
});

Deno.test({
  name: "compiled prior step (padding, row/column masks, dropout) equals the eager one",
  ignore: !tracing,
  fn() {
    const prior = createPrior(PRIOR);
    const b = priorBatch(0);
    const shard = {
      ...b,
      rows: 4,
      textLen: 6,
      imageTokens: 4,
      padId: 11,
      countPadTargets: false,
    };
    const diff = oneStep(() => (compile) =>
      priorTask.gradients(prior, prior.parameters(), shard, {
        ...context(3, priorTask.targets(shard)),
        compile,
      })
    );
    assert.ok(diff.loss <= 1e-5 && diff.grads <= 1e-5, JSON.stringify(diff));
    prior.dispose();
  },
});

Deno.test({
  name: "compiled dVAE step (Gumbel noise, β, τ, marginal KL, dequantisation) equals the eager one",
  ignore: !tracing,
  fn() {
    const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8, seed: 2 });
    const images = Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => ((i * 37) % 256) / 255);
    const shard = { images, shape: [4, 8, 8, 3] as [number, number, number, number] };
    const options = {
      beta: 0.5,
      tau: 0.8,
      straightThrough: false,
      marginalKlWeight: 2,
      infoWeight: 0.1,
      dequantize: true,
    };
    const diff = oneStep(() => (compile) =>
      dvaeTask.gradients(dvae, dvae.parameters(), shard, {
        ...options,
        ...context(5, dvaeTask.targets(shard)),
        compile,
      })
    );
    assert.ok(diff.loss <= 1e-5 && diff.grads <= 1e-5, JSON.stringify(diff));
    dvae.dispose();
  },
});

const SHAPES = await makeShapes({ count: 64, seed: 0, split: "train" });
const TOKENIZER = BpeTokenizer.train(SHAPES.captions, { vocabSize: 300 });
const RERANK_DATA = rerankData({ ...SHAPES, tokenizer: TOKENIZER, nearMisses: 2 });
const RERANKER = {
  textLen: RERANK_DATA.textLen,
  textVocab: TOKENIZER.vocabSize,
  textWidth: 16,
  textLayers: 1,
  textHeads: 2,
  imageChannels: [8, 16, 16],
  embedDim: 16,
  seed: 1,
};

Deno.test({
  name: "compiled reranker step (near misses, learned logit scale) equals the eager one",
  ignore: !tracing,
  fn() {
    const model = createReranker(RERANKER);
    const rows = 8, T = RERANK_DATA.textLen, K = 2, S = 32;
    const shard = {
      images: Float32Array.from({ length: rows * S * S * 3 }, (_, i) => ((i * 13) % 256) / 255),
      ids: RERANK_DATA.ids.slice(0, rows * T),
      rows,
      textLen: T,
      imageSize: S,
      nearMissIds: RERANK_DATA.nearMissIds!.slice(0, rows * K * T),
      nearMisses: K,
      nearMissWeight: 1,
    };
    const diff = oneStep(() => (compile) =>
      rerankTask.gradients(model, model.parameters(), shard, {
        ...context(0, rerankTask.targets(shard)),
        compile,
      })
    );
    assert.ok(diff.loss <= 1e-5 && diff.grads <= 1e-5, JSON.stringify(diff));
    model.dispose();
  },
});

Deno.test({
  name: "compiled training runs give the eager runs' rows: dVAE, prior, reranker",
  ignore: !tracing,
  async fn() {
    const steps = 6;
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(a));
    const compare = (name: string, eager: Record<string, unknown>[], compiled: typeof eager) => {
      assert.equal(compiled.length, steps);
      eager.forEach((row, i) => {
        for (const column of ["loss", "grad_norm"]) {
          assert.ok(
            close(row[column] as number, compiled[i][column] as number),
            `${name} step ${i} ${column}: ${row[column]} eager, ${compiled[i][column]} compiled`,
          );
        }
      });
    };
    const before = traceTotals().compiled;
    const images = tf.tidy(() =>
      tf.randomUniform([16, 8, 8, 3], 0, 1, "float32", 4)
    ) as tf.Tensor4D;
    const dvaeRows = [];
    for (const compile of [false, true]) {
      const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8, seed: 2 });
      const run = await trainDvae(dvae, images, {
        steps,
        batchSize: 4,
        lr: 1e-3,
        tau: linear(1, 0.7, steps), // a schedule: τ is an input, not a constant
        workers: 1,
        compile,
      });
      dvaeRows.push(run.rows);
      run.dispose();
      dvae.dispose();
    }
    images.dispose();
    compare("dVAE", dvaeRows[0], dvaeRows[1]);
    const priorRows = [];
    for (const compile of [false, true]) {
      const prior = createPrior(PRIOR);
      const run = await trainPrior(prior, priorBatch, { steps, lr: 1e-2, workers: 1, compile });
      priorRows.push(run.rows);
      run.dispose();
      prior.dispose();
    }
    compare("prior", priorRows[0], priorRows[1]);
    const rerankRows = [];
    for (const compile of [false, true]) {
      const model = createReranker(RERANKER);
      const run = await trainReranker(model, RERANK_DATA, {
        steps,
        batchSize: 16,
        lr: 3e-3,
        nearMissWeight: 1,
        workers: 1,
        compile,
      });
      rerankRows.push(run.rows);
      run.dispose();
      model.dispose();
    }
    compare("reranker", rerankRows[0], rerankRows[1]);
    // Per step three calls: the forward and backward pass, the gradients' norm, AdamW's update.
    assert.equal(traceTotals().compiled - before, 3 * 3 * steps, "every step came from graphs");
  },
});

Deno.test({
  name: "compile on a backend that cannot trace: eager steps, the same rows, one warning",
  async fn() {
    const previous = tf.getBackend();
    await tf.setBackend("cpu");
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    try {
      const rows = [];
      for (const compile of [false, true]) {
        const prior = createPrior({ ...PRIOR, dropout: 0 });
        const run = await trainPrior(prior, priorBatch, {
          steps: 2,
          lr: 1e-2,
          workers: 1,
          compile,
        });
        rows.push(run.rows.map((r) => r.loss));
        run.dispose();
        prior.dispose();
      }
      assert.deepEqual(rows[0], rows[1]);
      assert.equal(warnings.filter((w) => /cannot trace/.test(w)).length, 1, warnings.join("\n"));
    } finally {
      console.warn = warn;
      await tf.setBackend(previous);
    }
  },
});

Deno.test({
  name:
    "compiled training resumes exactly: killed after a checkpoint at step 3, resumed = unbroken",
  ignore: !tracing,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const weights = async (path: string, options: { resume?: boolean; killAt?: number }) => {
        const prior = createPrior(PRIOR);
        try {
          const run = await trainPrior(prior, priorBatch, {
            steps: 6,
            lr: 1e-2,
            workers: 1,
            compile: true,
            checkpointPath: path,
            checkpointEvery: 3,
            resume: options.resume,
            onStep: (row) => {
              if (row.step === options.killAt) throw new Error("killed");
            },
          });
          run.dispose();
          return prior.parameters().map((p) => Array.from(p.dataSync()));
        } finally {
          prior.dispose();
        }
      };
      const unbroken = await weights(`${dir}/a.safetensors`, {});
      await assert.rejects(() => weights(`${dir}/b.safetensors`, { killAt: 4 }), /killed/);
      // The resumed run traces at steps 3 and 4, the unbroken one at 0 and 1: no difference.
      const resumed = await weights(`${dir}/b.safetensors`, { resume: true });
      assert.deepEqual(resumed, unbroken);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "compiled sampling (one call per position, one graph for all) draws the eager tokens",
  ignore: !tracing,
  async fn() {
    const prior = createPrior({ ...PRIOR, imageGrid: 3, dropout: 0 });
    const text = [Int32Array.from([1, 2, 3, 11, 11, 11]), Int32Array.from([4, 5, 11, 11, 11, 11])];
    const draw = (kvCache: "preallocated" | "compiled") =>
      prior.sample({ text, count: 3, seed: 7, kvCache, returnLogits: true });
    const before = traceTotals();
    const eager = await draw("preallocated");
    const compiled = await draw("compiled");
    const again = await draw("compiled");
    assert.deepEqual(compiled.tokens, eager.tokens);
    assert.deepEqual(again.tokens, eager.tokens);
    assert.ok(worstRelative(eager.logits!, compiled.logits!) <= 1e-5);
    const after = traceTotals();
    // 8 cached positions per draw (the first image token comes from the caption's prefill).
    assert.equal(after.traced - before.traced, 2, "one graph, traced twice, for every position");
    assert.equal(after.compiled - before.compiled, 16);
    prior.dispose();
  },
});

Deno.test({
  name: "a compiled AdamW update (clipped, decayed, with an EMA) equals the eager one",
  ignore: !tracing,
  fn() {
    const run = (compile: boolean) => {
      const w = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]));
      const b = tf.variable(tf.tensor1d([0.1, -0.1]));
      const opt = new AdamW({ lr: 0.1, weightDecay: 0.01, emaDecay: 0.9, compile });
      for (let step = 0; step < 5; step++) {
        const grads = [tf.fill([2, 2], step - 1.5), tf.tensor1d([step, -step])];
        opt.step([w, b], grads, 0.1 / (step + 1), 0.5);
        tf.dispose(grads);
      }
      const out = [w, b].map((p) => p.dataSync() as Float32Array);
      const ema = opt.stateTensors([["w", w], ["b", b]]);
      const emas = ema.map(([, t]) => t.dataSync() as Float32Array);
      tf.dispose(ema.map(([, t]) => t));
      opt.dispose();
      tf.dispose([w, b]);
      return [...out, ...emas];
    };
    assert.ok(worstRelative(run(false), run(true)) <= 1e-6);
  },
});

Deno.test({
  name:
    "trainers compile by default where the backend can trace; DALLE_LAB_COMPILE=0 or false: eager",
  ignore: !tracing,
  async fn() {
    const compiledBy = async (compile?: boolean) => {
      const prior = createPrior({ ...PRIOR, dropout: 0 });
      const run = await trainPrior(prior, priorBatch, { steps: 1, lr: 1e-2, workers: 1, compile });
      run.dispose();
      prior.dispose();
      return run.compiled;
    };
    assert.equal(await compiledBy(), true);
    assert.equal(await compiledBy(false), false);
    Deno.env.set(COMPILE_ENV, "0");
    try {
      assert.equal(await compiledBy(), false);
      assert.equal(await compiledBy(true), true);
    } finally {
      Deno.env.delete(COMPILE_ENV);
    }
  },
});
