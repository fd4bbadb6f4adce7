/**
 * The one entry point of every experiment: flags against its defaults, `--resume` of a stopped
 * run, a recipe and the `--quick` budget applied under the flags typed, the backend started and
 * the worker count resolved, then the experiment's `run(config)`. A test or a notebook calls the
 * same `run` with a config of its own; the command line goes through {@link experimentMain}.
 *
 * @module
 */
import { defaultWorkers, initBackend } from "../backend/mod.ts";
import { readRunConfig, runExperiment } from "../io/mod.ts";
import { applyPreset, type Flags, parseFlags } from "./flags.ts";
import { RunMismatchError } from "./run_mismatch.ts";

/** What an experiment declares to run from the command line (see {@link experimentMain}). */
export interface Experiment<T extends Record<string, unknown> & { quick: boolean }, R> {
  /** The experiment's name: its folder under `data/runs/`, and what `--resume` checks. */
  name: string;
  /** Every flag with its default; the JSDoc above each key is its `--help` line. */
  defaults: T;
  /** The `--quick` budget: the values it changes, under the flags typed. */
  quick: Partial<T>;
  /**
   * A preset chosen by the flags (e.g. a data set's recipe), applied before the quick budget and
   * likewise under the flags typed. @default none
   */
  recipe?: (flags: Flags<T>) => Partial<T> | undefined;
  /** The experiment itself, on the resolved config. */
  run: (config: Flags<T>) => Promise<R>;
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
 * import { resumableFlags } from "./experiment.ts";
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
 * The config an experiment runs with, from a command line: its flags; or, with `--resume=DIR`
 * (where the defaults have `resume`), that run's saved config under the flags typed now (its
 * presets are already in it); else the recipe, then (with `--quick`) the quick budget, each under
 * the flags typed. Starts no backend.
 *
 * @param experiment The experiment.
 * @param args Command-line arguments. @default Deno.args
 * @returns The config, `workers` still as given (0: the backend's default).
 * @example
 * ```ts
 * import { experimentFlags } from "./experiment.ts";
 * const flags = await experimentFlags({
 *   name: "demo",
 *   defaults: { quick: false, steps: 1000, lr: 1e-3 },
 *   quick: { steps: 20 },
 *   run: async (cfg) => cfg.steps,
 * }, ["--quick", "--lr=0.01"]);
 * console.log(flags.steps, flags.lr); // 20 0.01
 * ```
 */
export async function experimentFlags<
  T extends Record<string, unknown> & { quick: boolean },
  R,
>(experiment: Experiment<T, R>, args: string[] = Deno.args): Promise<Flags<T>> {
  const { name, defaults } = experiment;
  const flags = typeof defaults.resume === "string"
    ? await resumableFlags(name, defaults as T & { resume: string }, args) as Flags<T>
    : parseFlags(defaults, args);
  if (flags.resume) return flags;
  const recipe = experiment.recipe?.(flags);
  const withRecipe = recipe ? applyPreset(flags, recipe as Partial<Flags<T>>, args) : flags;
  return withRecipe.quick
    ? applyPreset(withRecipe, experiment.quick as Partial<Flags<T>>, args)
    : withRecipe;
}

/**
 * Runs an experiment from the command line: {@link experimentFlags}, then the backend the flags
 * (else `$DALLE_LAB_BACKEND`, else `auto`) ask for, then `workers: 0` replaced by the backend's
 * default process count (the number used, not 0, is what the run records: results depend on it),
 * then `run(config)`. `--help` prints the entry point's question and flags and exits.
 *
 * @param experiment The experiment.
 * @param args Command-line arguments. @default Deno.args
 * @returns What `run` returns.
 * @example
 * ```ts ignore
 * // At the foot of experiments/<name>.ts:
 * import { experimentMain } from "../lib/log/mod.ts";
 * if (import.meta.main) await experimentMain({ name: "my_question", defaults: DEFAULTS, quick: QUICK, run });
 * ```
 */
export async function experimentMain<
  T extends Record<string, unknown> & { quick: boolean },
  R,
>(experiment: Experiment<T, R>, args: string[] = Deno.args): Promise<R> {
  const flags = await experimentFlags(experiment, args);
  await initBackend(flags.backend as Parameters<typeof initBackend>[0]);
  const config = typeof flags.workers === "number" && flags.workers === 0
    ? { ...flags, workers: defaultWorkers() }
    : flags;
  return await experiment.run(config);
}
