/**
 * Experiment: how faithfully does the default dVAE (the PyTorch peer's benchmark model: 32×32 RGB,
 * widths 64·(1, 2, 4), 512 codes on an 8×8 grid) reconstruct Fashion-MNIST after a training run
 * that fits in about ten minutes on a 2-core CPU?
 *
 * Command: `deno run -A experiments/dvae_train.ts [--dataset=fashion|shapes] [--steps=300]`
 *   (every key of DEFAULTS is a flag, e.g. `--lr=3e-4 --beta=1 --tag=try`).
 * Runtime: about 10 minutes for the default (≈2 s per step of 32 images, then a held-out pass).
 * Expected: reconstructions that keep each garment's silhouette and rough shading, with blurred
 *   fine texture (a 6,000-step run at batch 512 is what the paper's schedule assumes; this is
 *   ~300 steps at batch 32); a held-out ELB well under the ~1 bit/dim of an untrained model.
 *
 * Writes: data/runs/dvae_train/<stamp>_<dataset>/{config.json, metrics.csv, summary.json,
 *   recon.png, checkpoint.safetensors}; the EMA weights to data/cache/dvae_<dataset>.safetensors
 *   (`loadDvae(path)` rebuilds the model from it); the grid (originals above reconstructions) to
 *   data/figures/dvae_<dataset>_recon.png.
 *
 * @module
 */
import { initBackend, tf } from "../lib/backend/mod.ts";
import {
  batches,
  type CaptionedImages,
  imageGrid,
  imagesToTensor,
  loadFashionMnist,
  makeShapes,
  selectImages,
  toRgb32,
} from "../lib/data/mod.ts";
import { createDvae, evaluateDvae, saveDvae, trainDvae } from "../lib/dvae/mod.ts";
import { parseFlags, RunLog } from "../lib/log/mod.ts";
import { cosine, paramCount, scaleSteps, warmupCosine, writeFileAtomic } from "../lib/nn/mod.ts";

/** Every flag with its default. */
export const DEFAULTS = {
  /** "fashion" (Fashion-MNIST padded to 32×32 RGB) or "shapes" (lib/data's captioned shapes). */
  dataset: "fashion",
  /** Optimiser steps (≈2 s each at batch 32 on a quiet 2-core machine). */
  steps: 250,
  /** Images per step. */
  batchSize: 32,
  /** Peak step size (cosine to lr/10 over the run); 1e-3 collapsed the codebook in trials. */
  lr: 3e-4,
  /** Linear warm-up steps of the step size before the cosine decay. */
  warmup: 0,
  /** Final KL weight (cosine warm-up from 0 over the paper's 5,000/3M of the run, then held). */
  beta: 1,
  /** Final temperature. */
  tauTo: 1 / 16,
  /** Fraction of the run over which τ anneals (cosine); the paper's is 150,000/3M = 0.05. */
  tauFrac: 1,
  /** Reconstruction likelihood: "logit-laplace" or "mse". */
  reconstruction: "logit-laplace",
  /** Start the decoder's output biases at the training data's average pixel (not in the paper). */
  initBias: true,
  /** Shapes images to train on (Fashion-MNIST always has 60,000). */
  shapesCount: 12000,
  /** Held-out images to evaluate on. */
  testImages: 2000,
  /** Seed of the weights, the batch order and the Gumbel noise. */
  seed: 0,
  /** Where the EMA weights go ("" = data/cache/dvae_<dataset>.safetensors). */
  out: "",
  /** Suffix of the run folder. */
  tag: "",
};

async function loadData(
  cfg: typeof DEFAULTS,
): Promise<{ train: CaptionedImages; test: CaptionedImages }> {
  switch (cfg.dataset) {
    case "fashion": {
      const train = await loadFashionMnist({ split: "train" });
      const test = await loadFashionMnist({ split: "test", limit: cfg.testImages });
      return {
        train: { images: toRgb32(train.images), captions: train.captions },
        test: { images: toRgb32(test.images), captions: test.captions },
      };
    }
    case "shapes": {
      const train = await makeShapes({ count: cfg.shapesCount, seed: 0, split: "train" });
      const test = await makeShapes({ count: cfg.testImages, seed: 1, split: "test" });
      return { train, test };
    }
    default:
      throw new TypeError(`--dataset must be "fashion" or "shapes", got "${cfg.dataset}"`);
  }
}

