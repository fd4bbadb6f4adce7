/**
 * Experiment: does a small transformer prior over caption + dVAE tokens draw shapes that follow
 * their captions, for captions it trained on, unseen images of the same distribution (test) and
 * held-out colour–shape pairs (zero-shot), and how much does the contrastive reranker's best of
 * N draws add?
 *
 * Command: `deno run -A experiments/prior_shapes.ts [--steps=1200] [--rerankSteps=600]` (about
 *   20 minutes on our 2-core machine, the results page giving the run's own time; `--quick`: a
 *   minute or two, checking the path, not results)
 *   (`--resume=data/runs/prior_shapes/<run>` continues a stopped run; `--pipeline=DIR` judges a
 *   saved pipeline without training). It needs the shapes dVAE: `deno run -A
 *   experiments/dvae_train.ts --dataset=shapes` writes data/cache/dvae_shapes.safetensors. A
 *   dVAE whose reconstructions the judge rejects is reported loudly (summary column `warning`),
 *   never swapped for a stand-in.
 * Builds: a BPE tokenizer on train captions, the prior on dVAE tokens of train scenes, the
 *   reranker (lib/rerank, trained with lib/pipeline's RERANKER_RECIPE: near-miss captions and
 *   twins as hard negatives, half its images through this dVAE; the `--rerank…` flags) on the
 *   same train scenes, in a second process while the prior trains (`--rerankBeside=false`: after
 *   it, in this one; the same reranker either way), saved together as a pipeline (lib/pipeline)
 *   to data/cache/pipeline_shapes/.
 * Expected (the paper's claim, scaled down): samples whose layout, colours and shapes follow
 *   train captions; agreement well above the mismatched-caption baseline, a little lower for test
 *   captions and lowest for zero-shot pairs; reranking raises every split.
 * Results: data/figures/RESULTS.md § prior_shapes (`deno task figures` writes it from the newest
 *   full run that is not a main-job stage, naming its folder, commit and machine). Every
 *   agreement there carries its 95% interval over captions and the caption count it rests on
 *   (24 per split by default: a rate near 20% is known to about ±15 points, so differences
 *   between splits, temperatures or reranked and single draws of that size are not established
 *   by one run). Agreement = the judge finds every attribute; "reranked" keeps the reranker's
 *   best of the 8 draws; the `dvae_reconstruction_agreement` column says how much the dVAE
 *   itself caps what the judge can accept. experiments/rerank_n_sweep.ts measures agreement
 *   against N with more captions.
 *
 * Writes into data/runs/prior_shapes/<stamp>_<tag>/: config.json, metrics.csv (the prior's steps),
 * checkpoint.safetensors, samples_<split>.png (per caption the real image, then the draws best
 * first with their reranker scores), completion_test.png and summary.csv (per split and
 * temperature: agreement per draw and of the reranked best, per attribute, baselines, held-out
 * loss), text_overflow.json (how many training captions BPE dropout pushed past the text length,
 * and whether they were encoded again without dropout or cut), near_miss.csv (the reranker's near-miss preference per kind on rendered test and
 * zero-shot scenes, through the dVAE, and on the grid captions' draws as the judge reads them)
 * and stages.csv (wall time per stage).
 *
 * @module
 */
import { canTrace, tf } from "../lib/backend/mod.ts";
import {
  imagesToTensor,
  makeShapes,
  selectImages,
  type ShapesDataset,
  type ShapesSplit,
} from "../lib/data/mod.ts";
import { loadDvae } from "../lib/dvae/mod.ts";
import { agreement, createShapesJudge, type ShapesJudge } from "../lib/judge/mod.ts";
import {
  type Experiment,
  experimentMain,
  type MetricsRow,
  UsageError,
  writeCsv,
} from "../lib/log/mod.ts";
import { openRunLog, paramCount } from "../lib/nn/mod.ts";
import {
  captionRows,
  checkRecipe,
  imageTokens,
  judgeCandidates,
  Pipeline,
  priorBatches,
  RERANKER_RECIPE,
  type RerankerRecipe,
} from "../lib/pipeline/mod.ts";
import { createPrior, heldOutLoss, trainPrior } from "../lib/prior/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import {
  type RerankerBeside,
  type RerankerJob,
  startRerankerBeside,
  trainShapesReranker,
} from "./_shapes_reranker.ts";
import { agreementOf, formatAgreement } from "../lib/display/mod.ts";
import {
  completionGrid,
  distinctCaptions,
  intervalColumns,
  judgedColumns,
  sampleGrid,
} from "./_prior_shapes.ts";
import {
  drawNearMissRows,
  heldOutNearMissRows,
  NEAR_MISS_EVAL,
  type NearMissRow,
  printNearMiss,
} from "./_near_miss.ts";
import { concatInt32, interval95 } from "../lib/io/mod.ts";

