/**
 * Benchmark: how fast does the transformer prior train and sample, beside PyTorch, and is one
 * process or two workers faster for training on this backend?
 *
 * Question: at the benchmark config (32 text tokens, 8×8 image grid, vocabularies 1024/512,
 * d_model 256, 4 layers, 8 heads, MLP 4× GELU, batch 16), how many stream tokens per second does
 * one AdamW step process, and how many image tokens per second does KV-cached sampling draw, on
 * the backend of this process (`$DALLE_LAB_BACKEND`, else `auto`), against the same model in
 * PyTorch (../shared/peers/torch_prior.py under torch 1.13 and 2.13, at 2 and 1 threads, run by
 * `deno task bench`)? Does the cache keep the cost of a token flat from the first image position
 * to the last?
 * Command: `deno task bench prior` (every backend, 1 process and 2 workers, and the peers), or
 * `DALLE_LAB_BACKEND=wasm deno run -A bench/prior.ts [--procs=2] [--quick]`.
 * Runtime: about 2–3 minutes per backend on a 2-core machine.
 * Expected: sampling ms per token about the same at the first and last image position (each step
 * attends at most L = 96 keys, a small part of its work). wasm runs one thread per process, so
 * two workers help its training; TensorFlow uses both cores in one. torch 1.13 at 2 threads can
 * be much slower than at 1 on a shared 2-core machine, hence both thread counts for the peers.
 *
 * The timed model matches the peer's: dense causal masks (a dense implementation pays the same
 * for sparse masks; the paper-mask training figure is reported beside it), fused q/k/v, separate
 * text and image heads, one learned pad embedding per text position, half of each caption
 * padded, text loss 1/8 + image loss 7/8, AdamW at 3e-4. Sampling draws 64 image tokens for each
 * of 16 captions at temperature 1, caption prefill included in the time.
 *
 * @module
 */
import { canTrace, initBackend, tf } from "../lib/backend/mod.ts";
import { AdamW, paramCount, valueAndGrads } from "../lib/nn/mod.ts";
import type { BenchOptions, BenchRow, PeerSpecs } from "./_peer.ts";
import {
  createPrior,
  type KvCacheMode,
  type Prior,
  type PriorConfig,
  trainPrior,
} from "../lib/prior/mod.ts";
import { BENCH_PROCS, BENCH_QUICK, benchMain } from "./_cli.ts";
import { median } from "../lib/io/mod.ts";

/** The benchmark config (the peer's constants T, N, VT, VI, D, L, H). */
export const BENCH_PRIOR_CONFIG: PriorConfig = {
  textLen: 32,
  textVocab: 1024,
  imageGrid: 8,
  imageVocab: 512,
  dModel: 256,
  layers: 4,
  heads: 8,
  masks: "dense",
  padId: 1022,
};
const BATCH = 16;
/** The batch of `--quick` runs, ours and the peer's: a smoke test, not a measurement. */
const QUICK_BATCH = 4;
const PEER = new URL("../../shared/peers/torch_prior.py", import.meta.url).pathname;

/**
 * The peer runs this bench compares with (`deno task bench` runs them under both torch builds).
 *
 * @param quick Smoke mode: 1 warm-up and 2 timed steps.
 * @returns One run, `prior`, whose JSON has `train_tokens_per_sec` and `sample_tokens_per_sec`.
 * @example
 * ```ts
 * import { priorPeers } from "./prior.ts";
 * console.log(priorPeers(true).prior.args);
 * ```
 */
export function priorPeers(quick = false): PeerSpecs {
  const batch = quick ? QUICK_BATCH : BATCH;
  const steps = quick ? ["--steps", "2", "--warmup", "1"] : [];
  return { prior: { script: PEER, args: ["--batch", String(batch), ...steps] } };
}

/**
 * The peer's inputs: random captions with their second half padded, random images.
 *
 * @param batch Captions (and images).
 * @returns (batch, 32) text ids and (batch, 64) image ids, row-major, the same on every call.
 * @example
 * ```ts
 * import { benchInputs } from "./prior.ts";
 * console.log(benchInputs(2).text.length); // 64
 * ```
 */
