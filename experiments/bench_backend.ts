/**
 * Benchmark: forward + backward of one 16×32×32×64 → 64, 3×3 conv layer ("same" padding) on the
 * `wasm` backend (with dalle-lab's Conv2DBackpropFilter) and on the pure-JS `cpu` backend.
 *
 * Command: `deno run -A experiments/bench_backend.ts` (part of `deno task bench`). Runtime: ~1 min
 * with the cpu backend (`--no-cpu` skips it); the cpu pass takes one to several minutes (its
 * backward pass is a plain JavaScript loop; on a loaded 2-core machine we measured 455 s).
 */
import { initBackend, tf } from "../lib/backend/mod.ts";

/** One figure of a benchmark. */
export interface BenchRow {
  bench: string;
  figure: string;
  value: number | string;
  unit: string;
}

const SHAPE = { batch: 16, size: 32, inCh: 64, outCh: 64, kernel: 3 };
// Forward, input gradient and kernel gradient each cost 2·B·H·W·Cin·Cout·k² flops.
const FLOPS_PER_PASS = 2 * SHAPE.batch * SHAPE.size * SHAPE.size * SHAPE.inCh * SHAPE.outCh *
  SHAPE.kernel * SHAPE.kernel;

async function timeConv(
  backend: "wasm" | "cpu",
  repeats: number,
): Promise<{ fwdMs: number; fwdBwdMs: number }> {
  await initBackend(backend);
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
  if (backend === "wasm") fwdBwd();
  let t = performance.now();
  for (let i = 0; i < repeats; i++) fwd();
  const fwdMs = (performance.now() - t) / repeats;
  t = performance.now();
  for (let i = 0; i < repeats; i++) fwdBwd();
  const fwdBwdMs = (performance.now() - t) / repeats;
  tf.dispose([x, w]);
  return { fwdMs, fwdBwdMs };
}

/**
 * Runs the conv benchmark on wasm and cpu.
 *
 * @param options `cpuRepeats` (0 skips cpu; one pass takes one to several minutes) @default 1;
 *   `wasmRepeats` @default 5.
 * @returns Figures: ms and GFLOP/s for each backend, and the speed-up.
 * @example
 * ```ts
 * import { benchBackend } from "./bench_backend.ts";
 * for (const row of await benchBackend({ cpuRepeats: 0 })) console.log(row);
 * ```
 */
export async function benchBackend(
  options: { cpuRepeats?: number; wasmRepeats?: number } = {},
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const add = (figure: string, value: number | string, unit: string) =>
    rows.push({ bench: "conv 16×32×32×64 3×3", figure, value, unit });
  const wasm = await timeConv("wasm", options.wasmRepeats ?? 5);
  add("wasm forward", +wasm.fwdMs.toFixed(1), "ms");
  add("wasm forward+backward", +wasm.fwdBwdMs.toFixed(1), "ms");
  add("wasm forward", +(FLOPS_PER_PASS / wasm.fwdMs / 1e6).toFixed(1), "GFLOP/s");
  add("wasm forward+backward", +((3 * FLOPS_PER_PASS) / wasm.fwdBwdMs / 1e6).toFixed(1), "GFLOP/s");
  const cpuRepeats = options.cpuRepeats ?? 1;
  if (cpuRepeats > 0) {
    const cpu = await timeConv("cpu", cpuRepeats);
    add("cpu forward", +cpu.fwdMs.toFixed(1), "ms");
    add("cpu forward+backward", +cpu.fwdBwdMs.toFixed(1), "ms");
    add("cpu forward+backward", +((3 * FLOPS_PER_PASS) / cpu.fwdBwdMs / 1e6).toFixed(2), "GFLOP/s");
    add(
      "wasm speed-up over cpu (forward+backward)",
      +(cpu.fwdBwdMs / wasm.fwdBwdMs).toFixed(1),
      "×",
    );
  }
  await initBackend("wasm");
  return rows;
}

if (import.meta.main) {
  console.table(await benchBackend({ cpuRepeats: Deno.args.includes("--no-cpu") ? 0 : 1 }));
}
