/**
 * Run logging: a run folder `data/runs/<experiment>/<UTC timestamp>_<tag>/` holding `config.json`
 * (the run's configuration, its experiment, the backend it ran on, the commit and the machine) and
 * `metrics.csv` (one row per logged step, `step` first), progress through one interface
 * (`Progress`: a line per interval on the terminal; in a notebook that called lib/display's
 * `useNotebookProgress`, one display updated in place), resuming a run into its folder, flags
 * parsed against a defaults object, with `--backend` understood by every experiment, and the one
 * entry point of every experiment (`experimentMain`). Files are written through lib/io's atomic writer; lib/io's
 * `readRun` and `latestRun` read run folders back.
 *
 * @example
 * ```ts
 * import { parseFlags, RunLog } from "./mod.ts";
 * const cfg = parseFlags({ steps: 3, resume: "" }, ["--steps=2"]);
 * const run = cfg.resume
 *   ? await RunLog.resume(cfg.resume, { experiment: "demo", fromStep: 0 })
 *   : await RunLog.create({ experiment: "demo", config: cfg, write: false });
 * for (let step = 0; step < cfg.steps; step++) run.log({ step, loss: 1 / (step + 1) });
 * await run.flush();
 * ```
 *
 * @module
 */
export { RunLog } from "./run_log.ts";
export type {
  MetricsRow,
  ResumeNote,
  RunLogOptions,
  RunLogResumeOptions,
  RunLogSettings,
} from "./run_log.ts";
export { RunMismatchError } from "./run_mismatch.ts";
export { formatDuration, formatRate, Progress, setProgressSink, terminalSink } from "./progress.ts";
export type {
  ProgressOptions,
  ProgressSettings,
  ProgressSink,
  ProgressSinkFactory,
  ProgressState,
} from "./progress.ts";
export { readCsv, writeCsv } from "./csv.ts";
export { applyPreset, explicitFlags, parseFlags } from "./flags.ts";
export { experimentFlags, experimentMain, resumableFlags } from "./experiment.ts";
export type { Experiment } from "./experiment.ts";
export type { CommonFlags, Flags, ParseFlagsOptions } from "./flags.ts";
export { moduleDocs, UsageError } from "./cli.ts";
export type { ModuleDocs } from "./_flag_docs.ts";
export { machineLoad } from "./machine.ts";
export { codeVersion } from "./code_version.ts";
export type { CodeVersion } from "./code_version.ts";