if (import.meta.main) {
  const cfg = parseFlags(DEFAULTS);
  await initBackend("wasm");
  const { train, test } = await loadData(cfg);
  const dvae = createDvae({
    seed: cfg.seed,
    reconstruction: cfg.reconstruction as "logit-laplace" | "mse",
  });
  const run = await RunLog.create({
    experiment: "dvae_train",
    tag: cfg.tag || cfg.dataset,
    config: { ...cfg, model: dvae.config, parameters: paramCount(dvae) },
    totalSteps: cfg.steps,
    printEvery: 10,
  });
  console.log(`dVAE ${paramCount(dvae)} parameters; ${train.images.count} training images`);
  if (cfg.initBias) {
    const sample = imagesToTensor(train.images, Array.from({ length: 1000 }, (_, i) => i));
    dvae.initOutputBias(sample);
    sample.dispose();
  }
  const tauSteps = Math.max(1, Math.round(cfg.tauFrac * cfg.steps));
  const result = await trainDvae(
    dvae,
    batches(train, { batchSize: cfg.batchSize, seed: cfg.seed, epochs: 1000, dropLast: true }),
    {
      steps: cfg.steps,
      lr: cfg.warmup > 0
        ? warmupCosine(cfg.lr, cfg.warmup, cfg.steps, cfg.lr / 10)
        : cosine(cfg.lr, cfg.lr / 10, cfg.steps),
      beta: cosine(0, cfg.beta, scaleSteps(5_000, 3_000_000, cfg.steps)),
      tau: cosine(1, cfg.tauTo, tauSteps),
      seed: cfg.seed,
      log: run,
      checkpointPath: `${run.dir}/checkpoint.safetensors`,
      checkpointEvery: 100,
    },
  );

  const started = performance.now();
  const figures = await result.withEma(async () => {
    const evaluation = evaluateDvae(
      dvae,
      batches(test, { batchSize: 100, shuffle: false }),
      { seed: cfg.seed },
    );
    const shown = selectImages(test.images, Array.from({ length: 16 }, (_, i) => i));
    const originals = imagesToTensor(shown);
    const recon = dvae.reconstruct(originals);
    // Rows: 8 originals, their 8 reconstructions, the next 8 originals, theirs.
    const grid = tf.tidy(() => {
      const [a, b] = [originals.slice(0, 8), originals.slice(8, 8)];
      const [ra, rb] = [recon.slice(0, 8), recon.slice(8, 8)];
      return tf.concat([a, ra, b, rb]);
    });
    const png = await imageGrid(grid, { cols: 8, scale: 3 });
    tf.dispose([originals, recon, grid]);
    const out = cfg.out || `data/cache/dvae_${cfg.dataset}.safetensors`;
    await saveDvae(out, dvae, {
      dataset: cfg.dataset,
      steps: String(cfg.steps),
      test_elb_bits_per_dim: evaluation.elbBitsPerDim.toFixed(4),
      test_mse: evaluation.mse.toFixed(5),
      test_perplexity: evaluation.perplexity.toFixed(2),
      run: run.dir,
    });
    await run.writeFile("recon.png", png);
    await writeFileAtomic(`data/figures/dvae_${cfg.dataset}_recon.png`, png);
    return { ...evaluation, weights: out };
  });
  const summary = {
    dataset: cfg.dataset,
    steps: cfg.steps,
    batch_size: cfg.batchSize,
    train_seconds: result.rows.reduce(
      (s, r) => s + cfg.batchSize / (r.images_per_sec as number),
      0,
    ),
    eval_seconds: (performance.now() - started) / 1000,
    skipped_steps: result.skippedSteps,
    test_images: figures.images,
    test_elb_bits_per_dim: figures.elbBitsPerDim,
    test_recon_nll: figures.reconNll,
    test_kl_nats_per_cell: figures.kl,
    test_mse: figures.mse,
    test_codebook_perplexity: figures.perplexity,
    test_codes_used_frac: figures.usedFraction,
    weights: figures.weights,
  };
  await run.writeFile("summary.json", JSON.stringify(summary, null, 2) + "\n");
  console.log(JSON.stringify(summary, null, 2));
  console.log(`run folder: ${run.dir}; figure: data/figures/dvae_${cfg.dataset}_recon.png`);
  result.dispose();
  dvae.dispose();
}
