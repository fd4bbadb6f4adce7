/**
 * Experiment: how well does a small CLIP-style reranker (lib/rerank, paper §2.6) trained for a few
 * minutes on train-split shapes tell a caption's own image from images of other captions, for
 * held-out test captions and for zero-shot captions (colour–shape pairs it never saw)?
 *
 * Command: `deno run -A experiments/rerank_train.ts [--steps=1000] [--trainCount=12000]
 *   [--pipeline=DIR] [--quick]`
 *   The captions are tokenized with a saved pipeline's tokenizer, so the reranker fits that
 *   pipeline: without --pipeline, the full one, else the shipped reference one, else the quick
 *   one, else the newest demo run's (see experiments/rerank_n_sweep.ts); config.json records
 *   `pipeline` and `pipelineSource`.
 *   `--tokenizer=PATH` (a tokenizer file) takes precedence. `--resume=data/runs/rerank_train/<run>`
 *   continues a stopped run from its last checkpoint. `--backend=NAME`, else $DALLE_LAB_BACKEND,
 *   else `auto`. The training recipe is lib/pipeline's RERANKER_RECIPE, each part a flag, all
 *   recorded in config.json: `--nearMisses=5 --nearMissWeight=1` (NegCLIP's hard negatives: each
 *   training image also meets K near misses of its own caption, one attribute changed, the
 *   relation flipped or the objects swapped, never a held-out pair, as extra text-side
 *   negatives), `--twins=true` (each scene's near-miss twin, rendered from one of those captions,
 *   in the same batch: image-side negatives), `--throughDvae=0.5` (half the training images
 *   passed through the pipeline's dVAE, or `--dvae=PATH`'s: the draws it ranks are decoded) and
 *   `--imageStageDepth=1` (a stride-1 convolution before each halving). CLIP's recipe, batch
 *   negatives only: `--nearMisses=0 --nearMissWeight=0 --twins=false --throughDvae=0
 *   --imageStageDepth=0`. `--quick`: 1,000 train pairs, 200 steps of 32, 200 captions per
 *   evaluation set, weights to data/cache/rerank_shapes_quick.safetensors, tag "quick": the same
 *   path and files, for checking the code, not the accuracy.
 * Runtime: about five minutes on our 2-core machine at the recipe (1,000 steps of 128 pairs, five
 *   near misses each), about two with CLIP's recipe, then seconds to render and score the
 *   evaluation sets; the results page gives each run's own time. `--quick`: under a minute.
 * Measure: for each caption of a set, its own image is ranked against 31 images of other captions
 *   of the same set (drawn at random, leaving out images the caption also describes, e.g. "a red
 *   circle" for another red circle); accuracy = how often its own image is ranked first (chance
 *   1/32 ≈ 3%), with a 95% Wilson interval. Zero-shot captions are ranked among zero-shot images,
 *   so every distractor holds a held-out pair too.
 *   Near misses (lib/rerank `nearMissAccuracy`): for each image of a set and each kind (colour,
 *   shape, size, relation flipped, objects swapped), whether its true caption outscores the same
 *   caption with that one change (false of the image); chance 50%, ties settled by a seeded coin;
 *   a 95% Wilson interval per kind and split; and the same for those scenes passed through the
 *   pipeline's dVAE (the reranker ranks decoded images).
 * Expected: well above chance on test captions (same distribution as training); lower on
 *   zero-shot captions, whose colour–shape pairs the text encoder never saw together. Random
 *   distractors are an easy test (they nearly always differ in colour); near misses are the hard
 *   one: a reranker trained on batch negatives alone reads colour and size, and left/right at
 *   chance; near-miss captions lift relation and order, and the deeper image encoder lifts shape
 *   (the last attribute to pass 90% on zero-shot scenes).
 * Results: data/figures/RESULTS.md § rerank_train, and § rerank_train (CLIP's recipe: batch
 *   negatives only) for comparison (`deno task figures` writes them from the newest full runs,
 *   naming folder, commit and machine): top-1 of 32 per split and the near-miss preference per
 *   kind, split and kind of image, each with its 95% interval.
 *
 * Writes: data/runs/rerank_train/<UTC>_<tag>/{config.json, metrics.csv, checkpoint.safetensors,
 *   summary.csv (one row per split: captions, pool, correct, accuracy, interval, chance, mean
 *   rank), near_miss.csv (one row per split, kind of image and kind of near miss: images,
 *   correct, ties, accuracy, interval)}; the weights to data/cache/rerank_shapes.safetensors
 *   (`loadReranker(path)` rebuilds the model; its metadata names the tokenizer file and textLen).
 *
 * @module
 */
