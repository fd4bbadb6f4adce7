/**
 * What experiments/rerank_n_sweep.ts, experiments/zero_shot.ts and experiments/rerank_train.ts
 * share: which saved pipeline they use (the full one, else the quick one, else the one of the
 * main job's newest run, made on the spot when there is none), the fixed caption lists per split,
 * and one judged pass of N draws per caption per split (lib/pipeline's `judgeCandidates`).
 *
 * @module
 */
import { distinctShapesCaptions, type ShapesSplit } from "../lib/data/mod.ts";
import { exists, readRunConfig, requireRun } from "../lib/io/mod.ts";
import type { ShapesJudge } from "../lib/judge/mod.ts";
import { loadReranker, type Reranker } from "../lib/rerank/mod.ts";
import {
  judgeCandidates,
  type JudgedCaption,
  MANIFEST_FILE,
  Pipeline,
  readManifest,
  REFERENCE_DIR,
} from "../lib/pipeline/mod.ts";

/** Where the caption lists come from (the same for both experiments). */
export const CAPTION_DEFAULTS = {
  /**
   * Captions per split: the first this many distinct captions of the split's seeded set (64: the
   * project's floor for a headline rate).
   * @accepts integer ≥ 1
   */
  captions: 64,
  /**
   * Scenes of the train split's set: those experiments/prior_shapes.ts trains on (its defaults).
   * @accepts integer ≥ 1
   */
  trainCount: 4000,
  /** Seed of the train split's set (prior_shapes' default). @accepts integer */
  trainSeed: 0,
  /** Scenes of the test and zero-shot sets. @accepts integer ≥ 1 */
  captionPool: 480,
  /** Seed of the test and zero-shot sets (prior_shapes' evaluation seed). @accepts integer */
  captionSeed: 11,
};

/** How the caption lists are chosen. */
export type CaptionConfig = typeof CAPTION_DEFAULTS;

/**
 * The fixed caption list of a split: the first `captions` distinct captions of a seeded set
 * (train: the prior's own training scenes, so these captions were trained on).
 *
 * @param split The split.
 * @param cfg Count, sets and seeds.
 * @returns The captions, in the set's order.
 * @throws RangeError when the set has fewer distinct captions than asked for.
 */
export async function splitCaptions(split: ShapesSplit, cfg: CaptionConfig): Promise<string[]> {
  const set = split === "train"
    ? { count: cfg.trainCount, seed: cfg.trainSeed, split }
    : { count: cfg.captionPool, seed: cfg.captionSeed, split };
  try {
    return await distinctShapesCaptions(set, cfg.captions);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new RangeError(`${err.message} (--captions); raise --captionPool (or --trainCount)`);
  }
}

/** The full pipeline (experiments/prior_shapes.ts) and the quick one (demo.ts --quick). */
export const FULL_PIPELINE = "data/cache/pipeline_shapes";
export const QUICK_PIPELINE = "data/cache/pipeline_shapes_quick";

/** A pipeline folder and why it was chosen, for the run's config.json. */
export interface ChosenPipeline {
  /** The folder, relative to the working directory. */
  dir: string;
  /** "flag" (--pipeline), "full", "reference", "quick", or "demo run <folder>". */
  source: string;
}

/**
 * Which saved pipeline an experiment uses: `asked` when given (a missing one is then an error
 * from {@link loadRerankingPipeline}, never replaced), else the full one when it is saved, else
 * the reference pipeline shipped with the toolkit (lib/pipeline/reference/), else the quick one,
 * else the `pipeline` named by the main job's newest run (lib/io's `requireRun` runs
 * `experiments/demo.ts --quick` first when there is none, printing the full command).
 *
 * @param asked The --pipeline flag ("" = choose).
 * @param experiment The caller's name, for the line that says which one it took.
 * @param repo The repository's root, relative to the working directory. @default "."
 * @param reference The shipped reference pipeline's folder. @default REFERENCE_DIR
 * @returns The folder and its source.
 * @throws Error when the demo run's config.json names no pipeline.
 */
export async function choosePipeline(
  asked: string,
  experiment: string,
  repo = ".",
  reference = REFERENCE_DIR,
): Promise<ChosenPipeline> {
  if (asked !== "") return { dir: asked, source: "flag" };
  const at = (path: string) => (repo === "." ? path : `${repo}/${path}`);
  if (await exists(at(`${FULL_PIPELINE}/${MANIFEST_FILE}`))) {
    return { dir: at(FULL_PIPELINE), source: "full" };
  }
  if (await exists(`${reference}/${MANIFEST_FILE}`)) {
    console.log(
      `[${experiment}] no full pipeline in ${FULL_PIPELINE} (\`deno run -A ` +
        "experiments/prior_shapes.ts`): using the reference pipeline shipped with the toolkit " +
        "(lib/pipeline/reference/, `deno task reference`)",
    );
    return { dir: reference, source: "reference" };
  }
  if (await exists(at(`${QUICK_PIPELINE}/${MANIFEST_FILE}`))) {
    console.log(
      `[${experiment}] no full pipeline in ${FULL_PIPELINE} (\`deno run -A ` +
        `experiments/prior_shapes.ts\`): using the quick one, ${QUICK_PIPELINE}, whose rates ` +
        "check the code, not the method",
    );
    return { dir: at(QUICK_PIPELINE), source: "quick" };
  }
  const run = await requireRun("demo", { repo, command: ["experiments/demo.ts"] });
  const named = (await readRunConfig(run))?.pipeline;
  if (typeof named !== "string" || named === "") {
    throw new Error(
      `[${experiment}] ${run}/config.json names no pipeline: pass --pipeline=DIR ` +
        `(a folder saved by experiments/prior_shapes.ts)`,
    );
  }
  console.log(
    `[${experiment}] no pipeline in data/cache/: using ${named}, from the demo run ${run}`,
  );
  return { dir: at(named), source: `demo run ${run}` };
}

