/**
 * Reading run folders back: `data/runs/<experiment>/<UTC stamp>_<tag>/` with `config.json`,
 * `metrics.csv` and maybe `summary.csv` or `summary.json` (lib/log writes them), for notebooks,
 * comparisons and resumed runs, without TensorFlow or a dataframe library.
 *
 * @module
 */
import { type CsvRow, parseCsv } from "./csv.ts";
import { exists, readTextOrNull } from "./exists.ts";
import { withCurrentFlagNames } from "./flag_names.ts";

/** A run folder's name: a UTC stamp `YYYYMMDDTHHMMSSZ`, `_`, a tag. */
export const RUN_FOLDER_PATTERN: RegExp = /^(\d{8}T\d{6}Z)_(.+)$/;

/**
 * The UTC stamp a run folder's name starts with (second resolution, sorts as text).
 *
 * @param date The run's start.
 * @returns e.g. `20261202T014452Z`.
 * @example
 * ```ts
 * import { runStamp } from "./runs.ts";
 * console.log(runStamp(new Date("2026-12-02T01:44:52.123Z"))); // "20261202T014452Z"
 * ```
 */
export function runStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * When a run started, read back from its folder's stamp ({@link runStamp}'s inverse).
 *
 * @param dir The run folder (`…/<stamp>_<tag>`, a trailing slash allowed).
 * @returns The start, or null when the folder's name is not stamped.
 * @example
 * ```ts
 * import { runStarted } from "./runs.ts";
 * console.log(runStarted("data/runs/demo/20261202T014452Z_full")?.toISOString());
 * // "2026-12-02T01:44:52.000Z"
 * ```
 */
export function runStarted(dir: string): Date | null {
  const stamp = RUN_FOLDER_PATTERN.exec(baseName(dir))?.[1];
  const parts = stamp && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!parts) return null;
  const [, y, mo, d, h, mi, s] = parts;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

/** A run folder as read back by {@link readRun}. */
export interface RunRecord {
  /** The folder, as given. */
  dir: string;
  /** The experiment (see {@link runExperiment}); null when neither config nor path tell. */
  experiment: string | null;
  /** `config.json`'s content (a non-object is kept under `config`). */
  config: Record<string, unknown>;
  /** `metrics.csv`'s rows, numbers and booleans typed; `[]` when there is none. */
  metrics: CsvRow[];
  /** `summary.csv`'s rows, else `summary.json`'s content, else null. */
  summary: CsvRow[] | unknown[] | Record<string, unknown> | null;
}

function baseName(path: string): string {
  const parts = path.replace(/[\\/]+$/, "").split(/[\\/]/);
  return parts[parts.length - 1] ?? "";
}

/**
 * The experiment a run folder belongs to: `config.json`'s `experiment` (lib/log records it), else,
 * for runs made before it did, the parent folder's name when the folder's own name is a run stamp
 * (`…/<experiment>/<stamp>_<tag>`).
 *
 * @param dir The run folder.
 * @param config Its parsed `config.json`.
 * @returns The experiment's name, or null.
 * @example
 * ```ts
 * import { runExperiment } from "./runs.ts";
 * console.log(runExperiment("data/runs/dvae_train/20261202T014452Z_shapes", {})); // "dvae_train"
 * ```
 */
export function runExperiment(dir: string, config: unknown): string | null {
  const recorded = (config as { experiment?: unknown } | null)?.experiment;
  if (typeof recorded === "string") return recorded;
  const trimmed = dir.replace(/[\\/]+$/, "");
  if (!RUN_FOLDER_PATTERN.test(baseName(trimmed))) return null;
  const parent = trimmed.replace(/[\\/]?[^\\/]+$/, "");
  return parent === "" ? null : baseName(parent) || null;
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Reads a run folder's `config.json`.
 *
 * @param dir The run folder.
 * @returns The configuration under today's flag names (a run made before a flag was renamed
 *   reads as if made after: see {@link withCurrentFlagNames}; a non-object kept under `config`),
 *   or null when there is no `config.json`, i.e. `dir` is not a run folder.
 * @throws SyntaxError when `config.json` is not JSON.
 * @example
 * ```ts
 * import { readRunConfig } from "./runs.ts";
 * const config = await readRunConfig(await Deno.makeTempDir()); // null: not a run
 * ```
 */
