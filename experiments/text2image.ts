/**
 * Experiment: given a dVAE trained on your own folder of captioned images, what do a small
 * transformer prior and a contrastive reranker trained on the same folder draw for its held-out
 * captions, and how well do they model and retrieve held-out pairs?
 *
 * Command: `deno run -A experiments/text2image.ts --data=DIR --dvae=PATH` after
 *   `deno run -A experiments/dvae_train.ts --data=DIR` (which writes
 *   data/cache/dvae_folder_<name>.safetensors and holds out the same images: the split is a pure
 *   function of `--testFraction` and `--seed`, by file name; keep both equal in the two commands).
 *   `--quick` checks the path in a minute or two, not the results.
 * Runtime on our 2-core machine: about the prior's and the reranker's steps (≈ 0.15 s and 0.15 s
 *   each at the defaults on 32-pixel images), then a few seconds per evaluation caption.
 * Expected (the paper, scaled down): draws that follow what the captions say about the images'
 *   coarse content; the held-out loss above the training loss by the gap the data's size allows.
 *   The folder's captions are free text: no judge reads them, so the figures are the prior's
 *   held-out bits per image token, the reranker's retrieval among held-out images (with its 95%
 *   interval and chance) and the grids a reader looks at.
 * Builds: a BPE tokenizer on the train part's captions, the prior on its dVAE tokens, the reranker
 *   (lib/rerank on free captions: CLIP's batch negatives; the shapes world's near misses need its
 *   grammar), saved as a pipeline (lib/pipeline) to `--out`.
 * Writes into data/runs/text2image/<stamp>_<tag>/: config.json, metrics.csv (the prior's steps),
 *   summary.csv (per part: images, held-out loss; for the test part, retrieval top-1 of the pool),
 *   samples_test.png (per held-out caption the real image, then the draws best first with the
 *   reranker's scores), report.html (both stages on one page, like the main job's: the dVAE's
 *   curves, held-out figures and reconstructions from its run, then the prior's) and the
 *   pipeline's folder when `--out` is not given.
 * Results: in the run folder (the shapes world's experiments have their sections on the results
 *   page; a folder of yours has none).
 *
 * @module
 */
import { canTrace, defaultWorkers, ensureBackend, tf } from "../lib/backend/mod.ts";
import {
  type CaptionedImages,
  imagesToTensor,
  loadImageFolder,
  selectImages,
  splitByFile,
} from "../lib/data/mod.ts";
import { loadDvae } from "../lib/dvae/mod.ts";
import { concatInt32 } from "../lib/io/mod.ts";
import { type Experiment, experimentMain, type MetricsRow, writeCsv } from "../lib/log/mod.ts";
import { openRunLog, paramCount } from "../lib/nn/mod.ts";
import {
  captionRows,
  drawGrid,
  type DrawRow,
  imageTokens,
  Pipeline,
  priorBatches,
} from "../lib/pipeline/mod.ts";
import { createPrior, heldOutLoss, trainPrior } from "../lib/prior/mod.ts";
import { createReranker, rerankData, retrievalAccuracy, trainReranker } from "../lib/rerank/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import { writeText2ImageReport } from "./_text2image_report.ts";

/** Every flag with its default. */
export const DEFAULTS = {
  /** The folder of captioned images (lib/data's `loadImageFolder`). */
  data: "",
  /** The dVAE trained on it (dvae_train.ts --data=DIR). */
  dvae: "",
  /** Share of the images held out, by file name and `seed` (dvae_train's). @accepts number > 0 < 1 */
  testFraction: 0.1,
  /** BPE vocabulary size (smaller when the captions do not reach it). @accepts integer ≥ 260 */
  vocabSize: 1024,
  /** BPE dropout while training the prior. @accepts number ≥ 0 < 1 */
  bpeDropout: 0.1,
  /** Prior optimiser steps. @accepts integer ≥ 1 */
  steps: 1200,
  /** Captioned images per prior step. @accepts integer ≥ 1 */
  batchSize: 32,
  /** Peak step size of the prior (warm-up, then cosine to a tenth). @accepts number > 0 */
  lr: 2e-3,
  /** Warm-up steps of the prior's step size. @accepts integer ≥ 0 */
  warmupSteps: 30,
  /** Width of the prior. @accepts integer ≥ 1 */
  dModel: 128,
  /** Transformer layers of the prior. @accepts integer ≥ 1 */
  layers: 4,
  /** Attention heads of the prior. @accepts integer ≥ 1 */
  heads: 4,
  /** Reranker optimiser steps (0: no reranker). @accepts integer ≥ 0 */
  rerankSteps: 1000,
  /** Pairs per reranker step (at most the train part's images). @accepts integer ≥ 2 */
  rerankBatchSize: 128,
  /** Held-out captions drawn for the grid. @accepts integer ≥ 1 */
  evalCaptions: 16,
  /** Draws per caption, shown best first. @accepts integer ≥ 1 */
  samplesPerCaption: 8,
  /** Softmax temperature of the draws. @accepts number ≥ 0 */
  temperature: 1,
  /** Held-out images each caption is ranked among (at most the test part's). @accepts integer ≥ 2 */
  pool: 32,
  /** Seed of the split, the weights, the batch order and the draws. @accepts integer */
  seed: 0,
  /** Gradient processes; 0 = defaultWorkers(). @accepts integer ≥ 0 */
  workers: 0,
  /** Train each step as TensorFlow calls where the backend can trace. @accepts boolean */
  compile: true,
  /** Where the pipeline goes ("" = the run folder's pipeline/). */
  out: "",
  /** Suffix of the run folder ("" = the folder's name). */
  tag: "",
  /** Run at the small budget of QUICK. */
  quick: false,
};