export function benchInputs(batch: number): { text: Int32Array; image: Int32Array } {
  const { textLen: T, imageGrid: n } = BENCH_PRIOR_CONFIG;
  const text = new Int32Array(batch * T);
  const image = new Int32Array(batch * n * n);
  let s = 1;
  const next = (m: number) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % m;
  };
  for (let i = 0; i < text.length; i++) text[i] = i % T < T / 2 ? next(1000) : 1022;
  for (let i = 0; i < image.length; i++) image[i] = next(512);
  return { text, image };
}

/**
 * Median seconds per AdamW step after warm-up (the median, not the mean, because other work on a
 * shared machine makes single steps slow; the peer reports its mean over 10 steps).
 */
function trainSecondsPerStep(prior: Prior, batch: number, warmup: number, steps: number): number {
  const { textLen: T, imageGrid: n } = prior.config;
  const { text, image } = benchInputs(batch);
  const textT = tf.tensor2d(text, [batch, T], "int32");
  const imageT = tf.tensor2d(image, [batch, n * n], "int32");
  const params = prior.parameters();
  const optimizer = new AdamW({ lr: 3e-4 });
  const step = () => {
    const { loss, grads } = valueAndGrads(params, () => {
      const out = prior.loss(textT, imageT);
      return out.loss;
    });
    optimizer.step(params, grads);
    loss.dataSync();
    tf.dispose([loss, ...grads]);
  };
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    step();
    times.push((performance.now() - start) / 1000);
  }
  const seconds = median(times);
  optimizer.dispose();
  tf.dispose([textT, imageT]);
  return seconds;
}

/**
 * Median tokens/s of trainPrior's steps with each batch split over `workers` processes; compiled
 * (`compile`), its first two steps are the traces and count as warm-up.
 */
async function trainerTokensPerSec(
  batch: number,
  workers: number,
  warmup: number,
  steps: number,
  compile = false,
) {
  const prior = createPrior(BENCH_PRIOR_CONFIG);
  const run = await trainPrior(prior, [benchInputs(batch)], {
    steps: warmup + steps,
    lr: 3e-4,
    workers,
    compile,
  });
  run.dispose();
  prior.dispose();
  return median(run.rows.slice(warmup).map((r) => r.tokens_per_sec as number));
}

/**
 * Sampling figures: best-of-runs tokens/s, and the median ms of a cached step at image positions
 * 1–8 and 56–63.
 */
async function sampleFigures(
  prior: Prior,
  batch: number,
  kvCache: KvCacheMode,
  runs: number,
): Promise<{ tokensPerSec: number; firstMs: number; lastMs: number; prefillMs: number }> {
  const { textLen: T } = prior.config;
  const { text } = benchInputs(batch);
  const captions = Array.from({ length: batch }, (_, b) => text.slice(b * T, (b + 1) * T));
  await prior.sample({ text: captions, seed: 0, kvCache }); // warm-up
  let best = Infinity;
  const firsts: number[] = [], lasts: number[] = [], prefills: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    const result = await prior.sample({ text: captions, seed: r + 1, kvCache });
    best = Math.min(best, (performance.now() - start) / 1000);
    // Entry 0 only draws from the prefill's logits; entry 1 is the first cached layer pass.
    // Eight positions at each end, pooled over runs, so one disturbed step does not decide.
    const steps = result.stepMs.length;
    firsts.push(...result.stepMs.subarray(1, 9));
    lasts.push(...result.stepMs.subarray(steps - 8, steps));
    prefills.push(result.prefillMs);
  }
  const imageTokens = prior.config.imageGrid ** 2;
  return {
    tokensPerSec: (batch * imageTokens) / best,
    firstMs: median(firsts),
    lastMs: median(lasts),
    prefillMs: median(prefills),
  };
}

/**
 * Times training and sampling of the benchmark prior on the backend of this process.
 *
 * @param options `procs`: 1 (bare training loop as the peer, `trainPrior`, sampling, paper
 *   masks) or 2 (`trainPrior` with 2 workers) @default 1; `quick`: batch 4, 1 warm-up and 2
 *   timed steps or sampling runs, instead of batch 16, 2 and 5 @default false.
 * @returns Rows for `deno task bench` (peer figures: run `prior`).
 * @example
 * ```ts
 * import { benchPrior } from "./prior.ts";
 * for (const row of await benchPrior({ quick: true })) console.log(row);
 * ```
 */
