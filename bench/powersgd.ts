/**
 * Benchmark: one PowerSGD step (W = 4 and W = 1 simulated workers) on a 1024×1024 gradient at
 * rank 32 on the backend of this process (`$DALLE_LAB_BACKEND`, else `auto`), beside the same
 * step in PyTorch (`../shared/peers/torch_powersgd.py` under torch 1.13 and 2.13, at 2 and 1
 * threads, run by `deno task bench`).
 *
 * The workload matches the peer's: per worker a fixed 1024×1024 Gaussian gradient, error feedback,
 * warm-start Q, Gram-Schmidt, 3 warm-up steps then the mean of 20 timed steps. Ours orthogonalises
 * in float64 on the host with two Gram-Schmidt passes; the peer does one float32 pass. Ours runs
 * the trainer's reducer protocol (lib/powersgd/reducer.ts through simulate.ts): every simulated
 * worker forms its own P̂·Q'ᵀ for its error buffer, as a real worker does, and the coordinator
 * forms the update, so W + 1 products of n × m where a single-process formulation shares one.
 * The 16-bit rows send IEEE halves; the traffic rows give the bytes one worker sends per step.
 *
 * Command: `deno task bench powersgd`, or `DALLE_LAB_BACKEND=wasm deno run -A
 * bench/powersgd.ts [--quick]`.
 * Runtime: ~10 s per backend. Machines are shared and noisy: compare the ratio, not absolute times.
 *
 * @module
 */
import { initBackend, tf } from "../lib/backend/mod.ts";
import { PowerSGD } from "../lib/powersgd/mod.ts";
import type { BenchOptions, BenchRow, PeerSpecs } from "./_peer.ts";
import { BENCH_QUICK, benchMain } from "./_cli.ts";

const SIZE = { n: 1024, m: 1024, rank: 32, warmupSteps: 3, timedSteps: 20 };
const PEER_SCRIPT = new URL("../../shared/peers/torch_powersgd.py", import.meta.url).pathname;

function timeOurs(
  workers: number,
  orthogonalize: "gram-schmidt" | "householder",
  warmupSteps: number,
  timedSteps: number,
  communication: "float32" | "float16" = "float32",
): { msPerStep: number; bytesPerStep: number } {
  const grads = Array.from({ length: workers }, (_, w) => [
    tf.randomNormal([SIZE.n, SIZE.m], 0, 1, "float32", w + 1), // seed 0 would be unseeded
  ]);
  const psgd = new PowerSGD({ rank: SIZE.rank, workers, orthogonalize, communication });
  const step = () => {
    const out = psgd.step(grads);
    // Wait for the result as the eager peer does; one entry, since reading all 4 MB costs more
    // than the step's arithmetic on wasm.
    tf.tidy(() => out[0].slice([0, 0], [1, 1]).dataSync());
    tf.dispose(out);
  };
  for (let i = 0; i < warmupSteps; i++) step();
  const start = performance.now();
  for (let i = 0; i < timedSteps; i++) step();
  const msPerStep = (performance.now() - start) / timedSteps;
  const bytesPerStep = psgd.stats().bytesSent / psgd.stepCount;
  psgd.dispose();
  tf.dispose(grads.flat());
  return { msPerStep, bytesPerStep };
}

/**
 * The peer runs this bench compares with (`deno task bench` runs them under both torch builds).
 *
 * @param quick Smoke mode: 3 timed steps.
 * @returns Runs `w4` and `w1` (4 and 1 simulated workers), whose JSON has `ms_per_step`.
 * @example
 * ```ts
 * import { powerSgdPeers } from "./powersgd.ts";
 * console.log(powerSgdPeers(true).w4.args);
 * ```
 */
export function powerSgdPeers(quick = false): PeerSpecs {
  const args = (workers: number) => [
    `--n=${SIZE.n}`,
    `--m=${SIZE.m}`,
    `--rank=${SIZE.rank}`,
    `--workers=${workers}`,
    `--steps=${quick ? 3 : SIZE.timedSteps}`,
  ];
  return {
    w4: { script: PEER_SCRIPT, args: args(4) },
    w1: { script: PEER_SCRIPT, args: args(1) },
  };
}

/**
 * Times one PowerSGD step with 4 and 1 workers on the backend of this process, Gram-Schmidt (as
 * the peer), Householder, and Gram-Schmidt with 16-bit communication; reports the bytes a worker
 * sends per step in 32 and 16 bits.
 *
 * @param options `quick`: 1 warm-up and 3 timed steps instead of 3 and 20 @default false.
 * @returns Rows for `deno task bench` (peer figures: runs `w4` and `w1`, `ms_per_step`).
 * @example
 * ```ts
 * import { benchPowerSgd } from "./powersgd.ts";
 * console.table(await benchPowerSgd({ quick: true }));
 * ```
 */
export async function benchPowerSgd(options: BenchOptions = {}): Promise<BenchRow[]> {
  await initBackend();
  const [warmup, timed] = options.quick ? [1, 3] : [SIZE.warmupSteps, SIZE.timedSteps];
  const rows: BenchRow[] = [];
  for (const workers of [4, 1]) {
    const name = `powersgd step ${SIZE.n}×${SIZE.m} r=${SIZE.rank} W=${workers}`;
    const gramSchmidt = timeOurs(workers, "gram-schmidt", warmup, timed);
    rows.push({
      workload: `${name}, Gram-Schmidt (as the peer)`,
      value: +gramSchmidt.msPerStep.toFixed(2),
      unit: "ms",
      peer: { run: `w${workers}`, figure: "ms_per_step" },
    });
    rows.push({
      workload: `${name}, Householder`,
      value: +timeOurs(workers, "householder", warmup, timed).msPerStep.toFixed(2),
      unit: "ms",
    });
    const half = timeOurs(workers, "gram-schmidt", warmup, timed, "float16");
    rows.push({
      workload: `${name}, Gram-Schmidt, 16-bit communication`,
      value: +half.msPerStep.toFixed(2),
      unit: "ms",
    });
    if (workers === 4) {
      for (const [bits, run] of [[32, gramSchmidt], [16, half]] as const) {
        rows.push({
          workload: `${name}, bytes sent per worker per step, ${bits}-bit`,
          value: run.bytesPerStep / 1024,
          unit: "KiB",
        });
      }
    }
  }
  return rows;
}

if (import.meta.main) {
  /** This file's flags when run on its own (`deno task bench` passes the same to it). */
  const BENCH_FLAGS = { ...BENCH_QUICK };
  await benchMain(BENCH_FLAGS, (flags) => benchPowerSgd({ quick: flags.quick }));
}