/** What `--quick` changes (flags given explicitly still win). */
export const QUICK: Partial<typeof DEFAULTS> = {
  steps: 20,
  warmupSteps: 2,
  dModel: 32,
  layers: 2,
  rerankSteps: 10,
  rerankBatchSize: 16,
  evalCaptions: 2,
  samplesPerCaption: 2,
  pool: 4,
  tag: "quick",
};

/** The experiment's configuration. */
export type Text2ImageConfig = typeof DEFAULTS;

/**
 * Trains the tokenizer, the prior and the reranker on the folder's train part, saves the
 * pipeline and measures it on the held-out part (see the header).
 *
 * @param cfg The configuration (every key; `workers: 0` means the backend's default).
 * @returns The run folder, the pipeline's folder and the summary rows.
 */
export async function run(
  cfg: Text2ImageConfig,
): Promise<{ dir: string; pipeline: string; summary: MetricsRow[] }> {
  if (!cfg.data || !cfg.dvae) {
    throw new RangeError(
      "text2image needs --data=DIR (your captioned images) and --dvae=PATH (trained on them by " +
        "`dvae_train.ts --data=DIR`)",
    );
  }
  await ensureBackend();
  if (cfg.workers === 0) cfg = { ...cfg, workers: defaultWorkers() };
  const { model: dvae, metadata } = await loadDvae(cfg.dvae);
  const folder = await loadImageFolder(cfg.data, { size: dvae.config.imageSize });
  const { train, test } = splitByFile(folder, { testFraction: cfg.testFraction, seed: cfg.seed });
  if (metadata.dataset !== undefined && metadata.dataset !== cfg.data) {
    console.warn(
      `[text2image] WARNING: the dVAE was trained on ${metadata.dataset}, not ${cfg.data}`,
    );
  }
  const trainImages = imagesToTensor(train.images);
  const tokens = imageTokens(dvae, trainImages);
  trainImages.dispose();
  const tokenizer = BpeTokenizer.train(train.captions, {
    vocabSize: cfg.vocabSize,
    allowSmaller: true,
  });
  const textLen = Math.max(...train.captions.map((c) => tokenizer.encode(c).length)) + 4;
  const prior = createPrior({
    textLen,
    textVocab: tokenizer.vocabSize,
    imageGrid: dvae.gridSize,
    imageVocab: dvae.config.vocabSize,
    dModel: cfg.dModel,
    layers: cfg.layers,
    heads: cfg.heads,
    padId: tokenizer.padId,
    seed: cfg.seed,
  });
  const name = cfg.data.replace(/[\\/]+$/, "").split(/[\\/]/).at(-1) ?? "folder";
  const log = await openRunLog({
    experiment: "text2image",
    tag: cfg.tag || name,
    config: {
      ...cfg,
      dvaeRun: metadata.run ?? "",
      prior: prior.config,
      parameters: paramCount(prior),
    },
    totalSteps: cfg.steps,
  });
  console.log(
    `[text2image] ${folder.images.count} images: ${train.images.count} to train on, ` +
      `${test.images.count} held out; prior ${paramCount(prior)} parameters → ${log.dir}`,
  );
  const batchAt = priorBatches(train, tokens, tokenizer, {
    batchSize: cfg.batchSize,
    textLen,
    seed: cfg.seed,
    bpeDropout: cfg.bpeDropout,
  });
  const compile = cfg.compile && canTrace();
  (await trainPrior(prior, batchAt, {
    steps: cfg.steps,
    lr: cfg.lr,
    warmupSteps: cfg.warmupSteps,
    seed: cfg.seed,
    workers: cfg.workers,
    compile,
    log,
  })).dispose();
  const trainData = rerankData({ ...train, split: "train", grammar: "free", tokenizer });
  let reranker = null;
  if (cfg.rerankSteps > 0) {
    reranker = createReranker({
      textLen: trainData.textLen,
      textVocab: tokenizer.vocabSize,
      imageSize: dvae.config.imageSize,
      seed: cfg.seed,
    });
    console.log(`[text2image] reranker: ${paramCount(reranker)} parameters, CLIP's recipe`);
    (await trainReranker(reranker, trainData, {
      steps: cfg.rerankSteps,
      batchSize: Math.min(cfg.rerankBatchSize, train.images.count),
      seed: cfg.seed,
      workers: cfg.workers,
      compile,
    })).dispose();
  }
  const pipeline = new Pipeline(tokenizer, dvae, prior, reranker);
  const out = cfg.out || `${log.dir}/pipeline`;
  await pipeline.save(out, { run: log.dir, data: cfg.data, dvae: cfg.dvae });

  const summary: MetricsRow[] = [];
  for (const [part, set] of [["train", train], ["test", test]] as const) {
    const first = Math.min(512, set.images.count);
    const images = imagesToTensor(selectImages(set.images, [...Array(first).keys()]));
    const text = captionRows(tokenizer, set.captions.slice(0, first), textLen);
    const loss = heldOutLoss(prior, concatInt32(text), imageTokens(dvae, images));
    images.dispose();
    const row: MetricsRow = {
      part,
      images: set.images.count,
      image_bits_per_token: loss.imageBitsPerToken,
      text_loss_nats: loss.textLossNats,
    };
    if (part === "test" && reranker) {
      const data = rerankData({ ...set, tokenizer, grammar: "free", textLen: trainData.textLen });
      const r = retrievalAccuracy(reranker, data, {
        pool: Math.min(cfg.pool, set.images.count),
        seed: cfg.seed,
      });
      Object.assign(row, {
        retrieval_top1: r.accuracy,
        retrieval_top1_low: r.low,
        retrieval_top1_high: r.high,
        retrieval_pool: r.pool,
        retrieval_chance: r.chance,
      });
    }
    summary.push(row);
  }
  await writeCsv(`${log.dir}/summary.csv`, summary);
  await log.writeFile("samples_test.png", await heldOutGrid(pipeline, test, cfg));
  const report = await writeText2ImageReport({
    run: log.dir,
    dvaeRun: metadata.run ?? "",
    out: `${log.dir}/report.html`,
  });
  const [, held] = summary;
  console.log(
    `[text2image] held out: ${Number(held.image_bits_per_token).toFixed(2)} bits per image ` +
      `token (train: ${Number(summary[0].image_bits_per_token).toFixed(2)})` +
      (reranker
        ? `; the reranker finds a caption's own image among ${held.retrieval_pool} for ` +
          `${(100 * Number(held.retrieval_top1)).toFixed(0)}% of ${test.images.count} (chance ` +
          `${(100 * Number(held.retrieval_chance)).toFixed(0)}%)`
        : "") +
      `\nrun folder: ${log.dir}; pipeline: ${out}; report: ${report}`,
  );
  pipeline.dispose();
  return { dir: log.dir, pipeline: out, summary };
}

/** Per held-out caption: its real image, then the draws best first with their scores. */
async function heldOutGrid(
  pipeline: Pipeline,
  test: CaptionedImages,
  cfg: Text2ImageConfig,
): Promise<Uint8Array> {
  const rows: DrawRow[] = [];
  const count = Math.min(cfg.evalCaptions, test.images.count);
  try {
    for (let i = 0; i < count; i++) {
      const caption = test.captions[i];
      const drawn = await pipeline.generate(caption, {
        n: cfg.samplesPerCaption,
        k: cfg.samplesPerCaption,
        temperature: cfg.temperature,
        seed: cfg.seed + i,
      });
      const image = imagesToTensor(selectImages(test.images, [i])) as tf.Tensor4D;
      rows.push({ lead: [{ image, label: caption }], draws: drawn.images, scores: drawn.scores });
    }
    return await drawGrid(rows);
  } finally {
    for (const row of rows) tf.dispose([row.draws, ...(row.lead ?? []).map((l) => l.image)]);
  }
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<Text2ImageConfig, Awaited<ReturnType<typeof run>>> = {
  name: "text2image",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
