/**
 * A run's folder and metrics table: `data/runs/<experiment>/<UTC stamp>_<tag>/` with
 * `config.json` and `metrics.csv` (one row per logged step), progress lines on the terminal, and
 * resuming a run from a checkpoint into the same folder.
 *
 * @module
 */
import * as aq from "arquero";
import { ensureBackend, tf } from "../backend/mod.ts";
import {
  columnsOf,
  formatCsv,
  parseCsv,
  readRunConfig,
  readTextOrNull,
  RUN_FOLDER_PATTERN,
  runExperiment,
  runStamp,
  writeFileAtomic,
  writeFileAtomicSync,
} from "../io/mod.ts";
import { RunMismatchError } from "./run_mismatch.ts";
import { Progress } from "./progress.ts";
import { type CodeVersion, codeVersion } from "./code_version.ts";
import { machineLoad } from "./machine.ts";

/** One metrics row: `step` plus snake_case metrics with units in their names. */
export type MetricsRow = Record<string, number | string | boolean | null>;

/** Options of {@link RunLog.create}. */
export interface RunLogOptions {
  /** Experiment name, the folder under `root`; recorded in `config.json` as `experiment`. */
  experiment: string;
  /** Short tag appended to the timestamp (e.g. "beta6.6_cosine"). @default "run" */
  tag?: string;
  /** The run's configuration, saved as `config.json`. @default {} */
  config?: unknown;
  /** Root folder of all runs. @default "data/runs" */
  root?: string;
  /** Rewrite `metrics.csv` every this many rows (0: only on `flush`). @default 50 */
  flushEvery?: number;
  /** Report progress every this many rows (0: never; notebooks: one live display). @default 10 */
  printEvery?: number;
  /** Total steps, for the ETA in progress lines. */
  totalSteps?: number;
  /** Write files at all (false keeps rows in memory only, e.g. for tests). @default true */
  write?: boolean;
}

/** Options of {@link RunLog.resume}. */
export interface RunLogResumeOptions {
  /** The experiment resuming; the run folder must be one of its runs. */
  experiment: string;
  /** The checkpoint's step: rows with `step < fromStep` are kept, the rest dropped. */
  fromStep: number;
  /** Report progress every this many rows (0: never; notebooks: one live display). @default 10 */
  printEvery?: number;
  /** Total steps, for the ETA in progress lines. */
  totalSteps?: number;
  /** Rewrite `metrics.csv` every this many rows (0: only on `flush`). @default 50 */
  flushEvery?: number;
}

/** A resume as noted in `config.json`'s `resumes` list. */
export interface ResumeNote {
  /** The step the run continued from. */
  step: number;
  /** When, as an ISO 8601 UTC time. */
  time: string;
  /** The backend the resumed part computes on. */
  backend: string;
  /** The code the resumed part runs (it may differ from the first part's). */
  code: CodeVersion;
}

/**
 * `config.json`'s content: `backend` (the backend in use) first, then `experiment` (unless the
 * configuration has its own), `code` (the toolkit's git commit and whether its tree was dirty,
 * see {@link codeVersion}), `machine` (its cores and the 1-minute load when the run started: the
 * one place every run records them), then the configuration. An own `backend` key of the configuration
 * (e.g. the `--backend` asked for, maybe `auto`) is replaced by the name in use; a configuration
 * that is not a plain object is kept under `config`.
 */
function runConfig(
  config: unknown,
  backend: string,
  experiment: string,
  code: CodeVersion,
): Record<string, unknown> {
  const { cores, load_avg_1min } = machineLoad();
  const machine = { cores, load_avg_1min_at_start: load_avg_1min };
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    return config === undefined
      ? { backend, experiment, code, machine }
      : { backend, experiment, code, machine, config };
  }
  const { backend: _asked, ...rest } = config as Record<string, unknown>;
  return { backend, experiment, code, machine, ...rest };
}

const EXPERIMENT_NAME = /^[\w.-]+$/;

function checkExperiment(experiment: string): void {
  if (!EXPERIMENT_NAME.test(experiment)) {
    throw new TypeError(`experiment name must be letters, digits, _ . -; got "${experiment}"`);
  }
}

/** {@link RunLogOptions} with every default filled in, as a {@link RunLog} holds them. */
export type RunLogSettings =
  & Required<Omit<RunLogOptions, "totalSteps" | "config">>
  & { totalSteps?: number };

