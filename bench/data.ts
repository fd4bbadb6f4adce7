/**
 * Benchmark: the data pipeline. How long generating 10,000 captioned shapes takes (the issue's
 * target: under 30 s), reading them back from the cache, loading Fashion-MNIST, batching into
 * tensors, drawing a labelled grid, and the shapes judge's speed and attribute accuracy on fresh
 * test and zero-shot renders (its goal: ≥ 98%).
 *
 * Shape generation and file reading are plain JavaScript; batching into tensors, the grid and the
 * judge run on the backend of this process (`$DALLE_LAB_BACKEND`, else `auto`).
 *
 * Command: `deno task bench data` (every backend), or `DALLE_LAB_BACKEND=wasm deno run -A
 * bench/data.ts [--quick]`. Runtime: ~30 s per backend (the judge's weights ship
 * with the toolkit in lib/judge/weights, so nothing is trained first). `--quick` generates 500
 * shapes, judges 200 renders, and trains a 10-step judge in a temporary folder instead of loading
 * the shipped one.
 *
 * @module
 */
import { initBackend, tf } from "../lib/backend/mod.ts";
import { batches, imageGrid, loadFashionMnist, makeShapes, toRgb32 } from "../lib/data/mod.ts";
import { createShapesJudge, judgeAccuracy } from "../lib/judge/mod.ts";

import type { BenchOptions, BenchRow } from "./_peer.ts";
import { BENCH_QUICK, benchMain } from "./_cli.ts";

async function seconds<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const out = await fn();
  return [out, (performance.now() - started) / 1000];
}

/**
 * Runs the data benchmarks on the backend of this process.
 *
 * @param options `quick`: 500 shapes, 200 judged renders and a 10-step judge trained in a
 *   temporary folder, instead of 10,000, 2,000 and the cached judge @default false.
 * @returns Rows for `deno task bench`: seconds and rates per step, judge accuracy per split.
 * @example
 * ```ts
 * import { benchData } from "./data.ts";
 * for (const row of await benchData({ quick: true })) console.log(row);
 * ```
 */
export async function benchData(options: BenchOptions = {}): Promise<BenchRow[]> {
  const count = options.quick ? 500 : 10000;
  const judged = options.quick ? 200 : 2000;
  await initBackend();
  const rows: BenchRow[] = [];
  const add = (bench: string, figure: string, value: number, unit: string) =>
    rows.push({ workload: `${bench}: ${figure}`, value, unit });

  const cacheDir = await Deno.makeTempDir({ prefix: "bench_data_" });
  try {
    const [shapes, generateS] = await seconds(() =>
      makeShapes({ count, seed: 123, split: "train", cacheDir })
    );
    add(
      "shapes",
      `generate ${count} (render + write cache; target 30 s for 10,000)`,
      +generateS.toFixed(2),
      "s",
    );
    add("shapes", "generate", Math.round(count / generateS), "images/s");
    const [, readS] = await seconds(() =>
      makeShapes({ count, seed: 123, split: "train", cacheDir })
    );
    add("shapes", `read ${count} from cache`, +readS.toFixed(3), "s");

    const [grid, gridS] = await seconds(() =>
      imageGrid(shapes.images, { cols: 8, scale: 4, labels: shapes.captions, limit: 64 })
    );
    add("image io", "8×8 labelled grid → PNG", +(gridS * 1000).toFixed(0), "ms");
    add("image io", "grid PNG size", Math.round(grid.length / 1024), "KiB");

    const [fashion, fashionS] = await seconds(() => loadFashionMnist({ split: "train" }));
    add(
      "fashion-mnist",
      `load train (${fashion.images.count} images, gunzip + parse)`,
      +fashionS.toFixed(2),
      "s",
    );
    const [padded, padS] = await seconds(() => Promise.resolve(toRgb32(fashion.images)));
    add("fashion-mnist", `toRgb32 (${padded.count} → 32×32×3)`, +padS.toFixed(2), "s");

    const before = tf.memory().numTensors;
    let seen = 0;
    const [, batchS] = await seconds(() => {
      for (const batch of batches(shapes, { batchSize: 64, seed: 0 })) seen += batch.indices.length;
      return Promise.resolve();
    });
    add("batches", "bytes → float tensors, batch 64", Math.round(seen / batchS), "images/s");
    add("batches", "tensors left after the loop", tf.memory().numTensors - before, "tensors");

    const [judge, judgeS] = await seconds(() =>
      options.quick
        ? createShapesJudge({
          cacheDir,
          config: { trainCount: 256, steps: 10 },
          onProgress: () => {},
        })
        : createShapesJudge()
    );
    add("judge", "create (load the shipped weights)", +judgeS.toFixed(2), "s");
    for (const split of ["test", "zero-shot"] as const) {
      const fresh = await makeShapes({ count: judged, seed: 90210, split, cache: false });
      const [read, readS] = await seconds(() => Promise.resolve(judge.read(fresh.images)));
      const accuracy = judgeAccuracy(fresh.attributes, read);
      add(
        "judge",
        `${split}: attribute accuracy (${judged} fresh renders)`,
        +(100 * accuracy.attributes).toFixed(2),
        "%",
      );
      add("judge", `${split}: scenes entirely right`, +(100 * accuracy.scenes).toFixed(2), "%");
      add("judge", `${split}: shape accuracy`, +(100 * accuracy.shape).toFixed(2), "%");
      add("judge", `${split}: colour accuracy`, +(100 * accuracy.colour).toFixed(2), "%");
      add("judge", `${split}: read`, Math.round(judged / readS), "images/s");
    }
    judge.dispose();
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
  return rows;
}

if (import.meta.main) {
  /** This file's flags when run on its own (`deno task bench` passes the same to it). */
  const BENCH_FLAGS = { ...BENCH_QUICK };
  await benchMain(BENCH_FLAGS, (flags) => benchData({ quick: flags.quick }));
}
