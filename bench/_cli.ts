/**
 * What every bench_*.ts does when run on its own (`deno task bench` runs them through bench.ts):
 * its flags, `--backend` handed on the way the suite hands it, and its rows as a table.
 *
 * @module
 */
import { BACKEND_ENV } from "../lib/backend/mod.ts";
import { type Flags, parseFlags } from "../lib/log/mod.ts";
import type { BenchRow } from "./_peer.ts";

/** The flag every bench file takes (spread it into the file's own flags literal for `--help`). */
export const BENCH_QUICK = {
  /** A smoke run: 2–3 timed iterations, smaller batches; its figures mean little. */
  quick: false,
};

/** The flag of the benches that can split a batch over processes. */
export const BENCH_PROCS = {
  /**
   * Processes the batch is split over (1: this one; 2: data-parallel with a Deno Worker).
   * @accepts integer ≥ 1
   */
  procs: 1,
};

/**
 * Parses a bench file's flags, sets `$DALLE_LAB_BACKEND` from `--backend` (the suite starts its
 * backend itself) and prints the bench's rows.
 *
 * @param defaults The file's flags literal.
 * @param bench Runs the bench with the parsed flags.
 */
export async function benchMain<T extends Record<string, unknown>>(
  defaults: T,
  bench: (flags: Flags<T>) => Promise<BenchRow[]>,
): Promise<void> {
  const flags = parseFlags(defaults);
  const backend = (flags as { backend?: string }).backend;
  if (backend !== undefined) Deno.env.set(BACKEND_ENV, backend);
  console.table(await bench(flags));
}
