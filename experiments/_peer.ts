/**
 * Shared pieces of the benchmarks: running a PyTorch peer script of `../shared/peers/` and
 * reading the JSON figures it prints last, and the median of timings.
 *
 * @module
 */

/** Debian's Python, which has `python3-torch` (`.ci/setup --bench` installs it). */
export const PYTHON = "/usr/bin/python3";

/**
 * Runs a peer script and parses the JSON object on its last line of output.
 *
 * @param script Path of the peer script.
 * @param args Its arguments.
 * @returns The parsed figures, or a one-line reason why there are none (the bench prints it).
 * @example
 * ```ts
 * import { runPeer } from "./_peer.ts";
 * const figures = await runPeer<{ ms_per_step: number }>("../shared/peers/torch_powersgd.py", []);
 * console.log(typeof figures === "string" ? figures : figures.ms_per_step);
 * ```
 */
export async function runPeer<T>(script: string, args: string[]): Promise<T | string> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: [script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
    if (!out.success) return `peer failed: ${decode(out.stderr).split("\n").at(-1)}`;
    return JSON.parse(decode(out.stdout).split("\n").at(-1)!) as T;
  } catch (err) {
    return `peer unavailable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * The median of some timings (robust to the odd slow step on a shared machine).
 *
 * @param values Numbers (at least one).
 * @returns Their median (the upper one for an even count).
 * @example
 * ```ts
 * import { median } from "./_peer.ts";
 * console.log(median([3, 1, 2])); // 2
 * ```
 */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
