/**
 * One flag vocabulary across experiments: the names some experiments used before every one said
 * `batchSize`, `warmupSteps`, `trainCount` and `testCount`. An old name still parses on the
 * command line (lib/log's `parseFlags` says what it read it as) and is read as the new one from
 * the `config.json` of a run made before the rename, so recorded commands, resumed runs and the
 * check that a finished run matches a command keep working.
 *
 * @module
 */

/**
 * Old flag name → the name every experiment uses now. An old name only stands for the new one
 * where the experiment has the new name and not the old.
 */
export const RENAMED_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  batch: "batchSize",
  warmup: "warmupSteps",
  shapesCount: "trainCount",
  examples: "trainCount",
  testImages: "testCount",
  dvaeBatch: "dvaeBatchSize",
});

/**
 * A saved configuration under today's flag names: each old key of {@link RENAMED_FLAGS} whose new
 * name is absent becomes the new name (the old key is dropped); everything else is kept as is.
 *
 * @param config A run's configuration, as its `config.json` holds it.
 * @returns A new object (the same keys where nothing was renamed).
 * @example
 * ```ts
 * import { withCurrentFlagNames } from "./flag_names.ts";
 * console.log(withCurrentFlagNames({ batch: 32, steps: 10 })); // { batchSize: 32, steps: 10 }
 * console.log(withCurrentFlagNames({ batch: 32, batchSize: 16 })); // both kept: nothing to rename
 * ```
 */
export function withCurrentFlagNames(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const renamed = Object.hasOwn(RENAMED_FLAGS, key) ? RENAMED_FLAGS[key] : undefined;
    out[renamed !== undefined && !(renamed in config) ? renamed : key] = value;
  }
  return out;
}
