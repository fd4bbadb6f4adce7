/**
 * The Fashion-MNIST benchmark end to end at its `--quick` budget, run as a user runs it: the
 * folder, the dVAE and the pipeline trained on it through the folder path, and the summary the
 * classifier reads from the draws (the figures mean nothing at this budget; their shape does).
 */
import assert from "node:assert/strict";
import { FASHION_MNIST_CLASSES } from "../lib/data/mod.ts";
import { parseCsv, readRunConfig } from "../lib/io/mod.ts";
import { run } from "./_run.ts";

Deno.test({
  name:
    "fashion_text2image --quick: a pipeline trained on the folder, read per class, with a Fréchet floor",
  sanitizeResources: false,
  fn: async () => {
    const tag = `fashion_test_${crypto.randomUUID().slice(0, 8)}`;
    try {
      const ran = await run("deno", [
        "run",
        "-A",
        "experiments/fashion_text2image.ts",
        "--quick",
        `--tag=${tag}`,
      ]);
      const dir = /run folder: (\S*fashion_text2image\/\S+)/.exec(ran.stdout)?.[1];
      assert.equal(ran.code, 0, ran.text.slice(-3000));
      assert.ok(dir, ran.stdout.slice(-2000));
      const config = (await readRunConfig(dir))!;
      assert.ok(String(config.dvaeRun).includes(tag) && String(config.text2imageRun).includes(tag));
      assert.equal(config.folder, "data/cache/fashion_folder_200_s0");
      const rows = parseCsv(await Deno.readTextFile(`${dir}/summary.csv`));
      assert.deepEqual(rows.map((r) => r.class), [...FASHION_MNIST_CLASSES, "all"]);
      const all = rows.at(-1)!;
      assert.equal(all.draws, 2 * FASHION_MNIST_CLASSES.length);
      assert.equal(all.captions, FASHION_MNIST_CLASSES.length);
      for (const key of ["accuracy_per_draw", "accuracy_reranked"]) {
        const [v, low, high] = [all[key], all[`${key}_low`], all[`${key}_high`]].map(Number);
        assert.ok(low <= v && v <= high && low >= 0 && high <= 1, `${key}: ${low} ${v} ${high}`);
      }
      const [fid, floor] = [all.frechet_distance, all.frechet_floor_real_vs_real].map(Number);
      assert.ok(fid >= 0 && floor >= 0 && Number.isFinite(fid + floor), `${fid} ${floor}`);
      const grid = await Deno.readFile(`${dir}/samples_by_class.png`);
      assert.deepEqual([...grid.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
      const page = await Deno.readTextFile(`${dir}/report.html`);
      for (const text of ["Stage one", "Stage two", "reading of the draws", "Ankle boot"]) {
        assert.ok(page.includes(text), `report.html lacks ${text}`);
      }
    } finally {
      // The three run folders carry the tag, also when the run failed half way.
      for (const experiment of ["dvae_train", "text2image", "fashion_text2image"]) {
        const folder = `data/runs/${experiment}`;
        const names = await Array.fromAsync(Deno.readDir(folder)).catch(() => []);
        for (const e of names) {
          if (e.name.includes(tag)) await Deno.remove(`${folder}/${e.name}`, { recursive: true });
        }
      }
    }
  },
});
