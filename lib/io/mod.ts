/**
 * Plain helpers every piece may use, free of TensorFlow (nothing here imports lib/backend or
 * lib/nn): atomic file writes, `exists`, CSV, reading run folders back, the toolkit's seeded
 * generators with named, version-frozen streams, the check of option keys, and the few statistics
 * every figure rests on (median, Wilson's interval, a mean with its 95% interval).
 *
 * @example
 * ```ts
 * import { exists, latestRun, readRun, Rng, writeFileAtomic } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/note.txt`, "hello");
 * console.log(await exists(`${dir}/note.txt`)); // true
 * const shuffled = Rng.stream("demo/order", 0).shuffle([1, 2, 3]);
 * const run = await latestRun("dvae_train");
 * if (run) console.log((await readRun(run)).metrics.length);
 * ```
 *
 * @module
 */
export { writeFileAtomic, writeFileAtomicSync } from "./atomic.ts";
export { exists, existsSync, readFileOrNull, readTextOrNull } from "./exists.ts";
export { columnsOf, formatCsv, parseCsv } from "./csv.ts";
export type { CsvRow, CsvValue } from "./csv.ts";
export {
  latestRun,
  readRun,
  readRunConfig,
  RUN_FOLDER_PATTERN,
  runExperiment,
  runStamp,
  runStarted,
} from "./runs.ts";
export type { LatestRunOptions, RunRecord } from "./runs.ts";
export { RENAMED_FLAGS, withCurrentFlagNames } from "./flag_names.ts";
export { commandLine, requireRun } from "./require_run.ts";
export type { RequireRunOptions } from "./require_run.ts";
export { drawInt, mixSeed, Rng, streamSeed } from "./random.ts";
export type { RandomSource } from "./random.ts";
export { Mulberry32 } from "./mulberry32.ts";
export { checkOptionKeys } from "./options.ts";
export {
  concatFloat32,
  concatInt32,
  type Interval,
  interval95,
  median,
  wilsonInterval,
} from "./stats.ts";
export { CheckpointMismatchError, CorruptFileError } from "./errors.ts";
export type { CorruptFileErrorOptions, TensorMismatch } from "./errors.ts";