export async function readRunConfig(dir: string): Promise<Record<string, unknown> | null> {
  const path = `${dir}/config.json`;
  const text = await readTextOrNull(path);
  if (text === null) return null;
  const config = parseJson(text, path);
  return config !== null && typeof config === "object" && !Array.isArray(config)
    ? withCurrentFlagNames(config as Record<string, unknown>)
    : { config };
}

/**
 * Reads a run folder: configuration, metrics and summary.
 *
 * @param dir The run folder.
 * @returns Its {@link RunRecord}.
 * @throws Deno.errors.NotFound when `dir` has no `config.json`.
 * @example
 * ```ts
 * import { latestRun, readRun } from "./mod.ts";
 * const dir = await latestRun("dvae_train");
 * if (dir) {
 *   const run = await readRun(dir);
 *   console.log(run.config.steps, run.metrics.at(-1)?.loss, run.summary);
 * }
 * ```
 */
export async function readRun(dir: string): Promise<RunRecord> {
  const config = await readRunConfig(dir);
  if (config === null) throw new Deno.errors.NotFound(`${dir} is not a run folder: no config.json`);
  const metricsText = await readTextOrNull(`${dir}/metrics.csv`);
  let summary: RunRecord["summary"] = null;
  const summaryCsv = await readTextOrNull(`${dir}/summary.csv`);
  if (summaryCsv !== null) summary = parseCsv(summaryCsv);
  else {
    const summaryJson = await readTextOrNull(`${dir}/summary.json`);
    if (summaryJson !== null) {
      summary = parseJson(summaryJson, `${dir}/summary.json`) as RunRecord["summary"];
    }
  }
  return {
    dir,
    experiment: runExperiment(dir, config),
    config,
    metrics: metricsText === null ? [] : parseCsv(metricsText),
    summary,
  };
}

/** Options of {@link latestRun}. */
export interface LatestRunOptions {
  /** Root folder of all runs. @default "data/runs" */
  root?: string;
  /**
   * Pass over small-budget runs (config.json's `quick: true`) while a full one exists, so a
   * `--quick` check made later does not hide the run whose numbers mean something.
   * @default false
   */
  preferFull?: boolean;
  /**
   * Only runs this accepts count (e.g. one dataset's runs, or not the main job's stage runs);
   * called with the folder and its parsed config.json.
   */
  where?: (dir: string, config: Record<string, unknown>) => boolean;
}

/**
 * The newest run folder of an experiment: the greatest `<stamp>_<tag>` name under
 * `<root>/<experiment>/` that holds a `config.json` (a folder without one never started logging,
 * or never finished); with `preferFull`, the newest full run before any `--quick` one.
 *
 * @param experiment The experiment's name (its folder under `root`).
 * @param options See {@link LatestRunOptions}.
 * @returns The folder's path (`<root>/<experiment>/<name>`), or null when there is none.
 * @example
 * ```ts
 * import { latestRun } from "./runs.ts";
 * const dir = await latestRun("prior_shapes"); // e.g. "data/runs/prior_shapes/20261202T015821Z_n12000"
 * ```
 */
export async function latestRun(
  experiment: string,
  { root = "data/runs", preferFull = false, where }: LatestRunOptions = {},
): Promise<string | null> {
  const parent = `${root}/${experiment}`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(parent)) {
      if (entry.isDirectory && RUN_FOLDER_PATTERN.test(entry.name)) names.push(entry.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  // The stamp leads and has fixed width, so text order is time order; the tag breaks ties.
  names.sort().reverse();
  let quick: string | null = null;
  for (const name of names) {
    const dir = `${parent}/${name}`;
    if (!preferFull && where === undefined) {
      if (await exists(`${dir}/config.json`)) return dir;
      continue;
    }
    const config = await readRunConfig(dir);
    if (config === null || (where !== undefined && !where(dir, config))) continue;
    if (!preferFull) return dir;
    if (config.quick !== true) return dir;
    quick ??= dir;
  }
  return quick;
}
