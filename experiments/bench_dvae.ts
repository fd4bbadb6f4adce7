/**
 * Benchmark: how many images per second does one training step of the default dVAE process,
 * beside the same model in PyTorch?
 *
 * Question: at the benchmark config (32×32 RGB, widths 64·(1, 2, 4), 512 codes, batch 32; loss
 * NLL + 6.6·KL at τ = 1; AdamW), what is our images/s on wasm against
 * `/usr/bin/python3 ../shared/peers/torch_dvae.py` (2 threads), run here as a subprocess?
 * Command: `deno run -A experiments/bench_dvae.ts` (part of `deno task bench`).
 * Runtime: about 1–2 minutes on a 2-core machine.
 * Expected: several times slower than PyTorch: wasm runs one XNNPACK thread where the peer uses
 * two, and the conv gradients are built from forward convolutions and transposes
 * (lib/backend registers them); the backward pass costs about 7× the forward one. A second
 * figure splits the batch over one process per core (`trainDvae`'s `workers`), which is how
 * our training uses both cores.
 *
 * @module
 */
import { initBackend, tf } from "../lib/backend/mod.ts";
import { createDvae, type Dvae, dvaeObjective, trainDvae } from "../lib/dvae/mod.ts";
import { AdamW, paramCount, valueAndGrads } from "../lib/nn/mod.ts";
import { median, runPeer } from "./_peer.ts";

/** One benchmark figure. */
export type BenchRow = Record<string, number | string>;

const BATCH = 32;
const PEER = new URL("../../shared/peers/torch_dvae.py", import.meta.url).pathname;

interface PeerFigures {
  images_per_sec: number;
  sec_per_step: number;
  torch: string;
  threads: number;
}

function runDvaePeer(): Promise<PeerFigures | string> {
  return runPeer<PeerFigures>(PEER, ["--batch", String(BATCH)]);
}

/** Median seconds of one training step (as the peer's: β 6.6, τ 1, AdamW with weight decay). */
function secondsPerStep(dvae: Dvae, warmup: number, steps: number): number {
  const x = tf.randomUniform([BATCH, 32, 32, 3], 0, 1, "float32", 0) as tf.Tensor4D;
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

/** Median images/s of trainDvae's step with the batch split over `workers` processes. */
async function parallelImagesPerSec(workers: number, warmup: number, steps: number) {
  const dvae = createDvae();
  const x = tf.randomUniform([BATCH, 32, 32, 3], 0, 1, "float32", 0) as tf.Tensor4D;
  const run = await trainDvae(dvae, x, {
    steps: warmup + steps,
    batchSize: BATCH,
    beta: 6.6,
    tau: 1,
    lr: 1e-4,
    workers,
  });
  const rates = run.rows.slice(warmup).map((r) => r.images_per_sec as number);
  run.dispose();
  x.dispose();
  dvae.dispose();
  return median(rates);
}

/**
 * Times a training step of the default dVAE on wasm and runs the PyTorch peer.
 *
 * @param options `steps` timed steps @default 5; `peer` run the PyTorch peer @default true.
 * @returns Rows `{ bench, figure, value, unit, peer, ratio }` (ratio = ours / peer).
 * @example
 * ```ts
 * import { benchDvae } from "./bench_dvae.ts";
 * for (const row of await benchDvae({ peer: false, steps: 1 })) console.log(row);
 * ```
 */
export async function benchDvae(
  options: { steps?: number; peer?: boolean } = {},
): Promise<BenchRow[]> {
  await initBackend("wasm");
  const steps = options.steps ?? 5;
  // The peer first, so that it does not compete with our timing for the two cores.
  const peer = (options.peer ?? true) ? await runDvaePeer() : "not run";
  const peerOk = typeof peer !== "string";
  const rows: BenchRow[] = [];
  const add = (figure: string, value: number, unit: string, peerValue?: number) =>
    rows.push({
      bench: "dvae (bench config, batch 32)",
      figure,
      value: Number(value.toPrecision(4)),
      unit,
      peer: peerValue === undefined ? "" : Number(peerValue.toPrecision(4)),
      ratio: peerValue === undefined ? "" : Number((value / peerValue).toFixed(3)),
    });
  const dvae = createDvae();
  rows.push({
    bench: "dvae (bench config, batch 32)",
    figure: "parameters",
    value: paramCount(dvae),
    unit: "count",
    peer: "",
    ratio: "",
  });
  const sec = secondsPerStep(dvae, 2, steps);
  add(
    "training step (β 6.6, τ 1, AdamW)",
    BATCH / sec,
    "images/s",
    peerOk ? peer.images_per_sec : undefined,
  );
  // wasm runs one thread per process: split the batch over one process per core.
  const workers = Math.max(2, navigator.hardwareConcurrency ?? 2);
  add(
    `training step, batch split over ${workers} processes (trainDvae workers)`,
    await parallelImagesPerSec(workers, 2, steps),
    "images/s",
    peerOk ? peer.images_per_sec : undefined,
  );
  rows.push({
    bench: "dvae (bench config, batch 32)",
    figure: "peer",
    value: peerOk ? `torch ${peer.torch}, ${peer.threads} threads` : peer,
    unit: "",
    peer: "",
    ratio: "",
  });
  dvae.dispose();
  return rows;
}

if (import.meta.main) {
  console.table(await benchDvae());
}