/** The experiment's flags and their defaults. */
export const DEFAULTS = {
  /** The shapes dVAE (image tokens). */
  dvae: "data/cache/dvae_shapes.safetensors",
  /** Training scenes ("train" split). @accepts integer ≥ 1 */
  trainCount: 4000,
  /** Seed of the training scenes. @accepts integer */
  trainSeed: 0,
  /** Prior optimiser steps. @accepts integer ≥ 1 */
  steps: 1200,
  /** Scenes per prior step. @accepts integer ≥ 1 */
  batchSize: 32,
  /** Peak step size of the prior. @accepts number > 0 */
  lr: 2e-3,
  /** Warm-up steps of the prior's step size. @accepts integer ≥ 0 */
  warmupSteps: 30,
  /** Width of the prior. @accepts integer ≥ 1 */
  dModel: 128,
  /** Transformer layers of the prior. @accepts integer ≥ 1 */
  layers: 4,
  /** Attention heads of the prior. @accepts integer ≥ 1 */
  heads: 4,
  /**
   * Attention masks of the prior's image positions: the paper's sparse schedule (row, column,
   * row, …, conv last) or plain causal attention in every layer. @accepts paper | dense
   */
  masks: "paper",
  /** Dropout rate of the prior while training. @accepts number ≥ 0 < 1 */
  dropout: 0,
  /**
   * Largest tokenizer vocabulary: the shapes captions reach 343, and the prior is sized to what
   * the tokenizer reaches. @accepts integer ≥ 1
   */
  vocabSize: 512,
  /** BPE dropout while training the prior. @accepts number ≥ 0 < 1 */
  bpeDropout: 0.1,
  /**
   * A caption whose BPE-dropout encoding overflows the prior's text length: "undropped" encodes
   * it again without dropout (no word lost), "cut" truncates it (its last words, often the second
   * object's shape, lost; about a quarter of captions at dropout 0.1). @accepts cut | undropped
   */
  bpeTooLong: "undropped",
  /** Reranker training steps (0: a pipeline without reranker). @accepts integer ≥ 0 */
  rerankSteps: 600,
  /**
   * The reranker's near-miss captions per training image (lib/pipeline's RERANKER_RECIPE; see
   * experiments/rerank_train.ts). @accepts integer ≥ 0
   */
  rerankNearMisses: RERANKER_RECIPE.nearMisses,
  /** Weight of their loss term; 0 = CLIP's loss alone. @accepts number ≥ 0 */
  rerankNearMissWeight: RERANKER_RECIPE.nearMissWeight,
  /**
   * Train the reranker in a second process while the prior trains, instead of after it: the same
   * reranker (the same data and seeds), sooner on a 2-core machine (two processes make 1.4× the
   * steps per second of one). @accepts boolean
   */
  rerankBeside: true,
  /** Near-miss twins in the reranker's batches (image-side hard negatives). */
  rerankTwins: RERANKER_RECIPE.twins,
  /**
   * Share of the reranker's training images passed through this run's dVAE (what it ranks is
   * decoded). @accepts number in [0, 1]
   */
  rerankThroughDvae: RERANKER_RECIPE.throughDvae,
  /** Stride-1 convolutions before each halving of the reranker's image encoder. @accepts integer ≥ 0 */
  rerankImageStageDepth: RERANKER_RECIPE.imageStageDepth,
  /** Evaluation captions per split. @accepts integer ≥ 1 */
  evalCaptions: 24,
  /**
   * Rendered test and zero-shot scenes for the reranker's near-miss table (rendered and through
   * the dVAE; the grid captions' draws are added, as the judge reads them). @accepts integer ≥ 1
   */
  nearMissScenes: NEAR_MISS_EVAL.count,
  /** Captions per split the sample grids show. @accepts integer ≥ 1 */
  gridCaptions: 8,
  /** Draws per evaluation caption. @accepts integer ≥ 1 */
  samplesPerCaption: 8,
  /**
   * Sampling temperatures; the first is the headline (the paper samples at 1, then reranks).
   * @accepts number > 0
   */
  temperatures: [1, 0.5],
  /** Test images completed from their top half. @accepts integer ≥ 0 */
  completionImages: 6,
  /** Completions of each of those images. @accepts integer ≥ 1 */
  completions: 6,
  /** Seed of the weights, the batch order and the draws. @accepts integer */
  seed: 0,
  /**
   * Processes per training step; 0 = `defaultWorkers()` (config.json records the number used).
   * @accepts integer ≥ 0
   */
  workers: 0,
  /**
   * Run each training step as TensorFlow calls (traced at the first two steps) on the tensorflow
   * backend; elsewhere, or false, eagerly. The same results to float32 rounding, faster.
   * @accepts boolean
   */
  compile: true,
  /** Where the pipeline goes. */
  out: "data/cache/pipeline_shapes",
  /** Judge a saved pipeline (its folder) instead of training one. */
  pipeline: "",
  /** A run folder of this experiment to continue from its last checkpoint. */
  resume: "",
  /** Suffix of the run folder. */
  tag: "run",
  /** A small budget on the same path (QUICK under the flags given). */
  quick: false,
};

