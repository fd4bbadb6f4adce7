/**
 * Experiment: does a toy entry point document its flags? It is a fixture of cli_test.ts.
 *
 * Command: `deno run -A lib/log/testdata/flags_entry.ts --steps=3`
 *
 * @module
 */
import { parseFlags } from "../mod.ts";

/** Not the defaults: a smaller literal holding some of the same keys. */
export const PRESET = { steps: 2 };

export const DEFAULTS = {
  /** Optimiser steps. More words here. @accepts integer ≥ 1 */
  steps: 10,
  /** Step size; a string like "a, b" in a comment does not end the key. @accepts number > 0 ≤ 1 */
  lr: 0.5,
  /** Which data: one of two. @accepts fashion | shapes */
  dataset: "fashion",
  /**
   * Temperatures to sample at, over two lines.
   * @accepts number ≥ 0
   */
  temperatures: [1, 0.5],
  /** Print more. */
  verbose: false,
  "quoted-key": "x",
};

if (import.meta.main) {
  const flags = parseFlags(DEFAULTS);
  if (flags.dataset === "shapes" && flags.steps > 5) {
    throw new TypeError("an unexpected failure, for the stack");
  }
  console.log(JSON.stringify(flags));
}