import { canTrace, defaultWorkers, ensureBackend } from "../lib/backend/mod.ts";
import { makeShapes, parseCaption, sceneMatches, type ShapesSplit } from "../lib/data/mod.ts";
import { type Experiment, experimentMain, UsageError, writeCsv } from "../lib/log/mod.ts";
import { openRunLog, paramCount } from "../lib/nn/mod.ts";
import {
  checkRecipe,
  MANIFEST_FILE,
  readManifest,
  RERANKER_RECIPE,
  type RerankerRecipe,
  rerankerTrainingData,
  verifyParts,
} from "../lib/pipeline/mod.ts";
import { loadDvae } from "../lib/dvae/mod.ts";
import {
  createReranker,
  rerankData,
  retrievalAccuracy,
  saveReranker,
  trainReranker,
} from "../lib/rerank/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import { choosePipeline } from "./_judged_splits.ts";
import { type NearMissRow, nearMissRows as nearMissRowsOf, printNearMiss } from "./_near_miss.ts";

/** Every flag with its default. */
export const DEFAULTS = {
  /**
   * Training scenes ("train" split only: the reranker never sees held-out pairs).
   * @accepts integer ≥ 1
   */
  trainCount: 12000,
  /** Seed of the training scenes. @accepts integer */
  trainSeed: 0,
  /** Scenes of the test evaluation set. @accepts integer ≥ 1 */
  testCount: 2000,
  /** Seed of the test evaluation set. @accepts integer */
  testSeed: 1,
  /** Scenes of the zero-shot evaluation set. @accepts integer ≥ 1 */
  zeroShotCount: 2000,
  /** Seed of the zero-shot evaluation set. @accepts integer */
  zeroShotSeed: 1,
  /** Training scenes evaluated too (for the train–test gap). @accepts integer ≥ 1 */
  trainEvalCount: 2000,
  /** Optimiser steps. @accepts integer ≥ 1 */
  steps: 1000,
  /** Pairs per step (each pair's negatives are the batch's others). @accepts integer ≥ 2 */
  batchSize: 128,
  /** Peak step size. @accepts number > 0 */
  lr: 2e-3,
  /** Warm-up steps of the step size. @accepts integer ≥ 0 */
  warmupSteps: 50,
  /** AdamW weight decay. @accepts number ≥ 0 */
  weightDecay: 0.1,
  /** The saved pipeline whose tokenizer to use; "" = choose (see the header). */
  pipeline: "",
  /** A tokenizer file to use instead of the pipeline's. */
  tokenizer: "",
  /** Caption positions; 0 = the longest training caption's ids + `<|eot|>`. */
  textLen: 0,
  /** Width of the text encoder (lib/rerank's default). @accepts integer ≥ 1 */
  textWidth: 64,
  /** Transformer layers of the text encoder. @accepts integer ≥ 1 */
  textLayers: 2,
  /** Attention heads of the text encoder. @accepts integer ≥ 1 */
  textHeads: 4,
  /** Width of the joint embedding. @accepts integer ≥ 1 */
  embedDim: 64,
  /** How the image encoder pools its grid: "flatten" or "mean". @accepts flatten | mean */
  imagePool: "flatten",
  /**
   * Stride-1 convolutions before each halving of the image encoder (lib/pipeline's
   * RERANKER_RECIPE; 0 = the 3-layer encoder). @accepts integer ≥ 0
   */
  imageStageDepth: RERANKER_RECIPE.imageStageDepth,
  /** Images each evaluation caption is ranked among (its own included). @accepts integer ≥ 1 */
  pool: 32,
  /** Seed of the evaluation pools' draw. @accepts integer */
  evalSeed: 0,
  /**
   * Near-miss captions drawn per training image (one attribute, the relation or the order
   * changed; never a held-out pair), the extra negatives `nearMissWeight` trains on.
   * @accepts integer ≥ 0
   */
  nearMisses: RERANKER_RECIPE.nearMisses,
  /**
   * Weight of the near-miss term (NegCLIP): each image also picks its caption among the batch's
   * and its own near misses; 0 = CLIP's loss alone. @accepts number ≥ 0
   */
  nearMissWeight: RERANKER_RECIPE.nearMissWeight,
  /** Seed of the training near misses' draw (and of the twins'). @accepts integer */
  nearMissSeed: 0,
  /**
   * Near-miss twins (lib/data's `withNearMissTwins`): each training scene is joined by a scene
   * rendered from one of its near-miss captions, captioned by it and always in the same batch,
   * so each caption must pick its own image over one that differs in a single respect (the
   * reranker's task among draws); a batch then holds batchSize/2 scenes and their twins.
   */
  twins: RERANKER_RECIPE.twins,
  /**
   * Share of the training images replaced by the pipeline's dVAE reconstruction
   * (decode(encode(image))), the kind of image the reranker ranks in the pipeline; 0 = rendered
   * scenes only. @accepts number in [0, 1]
   */
  throughDvae: RERANKER_RECIPE.throughDvae,
  /** A dVAE's weights for `throughDvae` instead of the pipeline's own. */
  dvae: "",
  /** Seed of the weights and the batch order. */
  seed: 0,
  /**
   * Gradient processes; 0 = defaultWorkers() (1 on tensorflow). Negatives are per process.
   * @accepts integer ≥ 0
   */
  workers: 0,
  /**
   * Run each training step as TensorFlow calls (traced at the first two steps) on the tensorflow
   * backend; elsewhere, or false, eagerly. The same results to float32 rounding, faster.
   * @accepts boolean
   */
  compile: true,
  /** Where the weights go. */
  out: "data/cache/rerank_shapes.safetensors",
  /** Suffix of the run folder. */
  tag: "",
  /** Folder that holds the runs. */
  root: "data/runs",
  /** Write the run folder (false: keep rows in memory). */
  write: true,
  /** A run folder of this experiment to continue from its last checkpoint ("" = a new run). */
  resume: "",
  /** Run at the small budget of {@link QUICK}. */
  quick: false,
};

