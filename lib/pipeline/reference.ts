/**
 * The reference pipeline shipped with the toolkit (lib/pipeline/reference/): trained by one
 * command (`deno task reference`, experiments/reference.ts), its manifest's notes hold its record:
 * the command of every stage, the commit, the start, the wall time, the machine and the figures
 * it measured, each with its 95% interval and the caption count it rests on. `Pipeline.load()`
 * without a folder loads it. Its record also carries one fixed judged check (64 test captions,
 * seeded draws), which `referenceCheck` redraws: the shipped weights must still give the figure
 * they were shipped with.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { distinctShapesCaptions, type ShapesSplit } from "../data/mod.ts";
import { judgeCandidates, type SceneReader } from "./evaluate.ts";
import { readManifest } from "./integrity.ts";
import { PipelineManifestError } from "./manifest.ts";
import type { Pipeline } from "./pipeline.ts";
import { type Interval, interval95 } from "../io/mod.ts";

const referenceUrl = new URL("./reference", import.meta.url);

/**
 * The folder of the shipped reference pipeline (what `Pipeline.load()` loads). Imported from a
 * URL that is not a file (a package registry), it is that URL, which `Pipeline.load()` refuses
 * with a clear error: the weights are read from a local checkout.
 */
export const REFERENCE_DIR: string = referenceUrl.protocol === "file:"
  ? fileURLToPath(referenceUrl)
  : referenceUrl.href;

/**
 * The fixed judged check: per-draw agreement over the first `captions` distinct captions of a
 * seeded test set (the caption lists experiments/rerank_n_sweep.ts and zero_shot.ts use), `draws`
 * seeded draws each.
 */
export const REFERENCE_CHECK = {
  /** The split the captions come from. */
  split: "test" as ShapesSplit,
  /** Distinct captions (64: the project's floor for a headline figure). */
  captions: 64,
  /** Scenes of the seeded set the captions are taken from. */
  captionPool: 480,
  /** Seed of that set. */
  captionSeed: 11,
  /** Draws per caption. */
  draws: 2,
  /** Softmax temperature of the draws. */
  temperature: 1,
  /** Seed of the first caption's draws (caption i: seed + i). */
  seed: 0,
};

/** The check's configuration. */
export type ReferenceCheckConfig = typeof REFERENCE_CHECK;

/** What {@link referenceCheck} measures: per-draw agreement with its 95% interval over captions. */
export interface ReferenceCheckResult extends Interval {
  /** Captions judged. */
  captions: number;
  /** Draws per caption. */
  draws: number;
  /** The check that was run. */
  config: ReferenceCheckConfig;
}

/** One measured figure of the reference pipeline (lib/display's `MeasuredFigure` shows it). */
export interface ReferenceFigure extends Interval {
  /** What was measured, e.g. "per-draw agreement" or "reranker's best of 32". */
  figure: string;
  /** Which split (or "test, rendered" and the like). */
  split: string;
  /** Captions (or images) the interval rests on. */
  count: number;
  /** The project's goal for it, when it has one (a rate in [0, 1]). */
  goal?: number;
}

/** One stage of the reference run. */
export interface ReferenceStage {
  /** What the stage did. */
  title: string;
  /** Its command line. */
  command: string;
  /** Its run folder (under data/runs, not shipped). */
  run: string;
  /** Its wall time in seconds. */
  seconds: number;
}

/** The reference pipeline's record, kept in its manifest's notes under `reference`. */
export interface ReferenceRecord {
  /** The one command that trains it. */
  command: string;
  /** The toolkit commit it ran at, and whether files outside data/ differed. */
  code: { commit: string | null; dirty: boolean | null; changed: string[] };
  /** When it started (ISO 8601). */
  started: string;
  /** Its wall time in seconds, every stage included. */
  seconds: number;
  /** The machine: cores, load at the start, backend. */
  machine: { cores: number; loadAtStart: number; backend: string };
  /** Its stages, in order. */
  stages: ReferenceStage[];
  /** Where its recipe departs from the paper's (named beside its figures). */
  departures: string[];
  /** What it measured. */
  figures: ReferenceFigure[];
  /** The fixed judged check, as measured when it was shipped. */
  check: ReferenceCheckResult;
}

/**
 * The check's captions: the first `captions` distinct captions of its seeded set.
 *
 * @param cfg The check.
 * @returns The captions, in the set's order.
 * @throws RangeError when the set has fewer distinct captions.
 * @example
 * ```ts
 * import { referenceCheckCaptions } from "./reference.ts";
 * console.log((await referenceCheckCaptions()).length); // 64
 * ```
 */
export async function referenceCheckCaptions(
  cfg: ReferenceCheckConfig = REFERENCE_CHECK,
): Promise<string[]> {
  return await distinctShapesCaptions(
    { count: cfg.captionPool, seed: cfg.captionSeed, split: cfg.split },
    cfg.captions,
  );
}

/**
 * Runs the fixed judged check on a pipeline: seeded draws for fixed captions, read by the judge.
 *
 * @param pipeline The pipeline (the reference one, or one about to be shipped).
 * @param judge Reads scenes (lib/judge's shapes judge).
 * @param cfg The check.
 * @param onCaption Progress after each caption.
 * @returns Per-draw agreement with its 95% interval over captions.
 * @example
 * ```ts
 * import { Pipeline, referenceCheck } from "./mod.ts";
 * import { createShapesJudge } from "../judge/mod.ts";
 * const pipeline = await Pipeline.load();
 * const judge = await createShapesJudge();
 * const { mean, low, high } = await referenceCheck(pipeline, judge);
 * console.log(mean, low, high);
 * ```
 */
export async function referenceCheck(
  pipeline: Pipeline,
  judge: SceneReader,
  cfg: ReferenceCheckConfig = REFERENCE_CHECK,
  onCaption?: (done: number, total: number) => void,
): Promise<ReferenceCheckResult> {
  const captions = await referenceCheckCaptions(cfg);
  const judged = await judgeCandidates(pipeline, judge, captions, {
    n: cfg.draws,
    seed: cfg.seed,
    temperature: cfg.temperature,
    onCaption,
  });
  const perCaption = judged.map((j) => j.agrees.filter(Boolean).length / j.agrees.length);
  return { ...interval95(perCaption), captions: captions.length, draws: cfg.draws, config: cfg };
}

/**
 * Reads the record of a reference pipeline from its manifest.
 *
 * @param dir The pipeline folder. @default REFERENCE_DIR
 * @returns The record.
 * @throws {PipelineManifestError} When the folder has no manifest or it holds no record.
 * @example
 * ```ts
 * import { readReferenceRecord } from "./reference.ts";
 * const record = await readReferenceRecord();
 * console.log(record.command, record.figures.length);
 * ```
 */
export async function readReferenceRecord(dir: string = REFERENCE_DIR): Promise<ReferenceRecord> {
  const manifest = await readManifest(dir);
  const record = manifest.notes?.reference as Partial<ReferenceRecord> | undefined;
  const fields = [
    "command",
    "code",
    "started",
    "seconds",
    "machine",
    "stages",
    "departures",
    "figures",
    "check",
  ];
  const missing = fields.filter((f) => record?.[f as keyof ReferenceRecord] === undefined);
  if (missing.length > 0) {
    throw new PipelineManifestError(
      dir,
      `its manifest holds no reference record (missing: ${missing.join(", ")}); ` +
        "`deno task reference` writes one",
    );
  }
  return record as ReferenceRecord;
}
