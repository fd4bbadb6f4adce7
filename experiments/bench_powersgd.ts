/**
 * Benchmark: one PowerSGD step (W = 4 and W = 1 simulated workers) on a 1024×1024 gradient at
 * rank 32, beside the same step in PyTorch (`../shared/peers/torch_powersgd.py`, run here).
 *
 * The workload matches the peer's: per worker a fixed 1024×1024 Gaussian gradient, error feedback,
 * warm-start Q, Gram-Schmidt, 3 warm-up steps then the mean of 20 timed steps. Ours orthogonalises
 * in float64 on the host with two Gram-Schmidt passes; the peer does one float32 pass.
 *
 * Command: `deno run -A experiments/bench_powersgd.ts` (part of `deno task bench`).
 * Runtime: ~10 s. Machines are shared and noisy: compare the ratio, not absolute times.
 */
import { initBackend, tf } from "../lib/backend/mod.ts";
import { PowerSGD } from "../lib/powersgd/mod.ts";
import { runPeer } from "./_peer.ts";

/** One figure of a benchmark. */
export interface BenchRow {
  bench: string;
  figure: string;
  value: number | string;
  unit: string;
}

const SIZE = { n: 1024, m: 1024, rank: 32, warmupSteps: 3, timedSteps: 20, threads: 2 };
const PEER_SCRIPT = new URL("../../shared/peers/torch_powersgd.py", import.meta.url).pathname;
function timeOurs(workers: number, orthogonalize: "gram-schmidt" | "householder"): number {
  const grads = Array.from({ length: workers }, (_, w) => [
    tf.randomNormal([SIZE.n, SIZE.m], 0, 1, "float32", w),
  ]);
  const psgd = new PowerSGD({ rank: SIZE.rank, workers, orthogonalize });
  const step = () => {
    const out = psgd.step(grads);
    // Wait for the result as the eager peer does; one entry, since reading all 4 MB costs more
    // than the step's arithmetic on wasm.
    tf.tidy(() => out[0].slice([0, 0], [1, 1]).dataSync());
    tf.dispose(out);
  };
  for (let i = 0; i < SIZE.warmupSteps; i++) step();
  const start = performance.now();
  for (let i = 0; i < SIZE.timedSteps; i++) step();
  const msPerStep = (performance.now() - start) / SIZE.timedSteps;
  psgd.dispose();
  tf.dispose(grads.flat());
  return msPerStep;
}

async function timeTorch(workers: number): Promise<{ ms: number; version: string } | string> {
  const args = [
    `--n=${SIZE.n}`,
    `--m=${SIZE.m}`,
    `--rank=${SIZE.rank}`,
    `--workers=${workers}`,
    `--steps=${SIZE.timedSteps}`,
    `--threads=${SIZE.threads}`,
  ];
  const line = await runPeer<{ ms_per_step: number; torch: string }>(PEER_SCRIPT, args);
  return typeof line === "string" ? line : { ms: line.ms_per_step, version: `torch ${line.torch}` };
}

/**
 * Times one PowerSGD step with 4 and 1 workers, ours and PyTorch's, and their ratio.
 *
 * @param options `householder`: also time the Householder variant. @default true
 * @returns Figures: ms per step for each, and ours / torch (above 1: we are slower).
 * @example
 * ```ts
 * import { benchPowerSgd } from "./bench_powersgd.ts";
 * console.table(await benchPowerSgd({ householder: false }));
 * ```
 */
export async function benchPowerSgd(
  options: { householder?: boolean } = {},
): Promise<BenchRow[]> {
  await initBackend("wasm");
  const rows: BenchRow[] = [];
  for (const workers of [4, 1]) {
    const bench = `powersgd step ${SIZE.n}×${SIZE.m} r=${SIZE.rank} W=${workers}`;
    const add = (figure: string, value: number | string, unit: string) =>
      rows.push({ bench, figure, value, unit });
    const ours = timeOurs(workers, "gram-schmidt");
    add("dalle-lab (wasm) ms_per_step", +ours.toFixed(2), "ms");
    const peer = await timeTorch(workers);
    if (typeof peer === "string") {
      add("torch ms_per_step", peer, "");
    } else {
      add(`${peer.version} (${SIZE.threads} threads) ms_per_step`, peer.ms, "ms");
      add("ratio dalle-lab / torch", +(ours / peer.ms).toFixed(2), "×");
    }
    if (options.householder ?? true) {
      add("dalle-lab householder ms_per_step", +timeOurs(workers, "householder").toFixed(2), "ms");
    }
  }
  return rows;
}

if (import.meta.main) console.table(await benchPowerSgd());