/** What `--quick` changes: a budget that checks the code path, not the accuracy. */
export const QUICK: Partial<RerankTrainConfig> = {
  quick: true,
  trainCount: 1000,
  testCount: 200,
  zeroShotCount: 200,
  trainEvalCount: 200,
  steps: 200,
  batchSize: 32,
  warmupSteps: 5,
  out: "data/cache/rerank_shapes_quick.safetensors",
  tag: "quick",
};

/** The experiment's configuration. */
export type RerankTrainConfig = typeof DEFAULTS;

/** One row of summary.csv. */
export interface RetrievalRow {
  split: string;
  captions: number;
  pool: number;
  correct: number;
  accuracy: number;
  ci_low: number;
  ci_high: number;
  chance: number;
  mean_rank: number;
  [key: string]: string | number;
}

/** The tokenizer: the file `tokenizer` names, else the pipeline's (chosen as the header says). */
async function loadTokenizer(c: RerankTrainConfig) {
  const path = c.tokenizer;
  if (path) return { tokenizer: await BpeTokenizer.load(path), path, pipeline: null };
  const pipeline = await choosePipeline(c.pipeline, "rerank_train");
  // lib/pipeline's checks, not a second reading of the manifest: the tokenizer file is a plain
  // name inside the folder with the hash the pipeline recorded.
  const manifest = await readManifest(pipeline.dir);
  const checked = (await verifyParts(pipeline.dir, manifest)).tokenizer;
  if (checked === undefined) {
    throw new TypeError(`${pipeline.dir}/${MANIFEST_FILE} names no tokenizer part`);
  }
  return { tokenizer: await BpeTokenizer.load(checked), path: checked, pipeline };
}