/**
 * A run's metrics table and folder.
 *
 * @example
 * ```ts
 * import { RunLog } from "./run_log.ts";
 * const run = await RunLog.create({ experiment: "demo", config: { lr: 1e-3 }, write: false });
 * run.log({ step: 0, loss: 2.5 });
 * run.log({ step: 1, loss: 2.1 });
 * console.log(run.table().numRows()); // 2
 * await run.flush();
 * ```
 */
export class RunLog {
  /** The metrics rows logged so far, oldest first. */
  readonly rows: MetricsRow[] = [];
  #sinceFlush = 0;
  /** Reports the rows of this process (a resumed log's kept rows are not reported). */
  readonly #progress: Progress;

  private constructor(
    /** The run folder (`""` when not writing). */
    readonly dir: string,
    /**
     * The backend the run computes on (`tf.getBackend()` when the log was made), as recorded in
     * `config.json`; `""` for a log that does not write and was made before any backend started.
     */
    readonly backend: string,
    /** The options, with their defaults filled in. */
    readonly options: RunLogSettings,
    /** The step this process started at (for the ETA): 0, or a resume's `fromStep`. */
    readonly startStep = 0,
  ) {
    this.#progress = new Progress({
      label: options.experiment,
      totalSteps: options.totalSteps,
      startStep,
      printEvery: options.printEvery,
    });
  }

  /**
   * Creates the run folder and writes `config.json`: the configuration, with `backend` set to the
   * name of the backend in use (`tf.getBackend()`) and `experiment` recorded. Make the log after
   * `initBackend`: where no backend has started yet, a writing log starts the default one
   * (`ensureBackend`).
   *
   * @param options See {@link RunLogOptions}.
   * @returns The log.
   */
  static async create(options: RunLogOptions): Promise<RunLog> {
    checkExperiment(options.experiment);
    const tag = (options.tag ?? "run").replace(/[^\w.-]+/g, "-");
    const root = options.root ?? "data/runs";
    const write = options.write ?? true;
    const dir = write ? `${root}/${options.experiment}/${runStamp(new Date())}_${tag}` : "";
    const backend = tf.getBackend() || (write ? await ensureBackend() : "");
    const run = new RunLog(dir, backend, {
      experiment: options.experiment,
      tag,
      root,
      flushEvery: options.flushEvery ?? 50,
      printEvery: options.printEvery ?? 10,
      totalSteps: options.totalSteps,
      write,
    });
    if (write) {
      await Deno.mkdir(dir, { recursive: true });
      await writeFileAtomic(
        `${dir}/config.json`,
        JSON.stringify(
          runConfig(options.config, backend, options.experiment, await codeVersion()),
          null,
          2,
        ) + "\n",
      );
    }
    return run;
  }

  /**
   * Continues a run in its folder after restarting from a checkpoint of step `fromStep`: keeps the
   * rows of `metrics.csv` with `step < fromStep` (rewriting the file atomically with exactly
   * those, so no step appears twice), notes the resume in `config.json`'s `resumes` list
   * ({@link ResumeNote}) and logs on. Values read back equal what was written (numbers bit for
   * bit, booleans as booleans). Checks come first: a refused folder is left untouched.
   *
   * @param dir The run folder, e.g. the value of `--resume=`.
   * @param options See {@link RunLogResumeOptions}.
   * @returns The log, its `rows` holding the kept rows.
   * @throws RunMismatchError when `dir` is not a run folder or is a run of another experiment.
   * @example
   * ```ts
   * import { RunLog } from "./run_log.ts";
   * const root = await Deno.makeTempDir();
   * const first = await RunLog.create({ experiment: "demo", root, printEvery: 0 });
   * for (let step = 0; step < 5; step++) first.log({ step, loss: 1 / (step + 1) });
   * await first.flush(); // …then the process dies; the checkpoint is of step 3
   * const run = await RunLog.resume(first.dir, { experiment: "demo", fromStep: 3, printEvery: 0 });
   * console.log(run.rows.length); // 3: steps 0, 1, 2
   * ```
   */
  static async resume(dir: string, options: RunLogResumeOptions): Promise<RunLog> {
    checkExperiment(options.experiment);
    if (!Number.isFinite(options.fromStep)) {
      throw new TypeError(`fromStep must be a finite number, got ${options.fromStep}`);
    }
    let config: Record<string, unknown> | null;
    try {
      config = await readRunConfig(dir);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      throw new RunMismatchError(dir, options.experiment, null, "its config.json is not JSON");
    }
    if (config === null) {
      throw new RunMismatchError(dir, options.experiment, null, "it has no config.json");
    }
    const found = runExperiment(dir, config);
    if (found !== options.experiment) {
      throw new RunMismatchError(dir, options.experiment, found);
    }
    const metricsPath = `${dir}/metrics.csv`;
    const text = await readTextOrNull(metricsPath);
    let logged: MetricsRow[] = [];
    try {
      if (text !== null) logged = parseCsv(text);
    } catch (err) {
      throw new SyntaxError(`${metricsPath}: ${(err as Error).message}`, { cause: err });
    }
    const kept = logged.filter((row) =>
      typeof row.step === "number" && row.step < options.fromStep
    );
    const backend = tf.getBackend() || await ensureBackend();
    const name = dir.replace(/[\\/]+$/, "").split(/[\\/]/).at(-1) ?? "";
    const stamped = RUN_FOLDER_PATTERN.exec(name);
    const run = new RunLog(dir, backend, {
      experiment: options.experiment,
      tag: stamped ? stamped[2] : name,
      root: dir.replace(/[\\/]+$/, "").split(/[\\/]/).slice(0, -2).join("/"),
      flushEvery: options.flushEvery ?? 50,
      printEvery: options.printEvery ?? 10,
      totalSteps: options.totalSteps,
      write: true,
    }, options.fromStep);
    for (const row of kept) run.rows.push(row);
    // Exactly what an uninterrupted run would have written by now (no rows: an empty file).
    if (text !== null) await writeFileAtomic(metricsPath, run.#csv());
    const note: ResumeNote = {
      step: options.fromStep,
      time: new Date().toISOString(),
      backend,
      code: await codeVersion(),
    };
    const resumes = Array.isArray(config.resumes) ? config.resumes : [];
    await writeFileAtomic(
      `${dir}/config.json`,
      JSON.stringify({ ...config, resumes: [...resumes, note] }, null, 2) + "\n",
    );
    return run;
  }

  /**
   * Appends a row; reports progress (a terminal line every `printEvery` rows, or the sink a
   * notebook registered: see lib/log's progress.ts) and rewrites `metrics.csv` at the configured
   * intervals.
   *
   * @param row The metrics (`step` first by convention).
   */
  log(row: MetricsRow): void {
    this.rows.push(row);
    this.#progress.update(row);
    this.#sinceFlush++;
    if (
      this.options.write && this.options.flushEvery > 0 &&
      this.#sinceFlush >= this.options.flushEvery
    ) {
      this.#sinceFlush = 0;
      // Fire and forget would race with the next flush; a sync write keeps the file consistent.
      writeFileAtomicSync(`${this.dir}/metrics.csv`, this.#csv());
    }
  }

  /**
   * A one-line summary of a row with elapsed time, rate and ETA.
   *
   * @param row The row to describe.
   * @returns e.g. `[dvae] step 120 loss 0.1234 · 35 s, 3.44 steps/s, eta 9.1 min`.
   */
  progressLine(row: MetricsRow): string {
    return this.#progress.state(row).line;
  }

  /**
   * The rows as an arquero table (columns: the union of the rows' keys, in first-seen order).
   *
   * @returns A new table.
   */
  table(): aq.ColumnTable {
    return aq.from(this.rows, columnsOf(this.rows));
  }

  #csv(): string {
    return formatCsv(this.rows);
  }

  /**
   * Writes `metrics.csv` now (atomically) and delivers the latest progress (a notebook's display
   * shows the last row, even one its throttle held back).
   */
  async flush(): Promise<void> {
    await this.#progress.flush();
    if (!this.options.write) return;
    this.#sinceFlush = 0;
    await writeFileAtomic(`${this.dir}/metrics.csv`, this.#csv());
  }

  /**
   * Writes another file into the run folder (atomically), e.g. a summary CSV or a PNG.
   *
   * @param name File name inside the run folder.
   * @param data Bytes or text.
   * @returns The path written ("" when not writing).
   */
  async writeFile(name: string, data: Uint8Array | string): Promise<string> {
    if (!this.options.write) return "";
    const path = `${this.dir}/${name}`;
    await writeFileAtomic(path, data);
    return path;
  }
}
