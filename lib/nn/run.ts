/**
 * Opening a training run's folder: a new one, or, with `--resume=RUN_DIR`, the folder of a run
 * that stopped, with its own configuration and its metrics cut back to its last checkpoint.
 *
 * @module
 */
import { readRunConfig, runExperiment } from "../io/mod.ts";
import {
  type Flags,
  parseFlags,
  RunLog,
  type RunLogOptions,
  RunMismatchError,
} from "../log/mod.ts";
import { checkpointStep } from "./trainer.ts";

/**
 * Where a run folder keeps its checkpoint.
 *
 * @param dir The run folder.
 * @returns The checkpoint's path.
 */
export function checkpointOf(dir: string): string {
  return `${dir}/checkpoint.safetensors`;
}

/**
 * An experiment's flags, resumed: with `--resume=RUN_DIR` among `args`, the run's saved
 * configuration (its `config.json`) stands in for the defaults, and the flags given now override
 * it; without it, plain {@link parseFlags}.
 *
 * @param experiment The experiment (a resumed folder must be one of its runs).
 * @param defaults The experiment's defaults (must have a `resume` key, a string).
 * @param args Command-line arguments. @default Deno.args
 * @returns The flags.
 * @throws {RunMismatchError} When `--resume` names a folder that is not a run of `experiment`.
 * @example
 * ```ts
 * import { resumableFlags } from "./run.ts";
 * const cfg = await resumableFlags("demo", { steps: 100, resume: "" }, ["--steps=5"]);
 * console.log(cfg.steps); // 5
 * ```
 */
export async function resumableFlags<T extends Record<string, unknown> & { resume: string }>(
  experiment: string,
  defaults: T,
  args?: string[],
): Promise<Flags<T>> {
  const first = parseFlags(defaults, args);
  if (!first.resume) return first;
  const saved = await readRunConfig(first.resume);
  if (saved === null) {
    throw new RunMismatchError(first.resume, experiment, null, "it has no readable config.json");
  }
  const found = runExperiment(first.resume, saved);
  if (found !== experiment) throw new RunMismatchError(first.resume, experiment, found);
  const restored = Object.fromEntries(
    Object.keys(defaults).map((k) => [k, k in saved ? saved[k] : defaults[k]]),
  ) as T;
  return parseFlags({ ...restored, resume: first.resume }, args);
}

/**
 * The run's log: a new run folder, or (with `resume`) the stopped run's folder, its metrics cut
 * back to the step of its checkpoint (all of them when it has none), refusing another
 * experiment's run.
 *
 * @param options RunLog's options and `resume`: a run folder, or "" / undefined.
 * @returns The log; pass `resume: true` to the trainer to continue from its checkpoint.
 */
export async function openRunLog(options: RunLogOptions & { resume?: string }): Promise<RunLog> {
  const { resume, ...create } = options;
  if (!resume) return await RunLog.create(create);
  const fromStep = await checkpointStep(checkpointOf(resume)).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  });
  return await RunLog.resume(resume, {
    experiment: options.experiment,
    fromStep,
    printEvery: options.printEvery,
    totalSteps: options.totalSteps,
    flushEvery: options.flushEvery,
  });
}