/**
 * What `--quick` changes (flags given explicitly still win): about two minutes, for checking that
 * the stages run, not for reading results. It uses the quick dVAE of `dvae_train.ts --quick
 * --dataset=shapes --out=data/cache/dvae_shapes_quick.safetensors`.
 */
export const QUICK: Partial<PriorShapesConfig> = {
  dvae: "data/cache/dvae_shapes_quick.safetensors",
  trainCount: 1000,
  steps: 40,
  rerankSteps: 40,
  nearMissScenes: 40,
  evalCaptions: 4,
  gridCaptions: 4,
  temperatures: [1],
  completionImages: 2,
  completions: 2,
  out: "data/cache/pipeline_shapes_quick",
  tag: "quick",
};

/** The experiment's configuration. */
export type PriorShapesConfig = typeof DEFAULTS;

/** Wall time per stage, written to the run folder as stages.csv (stage, seconds). */
class StageClock {
  readonly rows: MetricsRow[] = [];
  #last = performance.now();
  /** Ends the stage that began at the previous call (or at construction). */
  lap(stage: string): void {
    const now = performance.now();
    this.rows.push({ stage, seconds: (now - this.#last) / 1000 });
    this.#last = now;
  }
}

const rate = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/** Trains the tokenizer, prior and reranker on train scenes; returns the pipeline. */
async function build(
  cfg: PriorShapesConfig,
  judge: ShapesJudge,
  train: ShapesDataset,
  clock: StageClock,
) {
  const { model: dvae } = await loadDvae(cfg.dvae).catch((err: Error) => {
    throw new Error(
      `cannot load the shapes dVAE (${err.message}); train it with ` +
        "`deno run -A experiments/dvae_train.ts --dataset=shapes`, or pass --dvae=PATH",
    );
  });
  const images = imagesToTensor(train.images);
  const tokens = imageTokens(dvae, images);
  const probe = tf.tidy(() => dvae.reconstruct(images.slice(0, 64) as tf.Tensor4D));
  const probed = agreement(train.captions.slice(0, 64), judge.read(probe)).map(Number);
  const accepted = rate(probed);
  tf.dispose([images, probe]);
  const warning = accepted < 0.5
    ? `the judge accepts only ${formatAgreement(interval95(probed))} of the dVAE's ` +
      `reconstructions of ${probed.length} training images (95% interval), which caps how ` +
      "many of the prior's samples it can accept; a longer dVAE run lifts the cap (the 1,800 " +
      "steps of `dvae_train.ts --dataset=shapes` reach about 85%)"
    : "";
  if (warning) console.warn(`\n[prior_shapes] WARNING: ${warning}\n`);
  clock.lap("image tokens (dVAE encoder)");
  const tokenizer = BpeTokenizer.train(train.captions, {
    vocabSize: cfg.vocabSize,
    allowSmaller: true, // the prior and the reranker take tokenizer.vocabSize
  });
  const longest = Math.max(...train.captions.map((c) => tokenizer.encode(c).length));
  const textLen = longest + 4; // room for BPE dropout's longer encodings
  const prior = createPrior({
    textLen,
    textVocab: tokenizer.vocabSize,
    imageGrid: dvae.gridSize,
    imageVocab: dvae.config.vocabSize,
    dModel: cfg.dModel,
    layers: cfg.layers,
    heads: cfg.heads,
    masks: cfg.masks as "paper" | "dense",
    dropout: cfg.dropout,
    padId: tokenizer.padId,
    seed: cfg.seed,
  });
  const log = await openRunLog({
    experiment: "prior_shapes",
    tag: cfg.tag,
    config: { ...cfg, prior: prior.config, parameters: paramCount(prior), dvae_accepted: accepted },
    totalSteps: cfg.steps,
    resume: cfg.resume,
  });
  console.log(`[prior_shapes] prior: ${paramCount(prior)} parameters → ${log.dir}`);
  const batchAt = priorBatches(train, tokens, tokenizer, {
    ...cfg,
    bpeTooLong: cfg.bpeTooLong as "cut" | "undropped",
    textLen,
  });
  const job = cfg.rerankSteps > 0 ? rerankerJob(cfg, log.dir) : null;
  let beside: RerankerBeside | null = null;
  // The second process reads the tokenizer from the run folder and leaves its job there.
  if (job && cfg.rerankBeside && log.dir) {
    await tokenizer.save(job.tokenizer);
    beside = await startRerankerBeside(job, job.out.replace(/\.safetensors$/, "_job.json"));
    console.log(`[prior_shapes] the reranker trains in a second process beside the prior`);
  }
  try {
    const trained = await trainPrior(prior, batchAt, {
      steps: cfg.steps,
      lr: cfg.lr,
      warmupSteps: cfg.warmupSteps,
      seed: cfg.seed,
      workers: cfg.workers,
      compile: cfg.compile && canTrace(),
      log,
      checkpointEvery: 100,
      resume: true,
    });
    trained.dispose();
  } catch (err) {
    beside?.kill();
    throw err;
  }
  clock.lap("tokenizer + prior");
  if (batchAt.truncated + batchAt.undropped > 0) {
    const seen = cfg.steps * cfg.batchSize;
    console.log(
      `[prior_shapes] BPE dropout lengthened ${batchAt.truncated + batchAt.undropped} of ${seen} ` +
        `training captions past textLen ${textLen}: ${batchAt.undropped} were encoded again ` +
        `without dropout, ${batchAt.truncated} were cut (--bpeTooLong=${cfg.bpeTooLong})`,
    );
  }
  await log.writeFile(
    "text_overflow.json",
    JSON.stringify({
      captions_seen: cfg.steps * cfg.batchSize, // this process's steps (a resumed run: since the resume)
      encoded_without_dropout: batchAt.undropped,
      cut: batchAt.truncated,
      textLen,
    }) + "\n",
  );
  let reranker = null;
  if (job) {
    reranker = beside
      ? await beside.result()
      : await trainShapesReranker(job, train, tokenizer, dvae);
    // Beside the prior, this lap is only the wait for the second process after the prior ended.
    clock.lap(beside ? "reranker (beside the prior: the wait after it)" : "reranker");
  }
  const pipeline = new Pipeline(tokenizer, dvae, prior, reranker);
  await pipeline.save(cfg.out, { run: log.dir, dvae: cfg.dvae, dvae_accepted: accepted });
  return { pipeline, log, warning, accepted };
}

/** The reranker's training as a job (its files in the run folder). */
function rerankerJob(cfg: PriorShapesConfig, dir: string): RerankerJob {
  return {
    dvae: cfg.dvae,
    tokenizer: `${dir}/reranker_tokenizer.json`,
    trainCount: cfg.trainCount,
    trainSeed: cfg.trainSeed,
    recipe: rerankRecipeOf(cfg),
    steps: cfg.rerankSteps,
    seed: cfg.seed,
    workers: cfg.workers,
    compile: cfg.compile,
    backend: tf.getBackend(),
    out: `${dir}/reranker.safetensors`,
  };
}

/** The reranker's recipe from the flags (checked before any training). */
function rerankRecipeOf(cfg: PriorShapesConfig): RerankerRecipe {
  const recipe = {
    nearMisses: cfg.rerankNearMisses,
    nearMissWeight: cfg.rerankNearMissWeight,
    twins: cfg.rerankTwins,
    throughDvae: cfg.rerankThroughDvae,
    imageStageDepth: cfg.rerankImageStageDepth,
  };
  try {
    checkRecipe(recipe, (field) => `--rerank${field[0].toUpperCase()}${field.slice(1)}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return recipe;
}

/**
 * Builds (or loads) the pipeline and judges it per split and temperature.
 *
 * @param cfg The configuration.
 * @returns The summary rows and the run folder.
 */
export async function run(cfg: PriorShapesConfig): Promise<{ dir: string; summary: MetricsRow[] }> {
  const started = performance.now();
  const minutes = () => ((performance.now() - started) / 60000).toFixed(1);
  if (!cfg.pipeline && cfg.rerankSteps > 0) rerankRecipeOf(cfg); // a bad flag fails before training
  const clock = new StageClock();
  const judge = await createShapesJudge();
  const train = await makeShapes({ count: cfg.trainCount, seed: cfg.trainSeed, split: "train" });
  clock.lap("judge + scenes");
  const built = cfg.pipeline
    ? {
      pipeline: await Pipeline.load(cfg.pipeline),
      log: await openRunLog({ experiment: "prior_shapes", tag: "eval", config: cfg }),
      warning: "",
      accepted: NaN,
    }
    : await build(cfg, judge, train, clock);
  const { pipeline, log } = built;
  const { prior, tokenizer, dvae } = pipeline;
  const textLen = prior.config.textLen;
  const summary: MetricsRow[] = [];
  // Does the reranker read the whole caption, on rendered scenes, through the dVAE, and on draws?
  const nearMiss: NearMissRow[] = pipeline.reranker
    ? await heldOutNearMissRows(pipeline.reranker, tokenizer, dvae, cfg.nearMissScenes)
    : [];
  for (const split of ["train", "test", "zero-shot"] as ShapesSplit[]) {
    const set = split === "train"
      ? train
      : await makeShapes({ count: 20 * cfg.evalCaptions, seed: cfg.seed + 11, split });
    const picks = distinctCaptions(set.captions, cfg.evalCaptions);
    const captions = picks.map((i) => set.captions[i]);
    const real = imagesToTensor(selectImages(set.images, picks));
    const recon = tf.tidy(() => dvae.decode(dvae.encode(real)));
    const [realRead, reconRead] = [judge.read(real), judge.read(recon)];
    const first = Math.min(set.captions.length, 512);
    const setTensor = imagesToTensor(selectImages(set.images, [...Array(first).keys()]));
    const text = captionRows(tokenizer, set.captions.slice(0, first), textLen);
    const loss = heldOutLoss(prior, concatInt32(text), imageTokens(dvae, setTensor));
    setTensor.dispose();
    for (const [t, temperature] of cfg.temperatures.entries()) {
      const S = cfg.samplesPerCaption;
      const judged = await judgeCandidates(pipeline, judge, captions, {
        n: S,
        seed: cfg.seed + 101,
        temperature,
        keepImages: cfg.gridCaptions,
      });
      const row: MetricsRow = {
        split,
        temperature,
        // Each rate with its 95% interval over captions (the unit: a caption's draws correlate).
        ...judgedColumns(judged, pipeline.reranker !== null),
        ...intervalColumns("real_image_agreement", agreement(captions, realRead).map(Number)),
        ...intervalColumns(
          "dvae_reconstruction_agreement",
          agreement(captions, reconRead).map(Number),
        ),
        image_bits_per_token: loss.imageBitsPerToken,
        text_loss_nats: loss.textLossNats,
        warning: built.warning,
      };
      summary.push(row);
      const shown = (column: string) => formatAgreement(agreementOf(row, column));
      console.log(
        `[prior_shapes] ${split}, t = ${temperature}: the judge agrees with ` +
          `${shown("judge_agreement")} of draws, ${shown("reranked_agreement")} of reranked ` +
          `picks (95% intervals over ${captions.length} captions) · ${minutes()} min`,
      );
      const png = await sampleGrid(real, judged, cfg.gridCaptions);
      if (pipeline.reranker && t === 0) {
        nearMiss.push(...drawNearMissRows(pipeline.reranker, tokenizer, split, judged, cfg.seed));
      }
      judged.forEach((j) => j.images?.dispose());
      await log.writeFile(
        t === 0 ? `samples_${split}.png` : `samples_${split}_t${temperature}.png`,
        png,
      );
    }
    if (split === "test" && cfg.completionImages > 0) {
      const { png, row } = await completionGrid(pipeline, judge, real, captions, cfg);
      await log.writeFile("completion_test.png", png);
      summary.push({ ...row, warning: built.warning });
    }
    tf.dispose([real, recon]);
    clock.lap(`generate + judge: ${split}`);
  }
  await writeCsv(`${log.dir}/summary.csv`, summary);
  if (log.dir && nearMiss.length > 0) await writeCsv(`${log.dir}/near_miss.csv`, nearMiss);
  printNearMiss("prior_shapes", nearMiss);
  if (log.dir) await writeCsv(`${log.dir}/stages.csv`, clock.rows);
  console.log(`[prior_shapes] wrote ${log.dir || "(in memory)"} · ${minutes()} min`);
  judge.dispose();
  pipeline.dispose();
  return { dir: log.dir, summary };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<PriorShapesConfig, Awaited<ReturnType<typeof run>>> = {
  name: "prior_shapes",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
