/**
 * The machine a run ran on, for config.json and the headers' runtime notes: timings mean little
 * without the cores and the load beside them.
 *
 * @module
 */

/**
 * The cores and the 1-minute load average now.
 *
 * @returns `cores` and `load_avg_1min` (NaN without --allow-sys).
 * @example
 * ```ts
 * import { machineLoad } from "./machine.ts";
 * console.log(machineLoad().cores > 0); // true
 * ```
 */
export function machineLoad(): { cores: number; load_avg_1min: number } {
  let load = NaN;
  try {
    load = Deno.loadavg()[0];
  } catch { /* no --allow-sys: unknown */ }
  return { cores: navigator.hardwareConcurrency, load_avg_1min: load };
}