/**
 * Loads a saved pipeline that has a reranker; a missing one is met with the commands that make it.
 *
 * @param dir The pipeline folder.
 * @param experiment The caller's name, for the message.
 * @returns The pipeline (dispose it).
 */
export async function loadRerankingPipeline(
  dir: string,
  experiment: string,
  rerankerPath = "",
): Promise<Pipeline> {
  if (!await exists(`${dir}/${MANIFEST_FILE}`)) {
    throw new Error(
      `[${experiment}] no pipeline in ${dir}: build it with \`deno run -A ` +
        "experiments/prior_shapes.ts` (the full one, data/cache/pipeline_shapes, ~25 min) or " +
        "`deno run -A experiments/demo.ts --quick` (data/cache/pipeline_shapes_quick, ~3 min, " +
        "for checking the code only), then pass --pipeline=DIR",
    );
  }
  const pipeline = await Pipeline.load(dir);
  if (rerankerPath !== "") return await withReranker(pipeline, rerankerPath, experiment);
  if (!pipeline.reranker) {
    pipeline.dispose();
    throw new Error(
      `[${experiment}] the pipeline in ${dir} has no reranker (it was saved with ` +
        "--rerankSteps=0): there is nothing to rerank with",
    );
  }
  return pipeline;
}

/**
 * The pipeline with its reranker swapped for a saved one (experiments/rerank_train.ts's weights,
 * e.g. one trained with near-miss negatives), so the same draws are judged under another
 * reranker. The reranker must read the pipeline's tokenizer: its vocabulary and pad id are
 * checked, and the pipeline refuses a reranker of another vocabulary.
 *
 * @param pipeline The loaded pipeline (its own reranker is freed).
 * @param path The reranker's safetensors file.
 * @param experiment The caller's name, for the messages.
 * @returns A pipeline of the same tokenizer, dVAE and prior with that reranker.
 * @throws RangeError when the reranker does not fit the pipeline's tokenizer.
 */
async function withReranker(pipeline: Pipeline, path: string, experiment: string) {
  let model: Reranker | null = null;
  try {
    model = (await loadReranker(path)).model;
    const { padId } = model.config;
    if (padId !== undefined && padId !== pipeline.tokenizer.padId) {
      throw new RangeError(
        `[${experiment}] the reranker ${path} pads with id ${padId}, the pipeline's tokenizer ` +
          `with ${pipeline.tokenizer.padId}: it was trained with another tokenizer`,
      );
    }
    const swapped = new Pipeline(pipeline.tokenizer, pipeline.dvae, pipeline.prior, model);
    console.log(`[${experiment}] reranking with ${path} instead of the pipeline's own reranker`);
    pipeline.reranker?.dispose();
    return swapped;
  } catch (err) {
    model?.dispose();
    pipeline.dispose();
    throw err;
  }
}

/**
 * Where the pipeline's training run (its manifest's `notes.run`) used other train scenes than
 * `trainCount`/`trainSeed`, the "train" captions were not all trained on: says so.
 *
 * @param dir The pipeline folder.
 * @param cfg The caption configuration.
 * @returns A warning, or "" when the training run agrees or cannot be read.
 */
export async function trainSetWarning(dir: string, cfg: CaptionConfig): Promise<string> {
  try {
    const run = (await readManifest(dir)).notes?.run;
    const config = typeof run === "string" ? await readRunConfig(run) : null;
    if (!config || !("trainCount" in config)) return "";
    if (config.trainCount === cfg.trainCount && config.trainSeed === cfg.trainSeed) return "";
    return `the pipeline was trained on ${config.trainCount} scenes of seed ${config.trainSeed} ` +
      `(${run}), not ${cfg.trainCount} of seed ${cfg.trainSeed}: pass --trainCount and ` +
      "--trainSeed to take the train captions from its own training scenes";
  } catch {
    return "";
  }
}

/** One split's judged draws. */
export interface JudgedSplit {
  split: ShapesSplit;
  judged: JudgedCaption[];
  /** Wall time of its draws, scoring and judging, seconds. */
  seconds: number;
}

/**
 * Draws `n` candidates per caption of each split once, scores them with the reranker and reads
 * them with the judge. Caption i of split s is drawn with seed `seed + 1000·s + i`.
 *
 * @param pipeline The pipeline.
 * @param judge The shapes judge.
 * @param splits The splits and their captions.
 * @param o Draws per caption, temperature, seed, a tag for progress lines, and how many captions
 *   per split keep their draws' images (`JudgedCaption.images`; the caller disposes them).
 * @returns One entry per split, in order.
 */
export async function judgeSplits(
  pipeline: Pipeline,
  judge: ShapesJudge,
  splits: { split: ShapesSplit; captions: string[] }[],
  o: { n: number; temperature: number; seed: number; experiment: string; keepImages?: number },
): Promise<JudgedSplit[]> {
  const out: JudgedSplit[] = [];
  for (const [s, { split, captions }] of splits.entries()) {
    const started = performance.now();
    const every = Math.max(1, Math.round(captions.length / 4));
    const judged = await judgeCandidates(pipeline, judge, captions, {
      n: o.n,
      seed: o.seed + 1000 * s,
      temperature: o.temperature,
      keepImages: o.keepImages,
      onCaption: (done, total) => {
        if (done % every === 0 || done === total) {
          const sec = (performance.now() - started) / 1000;
          console.log(
            `[${o.experiment}] ${split}: ${done}/${total} captions · ${sec.toFixed(0)} s`,
          );
        }
      },
    });
    out.push({ split, judged, seconds: (performance.now() - started) / 1000 });
  }
  return out;
}