/** The dVAE `throughDvae` passes images through: `dvae`'s file, else the pipeline's part. */
async function loadCodec(c: RerankTrainConfig, pipelineDir: string) {
  let path = c.dvae;
  if (!path) {
    if (!pipelineDir) {
      throw new UsageError(`--throughDvae needs a dVAE: give --dvae=PATH or use a pipeline`);
    }
    path = (await verifyParts(pipelineDir, await readManifest(pipelineDir))).dvae ?? "";
    if (!path) throw new TypeError(`${pipelineDir}/${MANIFEST_FILE} names no dVAE part`);
  }
  return { dvae: (await loadDvae(path)).model, path };
}

/**
 * Trains the reranker on train-split shapes and measures retrieval on test, zero-shot and
 * training captions.
 *
 * @param overrides Changes to {@linkcode DEFAULTS}.
 * @returns The run folder, the summary rows and the training seconds.
 * @example
 * ```ts
 * import { run } from "./rerank_train.ts";
 * const { summary } = await run({
 *   trainCount: 64, steps: 2, batchSize: 16, testCount: 40, zeroShotCount: 40, trainEvalCount: 40,
 *   pool: 8, warmupSteps: 1, write: false, out: "/tmp/rerank.safetensors",
 *   pipeline: "data/cache/pipeline_shapes_quick",
 * });
 * console.log(summary.map((r) => r.split)); // ["test", "zero-shot", "train"]
 * ```
 */
