/**
 * prior_shapes.ts's reranker: trained in its process after the prior, or in a second process
 * beside it (`--rerankBeside`). On our 2-core machine two training processes together make 1.4×
 * the steps per second of one (TensorFlow spreads these small ops poorly over both cores), so the
 * reranker's minutes hide behind the prior's. Both ways run this module's one function on the same
 * data with the same seeds: the same reranker (tests/rerank_beside_test.ts).
 *
 * Run as a script, it takes the path of a {@link RerankerJob} (JSON), trains, and saves the
 * reranker to the job's `out`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { canTrace, initBackend } from "../lib/backend/mod.ts";
import { makeShapes, type ShapesDataset } from "../lib/data/mod.ts";
import { type Dvae, loadDvae } from "../lib/dvae/mod.ts";
import { type RerankerRecipe, rerankerTrainingData } from "../lib/pipeline/mod.ts";
import {
  createReranker,
  loadReranker,
  type Reranker,
  saveReranker,
  trainReranker,
} from "../lib/rerank/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";

/** Everything the reranker's training takes, so that a second process can run it. */
export interface RerankerJob {
  /** The dVAE's weights (half the images pass through it). */
  dvae: string;
  /** The tokenizer's JSON (`BpeTokenizer.save`). */
  tokenizer: string;
  /** Training scenes and their seed (read from the scenes' cache). */
  trainCount: number;
  trainSeed: number;
  /** The recipe (near misses, twins, share through the dVAE, encoder depth). */
  recipe: RerankerRecipe;
  /** Optimiser steps, seed, gradient processes, compiled steps. */
  steps: number;
  seed: number;
  workers: number;
  compile: boolean;
  /** The backend to start (the parent's). */
  backend: string;
  /** Where the trained reranker goes (safetensors). */
  out: string;
}

/**
 * Trains the reranker of a job on its scenes, in this process.
 *
 * @param job The job (its `out` is not written here).
 * @param train The job's training scenes.
 * @param tokenizer The pipeline's tokenizer.
 * @param dvae The pipeline's dVAE.
 * @returns The trained reranker (the caller disposes it).
 */
export async function trainShapesReranker(
  job: RerankerJob,
  train: ShapesDataset,
  tokenizer: BpeTokenizer,
  dvae: Dvae,
): Promise<Reranker> {
  const { recipe } = job;
  const { data, groupSize } = await rerankerTrainingData(train, tokenizer, dvae, recipe, {
    seed: job.seed,
  });
  const reranker = createReranker({
    textLen: data.textLen,
    textVocab: data.textVocab,
    imageStageDepth: recipe.imageStageDepth,
    seed: job.seed,
  });
  const run = await trainReranker(reranker, data, {
    steps: job.steps,
    seed: job.seed,
    workers: job.workers,
    compile: job.compile && canTrace(),
    nearMissWeight: recipe.nearMissWeight,
    groupSize,
    onStep: (row) => {
      const step = Number(row.step);
      if ((step + 1) % 100 === 0 || step + 1 === job.steps) {
        console.log(
          `[prior_shapes] reranker step ${step + 1}/${job.steps}: loss ` +
            `${Number(row.loss).toFixed(3)}, grad norm ${Number(row.grad_norm).toFixed(2)}`,
        );
      }
    },
  });
  console.log(`[prior_shapes] reranker: InfoNCE ${Number(run.rows.at(-1)?.loss).toFixed(3)}`);
  run.dispose();
  return reranker;
}

/** A reranker being trained by a second process. */
export interface RerankerBeside {
  /** Waits for the process and loads what it saved; throws when it failed. */
  result(): Promise<Reranker>;
  /** Stops the process (when the parent fails first). */
  kill(): void;
}

/**
 * Starts a second process that trains the job's reranker and saves it to `job.out`.
 *
 * @param job The job; its tokenizer must already be saved.
 * @param jobPath Where the job's JSON is written for the process.
 * @returns A handle to wait for the reranker.
 */
export async function startRerankerBeside(
  job: RerankerJob,
  jobPath: string,
): Promise<RerankerBeside> {
  await Deno.writeTextFile(jobPath, JSON.stringify(job, null, 2) + "\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(import.meta.url), jobPath],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let ended = false;
  const status = child.status.then((s) => (ended = true, s));
  return {
    async result() {
      const { code } = await status;
      if (code !== 0) {
        throw new Error(`the reranker's process failed (exit ${code}); see its output above`);
      }
      const { model } = await loadReranker(job.out);
      // The pipeline saves its own copy; the job's JSON stays in the run folder as its record.
      await Promise.all([job.out, job.tokenizer].map((path) => Deno.remove(path)));
      return model;
    },
    kill() {
      if (!ended) child.kill();
    },
  };
}

if (import.meta.main) {
  const job = JSON.parse(await Deno.readTextFile(Deno.args[0])) as RerankerJob;
  await initBackend(job.backend as Parameters<typeof initBackend>[0]);
  const train = await makeShapes({ count: job.trainCount, seed: job.trainSeed, split: "train" });
  const tokenizer = await BpeTokenizer.load(job.tokenizer);
  const { model: dvae } = await loadDvae(job.dvae);
  const reranker = await trainShapesReranker(job, train, tokenizer, dvae);
  await saveReranker(job.out, reranker);
  reranker.dispose();
  dvae.dispose();
}