export async function benchPrior(options: BenchOptions = {}): Promise<BenchRow[]> {
  await initBackend();
  const procs = options.procs ?? 1;
  const [warmup, trainSteps, sampleRuns] = options.quick ? [1, 2, 2] : [2, 5, 5];
  const batch = options.quick ? QUICK_BATCH : BATCH;
  const rows: BenchRow[] = [];
  const round = (v: number) => Number(v.toPrecision(4));
  const train = { run: "prior", figure: "train_tokens_per_sec" };
  const sample = { run: "prior", figure: "sample_tokens_per_sec" };
  const streamTokens = batch * (32 + 64);

  if (procs === 1) {
    const dense = createPrior(BENCH_PRIOR_CONFIG);
    rows.push({ workload: "prior parameters", value: paramCount(dense), unit: "count" });
    rows.push({
      workload: `prior training, batch ${batch}, dense masks (bare loop, as the peer)`,
      value: round(streamTokens / trainSecondsPerStep(dense, batch, warmup, trainSteps)),
      unit: "tokens/s",
      procs,
      peer: train,
    });
    const modes: KvCacheMode[] = [
      "concat",
      "preallocated",
      ...canTrace() ? ["compiled" as const] : [],
    ];
    for (const kvCache of modes) {
      const s = await sampleFigures(dense, batch, kvCache, sampleRuns);
      const tag =
        { concat: "", preallocated: ", preallocated cache", compiled: ", compiled" }[kvCache];
      const cache = {
        concat: "KV cache (concat, default)",
        preallocated: "preallocated KV cache",
        compiled: "compiled: one TensorFlow call per position",
      }[kvCache];
      rows.push({
        workload: `prior sampling ${batch} × 64 image tokens, ${cache}`,
        value: round(s.tokensPerSec),
        unit: "tokens/s",
        procs,
        peer: sample,
      });
      rows.push({
        workload: `prior sampling ms/token at image positions 1–8${tag}`,
        value: round(s.firstMs),
        unit: "ms",
      });
      rows.push({
        workload: `prior sampling ms/token at image positions 56–63${tag}`,
        value: round(s.lastMs),
        unit: "ms",
      });
      if (kvCache === "concat") {
        rows.push({
          workload: `prior caption prefill (${batch} × 32 tokens)`,
          value: round(s.prefillMs),
          unit: "ms",
        });
      }
    }
    dense.dispose();
    const paper = createPrior({ ...BENCH_PRIOR_CONFIG, masks: "paper" });
    const paperSec = trainSecondsPerStep(paper, batch, 1, options.quick ? 2 : 3);
    rows.push({
      workload: `prior training, batch ${batch}, paper masks: row, column, row, conv (bare loop)`,
      value: round(streamTokens / paperSec),
      unit: "tokens/s",
      procs,
    });
    paper.dispose();
  }
  rows.push({
    workload: `prior training, batch ${batch}, dense masks (trainPrior)`,
    value: round(await trainerTokensPerSec(batch, procs, warmup, trainSteps)),
    unit: "tokens/s",
    procs,
    peer: train,
  });
  if (canTrace()) {
    rows.push({
      workload:
        `prior training, batch ${batch}, dense masks (trainPrior, compiled: one TensorFlow call)`,
      value: round(
        await trainerTokensPerSec(batch, procs, Math.max(3, warmup), trainSteps, true),
      ),
      unit: "tokens/s",
      procs,
      peer: train,
    });
  }
  return rows;
}

if (import.meta.main) {
  /** This file's flags when run on its own (`deno task bench` passes the same to it). */
  const BENCH_FLAGS = { ...BENCH_QUICK, ...BENCH_PROCS };
  await benchMain(BENCH_FLAGS, (flags) => benchPrior({ quick: flags.quick, procs: flags.procs }));
}
