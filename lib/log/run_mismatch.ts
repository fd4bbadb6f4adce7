/**
 * The error of resuming into the wrong folder: a `UsageError` (the `--resume=` argument is of the
 * wrong kind), so the command line prints it as one line and exits 2, and an entry point can tell
 * it from a failure of the run itself.
 *
 * @module
 */

import { UsageError } from "./cli.ts";

/**
 * `--resume=<dir>` names a folder that is not a run of the resuming experiment: not a run folder
 * at all (`found` null), or a run of another experiment.
 *
 * @example
 * ```ts
 * import { RunMismatchError } from "./run_mismatch.ts";
 * const err = new RunMismatchError("data/runs/prior_shapes/x", "dvae_train", "prior_shapes");
 * console.log(err.message); // --resume=data/runs/prior_shapes/x is a run of "prior_shapes", not of "dvae_train"
 * ```
 */
export class RunMismatchError extends UsageError {
  /** The error class name, as printed. */
  override name = "RunMismatchError";

  /**
   * Says which settings of a resumed run differ.
   * @param dir The folder given.
   * @param expected The experiment resuming.
   * @param found The folder's experiment, or null when it names none (or is not a run).
   * @param why Why `found` is null, for the message (e.g. "it has no config.json").
   */
  constructor(
    readonly dir: string,
    readonly expected: string,
    readonly found: string | null,
    why?: string,
  ) {
    super(
      found === null
        ? `--resume=${dir} is not a run of "${expected}": ${why ?? "it names no experiment"}`
        : `--resume=${dir} is a run of "${found}", not of "${expected}"`,
    );
  }
}
