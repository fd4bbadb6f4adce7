/**
 * Benchmark: forward and forward + backward of one 16×32×32×64 → 64, 3×3 conv layer ("same"
 * padding) on the backend of this process (`$DALLE_LAB_BACKEND`, else `auto`): `tensorflow`,
 * `wasm` (with dalle-lab's Conv2DBackpropFilter) or the pure-JS `cpu`, where only the forward pass
 * is timed (its backward pass is a plain JavaScript loop that takes minutes).
 *
 * Command: `deno task bench conv` (every backend), or `DALLE_LAB_BACKEND=wasm deno run -A
 * bench/backend.ts [--quick]`. Runtime: ~10 s per backend, ~30 s on cpu.
 *
 * @module
 */
import { initBackend, tf } from "../lib/backend/mod.ts";
import type { BenchOptions, BenchRow } from "./_peer.ts";
import { BENCH_QUICK, benchMain } from "./_cli.ts";

const SHAPE = { batch: 16, size: 32, inCh: 64, outCh: 64, kernel: 3 };
// Forward, input gradient and kernel gradient each cost 2·B·H·W·Cin·Cout·k² flops.
const FLOPS_PER_PASS = 2 * SHAPE.batch * SHAPE.size * SHAPE.size * SHAPE.inCh * SHAPE.outCh *
  SHAPE.kernel * SHAPE.kernel;

function timeConv(repeats: number, backward: boolean): { fwdMs: number; fwdBwdMs: number } {
  const x = tf.randomNormal(
    [SHAPE.batch, SHAPE.size, SHAPE.size, SHAPE.inCh],
    0,
    1,
    "float32",
    1,
  ) as tf.Tensor4D;
  const w = tf.randomNormal(
    [SHAPE.kernel, SHAPE.kernel, SHAPE.inCh, SHAPE.outCh],
    0,
    0.05,
    "float32",
    2,
  ) as tf.Tensor4D;
  const fwd = () => tf.tidy(() => tf.conv2d(x, w, 1, "same").sum().dataSync()[0]);
  const fwdBwd = () =>
    tf.tidy(() => {
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same").square().sum()
      )([x, w]);
      return dx.sum().add(dw.sum()).dataSync()[0];
    });
  fwd(); // warm-up: kernel set-up, memory growth
  if (backward) fwdBwd();
  let t = performance.now();
  for (let i = 0; i < repeats; i++) fwd();
  const fwdMs = (performance.now() - t) / repeats;
  let fwdBwdMs = NaN;
  if (backward) {
    t = performance.now();
    for (let i = 0; i < repeats; i++) fwdBwd();
    fwdBwdMs = (performance.now() - t) / repeats;
  }
  tf.dispose([x, w]);
  return { fwdMs, fwdBwdMs };
}

/**
 * Runs the conv benchmark on the backend of this process.
 *
 * @param options `quick`: 2 timed repeats instead of 5 @default false.
 * @returns Rows for `deno task bench`: ms and GFLOP/s, forward and (except on cpu) backward.
 * @example
 * ```ts
 * import { benchBackend } from "./backend.ts";
 * for (const row of await benchBackend({ quick: true })) console.log(row);
 * ```
 */
export async function benchBackend(options: BenchOptions = {}): Promise<BenchRow[]> {
  const backend = await initBackend();
  const backward = backend !== "cpu";
  const { fwdMs, fwdBwdMs } = timeConv(options.quick ? 2 : 5, backward);
  const rows: BenchRow[] = [];
  const add = (workload: string, value: number, unit: string) =>
    rows.push({ workload: `conv 16×32×32×64 3×3 ${workload}`, value, unit });
  add("forward", +fwdMs.toFixed(1), "ms");
  add("forward", +(FLOPS_PER_PASS / fwdMs / 1e6).toFixed(1), "GFLOP/s");
  if (backward) {
    add("forward+backward", +fwdBwdMs.toFixed(1), "ms");
    add("forward+backward", +((3 * FLOPS_PER_PASS) / fwdBwdMs / 1e6).toFixed(1), "GFLOP/s");
  }
  return rows;
}

if (import.meta.main) {
  /** This file's flags when run on its own (`deno task bench` passes the same to it). */
  const BENCH_FLAGS = { ...BENCH_QUICK };
  await benchMain(BENCH_FLAGS, (flags) => benchBackend({ quick: flags.quick }));
}