export async function run(overrides: Partial<RerankTrainConfig> = {}): Promise<{
  dir: string;
  summary: RetrievalRow[];
  nearMiss: NearMissRow[];
  trainSeconds: number;
}> {
  const backend = await ensureBackend();
  const asked = { ...DEFAULTS, ...(overrides.quick ? QUICK : {}), ...overrides };
  const c = { ...asked, workers: asked.workers === 0 ? defaultWorkers() : asked.workers };
  const recipe: RerankerRecipe = {
    nearMisses: c.nearMisses,
    nearMissWeight: c.nearMissWeight,
    twins: c.twins,
    throughDvae: c.throughDvae,
    imageStageDepth: c.imageStageDepth,
  };
  try {
    checkRecipe(recipe, (field) => `--${field}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const train = await makeShapes({ count: c.trainCount, seed: c.trainSeed, split: "train" });
  const { tokenizer, path: tokenizerPath, pipeline } = await loadTokenizer(c);
  // The pipeline's dVAE (or --dvae): what throughDvae trains on, and what the near-miss table's
  // "through the dVAE" rows read.
  const codec = c.throughDvae > 0 || c.dvae || pipeline
    ? await loadCodec(c, pipeline?.dir ?? "")
    : null;
  const { data, groupSize } = await rerankerTrainingData(
    train,
    tokenizer,
    codec?.dvae ?? null,
    recipe,
    { seed: c.seed, nearMissSeed: c.nearMissSeed, textLen: c.textLen > 0 ? c.textLen : undefined },
  );
  const model = createReranker({
    textLen: data.textLen,
    textVocab: tokenizer.vocabSize,
    padId: tokenizer.padId,
    textWidth: c.textWidth,
    textLayers: c.textLayers,
    textHeads: c.textHeads,
    embedDim: c.embedDim,
    imagePool: c.imagePool as "flatten" | "mean",
    imageStageDepth: c.imageStageDepth,
    seed: c.seed,
  });
  const log = await openRunLog({
    experiment: "rerank_train",
    tag: c.tag || "shapes",
    config: {
      ...c,
      pipeline: pipeline?.dir ?? "",
      pipelineSource: pipeline?.source ?? "unused: --tokenizer",
      dvae: codec?.path ?? "",
      backend,
      model: model.config,
      parameters: paramCount(model),
      tokenizerPath,
    },
    root: c.root,
    write: c.write,
    totalSteps: c.steps,
    printEvery: 50,
    resume: c.resume,
  });
  console.log(
    `[rerank_train] ${paramCount(model)} parameters; ${data.images.count} train pairs` +
      `${c.twins ? " (half of them near-miss twins)" : ""}; ` +
      `tokenizer ${tokenizer.vocabSize} ids (${tokenizerPath}); ` +
      `textLen ${data.textLen}; ${c.workers} worker(s)`,
  );
  const started = performance.now();
  const run = await trainReranker(model, data, {
    steps: c.steps,
    batchSize: c.batchSize,
    lr: c.lr,
    warmupSteps: c.warmupSteps,
    weightDecay: c.weightDecay,
    seed: c.seed,
    workers: c.workers,
    compile: c.compile && canTrace(),
    log,
    checkpointEvery: log.dir ? 100 : 0,
    resume: Boolean(c.resume),
    nearMissWeight: c.nearMissWeight,
    groupSize,
  });
  const trainSeconds = (performance.now() - started) / 1000;
  run.dispose();
  if (c.write) {
    await saveReranker(c.out, model, {
      tokenizer: tokenizerPath,
      text_len: String(data.textLen),
      steps: String(c.steps),
      run: log.dir,
    });
  }

  const sets: [ShapesSplit, number, number][] = [
    ["test", c.testCount, c.testSeed],
    ["zero-shot", c.zeroShotCount, c.zeroShotSeed],
    ["train", c.trainEvalCount, c.trainSeed],
  ];
  const summary: RetrievalRow[] = [];
  const nearMissRows: NearMissRow[] = [];
  for (const [split, count, seed] of sets) {
    // Training captions: the first `count` of the training set itself.
    const set = split === "train" ? train : await makeShapes({ count, seed, split });
    const n = Math.min(count, set.images.count);
    const rows = Array.from({ length: n }, (_, i) => i);
    const captions = rows.map((i) => set.captions[i]);
    const scenes = rows.map((i) => set.attributes[i]);
    const pixels = set.images.height * set.images.width * 3;
    const images = { ...set.images, count: n, data: set.images.data.subarray(0, n * pixels) };
    const evalData = rerankData({ images, captions, tokenizer, textLen: data.textLen });
    const meanings = captions.map(parseCaption);
    const r = retrievalAccuracy(model, evalData, {
      pool: c.pool,
      seed: c.evalSeed,
      excluded: (i, j) => sceneMatches(meanings[i], scenes[j]),
    });
    summary.push({
      split,
      captions: r.total,
      pool: r.pool,
      correct: r.correct,
      accuracy: r.accuracy,
      ci_low: r.low,
      ci_high: r.high,
      chance: r.chance,
      mean_rank: r.ranks.reduce((a, b) => a + b, 0) / r.total,
      steps: c.steps,
      batch: c.batchSize,
      train_seconds: trainSeconds,
    });
    // Does it read the whole caption? Its true caption against one near miss of each kind.
    nearMissRows.push(
      ...nearMissRowsOf(model, tokenizer, [{ split, set, count: n }], {
        seed: c.evalSeed,
        codec: codec?.dvae,
      }),
    );
  }
  if (log.dir) await writeCsv(`${log.dir}/summary.csv`, summary);
  if (log.dir) await writeCsv(`${log.dir}/near_miss.csv`, nearMissRows);
  console.table(
    summary.map((r) => ({
      split: r.split,
      captions: r.captions,
      "top-1 of pool": `${(100 * r.accuracy).toFixed(1)}%`,
      "95% interval": `[${(100 * r.ci_low).toFixed(1)}, ${(100 * r.ci_high).toFixed(1)}]`,
      chance: `${(100 * r.chance).toFixed(1)}%`,
    })),
  );
  printNearMiss("rerank_train", nearMissRows);
  console.log(
    `[rerank_train] ${trainSeconds.toFixed(0)} s of training` +
      (c.write ? `; saved ${c.out}; run ${log.dir}` : ""),
  );
  model.dispose();
  codec?.dvae.dispose();
  return { dir: log.dir, summary, nearMiss: nearMissRows, trainSeconds };
}

/** The experiment as lib/log's `experimentMain` runs it. */
export const EXPERIMENT: Experiment<RerankTrainConfig, Awaited<ReturnType<typeof run>>> = {
  name: "rerank_train",
  defaults: DEFAULTS,
  quick: QUICK,
  run,
};

if (import.meta.main) await experimentMain(EXPERIMENT);
