/**
 * Experiment: how faithfully does the default dVAE (the PyTorch peer's benchmark model: 32×32 RGB,
 * widths 64·(1, 2, 4), 512 codes on an 8×8 grid, logit-Laplace likelihood) reconstruct
 * Fashion-MNIST after a training run that fits in about ten minutes on a 2-core CPU?
 *
 * Command: `deno run -A experiments/dvae_train.ts [--dataset=fashion|shapes] [--steps=250]`
 *   (every key of DEFAULTS is a flag, e.g. `--lr=1e-4 --beta=6.6 --reconstruction=mse`).
 * Runtime: about 8–11 minutes for the default (≈1.7 s per step of 32 images on a quiet machine,
 *   then ≈30 s for 2,000 held-out images).
 * Expected (the paper): faithful reconstructions and good codebook usage, after 3M updates at
 *   batch 512. Here: 250 updates at batch 32, i.e. 1/190,000 of the paper's images.
 *
 * Recipe: AdamW (0.9, 0.999, 1e-8, decay 1e-4) with an EMA of the weights, step size cosine
 * 3e-4 → 3e-5, β warmed from 0 to 1 (the paper's 5,000/3M horizon, i.e. in the first step),
 * τ cosine 1 → 1/16 over the whole run. Why not the paper's endpoints: in trials at this length,
 * step size 1e-3 (and 3e-3) saturated the encoder's softmax within ~10 steps onto 1–3 codes; β 6.6
 * with the paper's fast τ anneal drove q to uniform (KL → 0, codes unused).
 *
 * Result (2026-11-25, default flags, wasm on the shared 2-core machine, 632 s of training):
 *   Fashion-MNIST test (2,000 images, EMA weights): true −ELB −2.83 bits/dim (a continuous-density
 *   bound on ε-mapped pixels, hence negative), MSE 0.082, codebook perplexity 3.8 (4.1% of codes
 *   used). The grid shows each garment's silhouette at the 4-pixel resolution of the token grid,
 *   filled with one grey: the codebook has collapsed to a few codes (background / garment / edge),
 *   so shading and texture are lost. Not yet the faithful reconstructions the paper shows.
 *   Shapes (`--dataset=shapes`, same recipe): MSE 0.019, perplexity 1.65: grey masks of the
 *   objects, colours lost. In both, the logit-Laplace ELB improves most by sharpening the density
 *   of the exactly-flat backgrounds (−3.3 nats/dim on shapes), which needs no information from the
 *   codes; see lib/dvae and the β–τ experiment for what else was tried.
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
  initBias: false,
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
