/**
 * Benchmark: how many images per second does one training step of the default dVAE process,
 * beside the same model in PyTorch, and is one process or two workers faster on this backend?
 *
 * Question: at the benchmark config (32×32 RGB, widths 64·(1, 2, 4), 512 codes, batch 32; loss
 * NLL + 6.6·KL at τ = 1; AdamW), what is our images/s on the backend of this process
 * (`$DALLE_LAB_BACKEND`, else `auto`) against `../shared/peers/torch_dvae.py` under torch 1.13
 * and 2.13 (run by `deno task bench`, at 2 and 1 threads)? And with the batch split over one
 * process or two workers (`trainDvae`'s `workers`)?
 * Command: `deno task bench dvae` (every backend, 1 process and 2 workers, and the peers), or
 * `DALLE_LAB_BACKEND=wasm deno run -A bench/dvae.ts [--procs=2] [--quick]`.
 * Runtime: about 1–2 minutes per backend on a 2-core machine.
 * Expected: wasm runs one XNNPACK thread per process, so 2 workers nearly double its images/s;
 * TensorFlow already uses both cores in one process, so 2 workers mostly add overhead there. The
 * bare loop is the peer's step; `trainDvae` adds what training does besides (EMA weights,
 * gradient-norm check, codebook usage), one read-back per step in both.
 *
 * @module
 */
import { canTrace, initBackend, tf } from "../lib/backend/mod.ts";
import { createDvae, type Dvae, dvaeObjective, trainDvae } from "../lib/dvae/mod.ts";
import { AdamW, paramCount, valueAndGrads } from "../lib/nn/mod.ts";
import type { BenchOptions, BenchRow, PeerSpecs } from "./_peer.ts";
import { RunLog } from "../lib/log/mod.ts";
import { BENCH_PROCS, BENCH_QUICK, benchMain } from "./_cli.ts";
import { median } from "../lib/io/mod.ts";

const BATCH = 32;
/** The batch of `--quick` runs, ours and the peer's: a smoke test, not a measurement. */
const QUICK_BATCH = 8;
const PEER = new URL("../../shared/peers/torch_dvae.py", import.meta.url).pathname;

/**
 * The peer runs this bench compares with (`deno task bench` runs them under both torch builds).
 *
 * @param quick Smoke mode: batch 8, 1 warm-up and 2 timed steps.
 * @returns One run, `step`, whose JSON has `images_per_sec`.
 * @example
 * ```ts
 * import { dvaePeers } from "./dvae.ts";
 * console.log(dvaePeers(true).step.args);
 * ```
 */
export function dvaePeers(quick = false): PeerSpecs {
  const batch = quick ? QUICK_BATCH : BATCH;
  const steps = quick ? ["--steps", "2", "--warmup", "1"] : [];
  return { step: { script: PEER, args: ["--batch", String(batch), ...steps] } };
}

/** Median seconds of one training step (as the peer's: β 6.6, τ 1, AdamW with weight decay). */
function secondsPerStep(dvae: Dvae, batch: number, warmup: number, steps: number): number {
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 0) as tf.Tensor4D;
  const params = dvae.parameters();
  const optimizer = new AdamW({ lr: 1e-4, weightDecay: 1e-4 });
  const step = (seed: number) => {
    const { loss, grads } = valueAndGrads(params, () => {
      const out = dvaeObjective(dvae, x, { beta: 6.6, tau: 1, seed });
      tf.dispose([out.reconNll, out.kl, out.marginalKl, out.elbBitsPerDim, out.logits]);
      return out.loss;
    });
    optimizer.step(params, grads);
    loss.dataSync(); // one read-back per step, as a training loop logs
    tf.dispose([loss, ...grads]);
  };
  for (let i = 0; i < warmup; i++) step(i);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    step(warmup + i);
    times.push((performance.now() - start) / 1000);
  }
  optimizer.dispose();
  x.dispose();
  return median(times);
}

/**
 * Median images/s of trainDvae's step with the batch split over `workers` processes; compiled
 * (`compile`), its first two steps are the traces and count as warm-up.
 */
async function trainerImagesPerSec(
  batch: number,
  workers: number,
  warmup: number,
  steps: number,
  compile = false,
) {
  const dvae = createDvae();
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 0) as tf.Tensor4D;
  const run = await trainDvae(dvae, x, {
    steps: warmup + steps,
    batchSize: batch,
    beta: 6.6,
    tau: 1,
    lr: 1e-4,
    workers,
    log: await RunLog.create({ experiment: "bench_dvae", write: false, printEvery: 0 }),
    compile,
  });
  const rates = run.rows.slice(warmup).map((r) => r.images_per_sec as number);
  run.dispose();
  x.dispose();
  dvae.dispose();
  return median(rates);
}

/**
 * Times a training step of the default dVAE on the backend of this process.
 *
 * @param options `procs`: 1 (the bare loop, as the peer, and `trainDvae` in one process) or
 *   2 (`trainDvae` with 2 workers) @default 1; `quick`: batch 8, 1 warm-up and 2 timed steps,
 *   instead of batch 32, 2 and 5 @default false.
 * @returns Rows for `deno task bench` (peer figure: run `step`, `images_per_sec`).
 * @example
 * ```ts
 * import { benchDvae } from "./dvae.ts";
 * for (const row of await benchDvae({ quick: true })) console.log(row);
 * ```
 */
export async function benchDvae(options: BenchOptions = {}): Promise<BenchRow[]> {
  await initBackend();
  const procs = options.procs ?? 1;
  const [warmup, steps] = options.quick ? [1, 2] : [2, 5];
  const batch = options.quick ? QUICK_BATCH : BATCH;
  const peer = { run: "step", figure: "images_per_sec" };
  const round = (v: number) => Number(v.toPrecision(4));
  const rows: BenchRow[] = [];
  if (procs === 1) {
    const dvae = createDvae();
    rows.push({ workload: "dvae parameters", value: paramCount(dvae), unit: "count" });
    rows.push({
      workload: `dvae training step, batch ${batch} (bare loop, as the peer)`,
      value: round(batch / secondsPerStep(dvae, batch, warmup, steps)),
      unit: "images/s",
      procs,
      peer,
    });
    dvae.dispose();
  }
  rows.push({
    workload: `dvae training step, batch ${batch} (trainDvae)`,
    value: round(await trainerImagesPerSec(batch, procs, warmup, steps)),
    unit: "images/s",
    procs,
    peer,
  });
  if (canTrace()) {
    rows.push({
      workload: `dvae training step, batch ${batch} (trainDvae, compiled: one TensorFlow call)`,
      value: round(await trainerImagesPerSec(batch, procs, Math.max(3, warmup), steps, true)),
      unit: "images/s",
      procs,
      peer,
    });
  }
  return rows;
}

if (import.meta.main) {
  /** This file's flags when run on its own (`deno task bench` passes the same to it). */
  const BENCH_FLAGS = { ...BENCH_QUICK, ...BENCH_PROCS };
  await benchMain(BENCH_FLAGS, (flags) => benchDvae({ quick: flags.quick, procs: flags.procs }));
}
