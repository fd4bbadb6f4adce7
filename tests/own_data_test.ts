/**
 * A folder of your own captioned images as training data, run as a user runs it: `dvae_train.ts
 * --data=DIR` at another image size, grid and codebook, then `text2image.ts` on the same folder
 * (a pipeline that loads and draws), and dvae_train's refusals of what cannot work.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { isHeldOut, makeShapes, savePng } from "../lib/data/mod.ts";
import { loadDvae } from "../lib/dvae/mod.ts";
import { readRunConfig } from "../lib/io/mod.ts";
import { readCsv } from "../lib/log/mod.ts";
import { Pipeline } from "../lib/pipeline/mod.ts";
import { run } from "./_run.ts";

/** A folder of `count` rendered scenes as PNG files, each with its caption beside it. */
async function captionedFolder(count: number): Promise<{ dir: string; files: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "dalle-lab-own-data-" });
  const scenes = await makeShapes({ count, seed: 5, split: "train" });
  const files = Array.from({ length: count }, (_, i) => `scene_${String(i).padStart(3, "0")}.png`);
  for (const [i, file] of files.entries()) {
    await savePng(join(dir, file), scenes.images, i);
    await Deno.writeTextFile(join(dir, file.replace(/\.png$/, ".txt")), scenes.captions[i]);
  }
  return { dir, files };
}

Deno.test({
  name: "dvae_train --data=DIR, then text2image.ts, train a pipeline on a captioned folder",
  sanitizeResources: false,
  fn: async () => {
    const { dir, files } = await captionedFolder(48);
    const tag = `own_data_test_${crypto.randomUUID().slice(0, 8)}`;
    const out = join(dir, "..", `${tag}.safetensors`);
    let runDir = "", text2imageDir = "";
    try {
      const ran = await run("deno", [
        "run",
        "-A",
        "experiments/dvae_train.ts",
        `--data=${dir}`,
        "--imageSize=16",
        "--grid=4",
        "--vocab=32",
        "--hidden=16",
        "--decoderWidth=16",
        "--steps=3",
        "--warmupSteps=1",
        "--batchSize=8",
        "--testFraction=0.25",
        `--out=${out}`,
        `--tag=${tag}`,
      ]);
      assert.equal(ran.code, 0, ran.text.slice(-3000));
      runDir = /run folder: (\S+)/.exec(ran.stdout)![1];
      const config = (await readRunConfig(runDir))!;
      assert.equal(config.dataset, "folder");
      assert.equal(config.data, dir);
      assert.equal(config.figures, false, "a folder's grid stays in its run folder");
      const model = config.model as Record<string, number>;
      assert.deepEqual([model.imageSize, model.groups, model.vocabSize], [16, 3, 32]);
      // The held-out images are exactly those the split's hash holds out, by file name.
      const heldOut = files.filter((f) => isHeldOut(f, 0.25, 0)).length;
      assert.ok(heldOut > 0 && heldOut < files.length);
      const [summary] = (await readCsv(`${runDir}/summary.csv`)).objects() as Record<
        string,
        unknown
      >[];
      assert.equal(Number(summary.test_images), heldOut);
      assert.ok(Number.isFinite(Number(summary.test_elb_bits_per_dim)));
      assert.ok(!("judge_accepts_test" in summary), "the shapes judge reads shapes only");
      assert.match(ran.stdout, new RegExp(`${48 - heldOut} to train on, ${heldOut} of ${heldOut}`));
      const { model: dvae, metadata } = await loadDvae(out);
      assert.deepEqual([dvae.config.imageSize, dvae.config.vocabSize], [16, 32]);
      assert.equal(metadata.dataset, dir);
      dvae.dispose();
      assert.ok((await Deno.stat(`${runDir}/recon.png`)).size > 0);

      // Stage two on the same folder: tokenizer, prior and reranker, a pipeline that loads.
      const two = await run("deno", [
        "run",
        "-A",
        "experiments/text2image.ts",
        `--data=${dir}`,
        `--dvae=${out}`,
        "--testFraction=0.25",
        "--quick",
        `--tag=${tag}`,
      ]);
      assert.equal(two.code, 0, two.text.slice(-3000));
      text2imageDir = /run folder: (\S+);/.exec(two.stdout)![1];
      const rows = (await readCsv(`${text2imageDir}/summary.csv`)).objects() as Record<
        string,
        unknown
      >[];
      assert.deepEqual(rows.map((r) => [r.part, Number(r.images)]), [
        ["train", 48 - heldOut],
        ["test", heldOut],
      ]);
      assert.equal(Number(rows[1].retrieval_pool), 4);
      assert.ok(Number.isFinite(Number(rows[1].image_bits_per_token)));
      const pipeline = await Pipeline.load(`${text2imageDir}/pipeline`);
      const drawn = await pipeline.generate("a small red circle", { n: 2, k: 1, seed: 1 });
      assert.deepEqual(drawn.images.shape, [1, 16, 16, 3]);
      drawn.images.dispose();
      pipeline.dispose();
      assert.ok((await Deno.stat(`${text2imageDir}/samples_test.png`)).size > 0);
      // The report names both stages' runs and shows the dVAE's reconstructions and the draws.
      const page = await Deno.readTextFile(`${text2imageDir}/report.html`);
      for (const text of ["Stage one: the discrete VAE", "Stage two", runDir, "reconstructions"]) {
        assert.ok(page.includes(text), `report.html lacks ${text}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(out).catch(() => {});
      for (const d of [runDir, text2imageDir]) if (d) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test("dvae_train refuses a folder it cannot train on, before training", async () => {
  const { dir } = await captionedFolder(4);
  const empty = await Deno.makeTempDir();
  const uncaptioned = await Deno.makeTempDir();
  try {
    await Deno.copyFile(join(dir, "scene_000.png"), join(uncaptioned, "a.png"));
    const cases: [string[], RegExp][] = [
      [[`--data=${dir}`, "--grid=5"], /--imageSize=32 \/ --grid=5 must be a power of 2/],
      [[`--data=${dir}`, "--dataset=shapes"], /is a folder to train on, not shapes/],
      [["--dataset=folder"], /--dataset=folder reads the folder of --data=DIR/],
      [["--imageSize=16"], /--imageSize=16: fashion images are 32 pixels/],
      [[`--data=${empty}`], /loadImageFolder: no images in/],
      [[`--data=${uncaptioned}`], /1 of 1 images in .* have no caption \(a\.png\)/],
    ];
    for (const [flags, message] of cases) {
      const ran = await run("deno", ["run", "-A", "experiments/dvae_train.ts", ...flags]);
      assert.notEqual(ran.code, 0, flags.join(" "));
      assert.match(ran.stderr, message, flags.join(" "));
      assert.doesNotMatch(ran.text, /step 0 /, `${flags.join(" ")}: refused before training`);
    }
  } finally {
    for (const d of [dir, empty, uncaptioned]) await Deno.remove(d, { recursive: true });
  }
});
