/**
 * Shared pieces of the benchmarks: running the PyTorch peer scripts of `../shared/peers/` under
 * both PyTorch builds of the machine (Debian's torch 1.13 and pip's torch 2.13, which
 * `.ci/setup --bench` keeps in a virtual environment in the cache folder), with the peak RSS of
 * each peer process; picking the faster peer per figure; the peak RSS of this process; and the
 * median of timings.
 *
 * @module
 */
import { exists } from "../lib/io/mod.ts";

/**
 * One figure of ours, measured on the backend of the process that runs the bench (one backend per
 * process: `deno task bench` starts one `deno run` per backend and process count).
 */
export interface BenchRow {
  /** What was measured, the same text on every backend. */
  workload: string;
  value: number | string;
  /** `…/s` (higher is better), `ms` or `s` (lower is better), or anything else (no ratio). */
  unit: string;
  /** Processes that computed it: 1, or 2 for a batch split over two (trainers' `workers`). */
  procs?: number;
  /** The torch peer figure it compares with: a run of the suite's peers, a key of its JSON. */
  peer?: { run: string; figure: string };
  /** An in-process peer's figure in the same unit (js-tiktoken), named by `peerName`. */
  peerValue?: number;
  peerName?: string;
}

/** What `deno task bench` passes to a bench function. */
export interface BenchOptions {
  /** Smoke mode: every row, with 2–3 timed iterations each. @default false */
  quick?: boolean;
  /** The process count to measure, for benches with data-parallel rows (1 or 2). @default 1 */
  procs?: number;
}

/** The peer runs of a suite: a name, the peer script, its arguments (without `--threads`). */
export type PeerSpecs = Record<string, { script: string; args: string[] }>;

/** Debian's Python, which has `python3-torch` 1.13 (`.ci/setup --bench` installs it). */
export const PYTHON = "/usr/bin/python3";

/** The cache folder of dalle-lab (as `.ci/setup` and `.ci/tensorflow` compute it). */
export function cacheDir(): string {
  const env = (name: string) => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined;
    }
  };
  return env("DALLE_LAB_CACHE") ??
    `${env("XDG_CACHE_HOME") ?? `${env("HOME") ?? "."}/.cache`}/dalle-lab`;
}

/** The Python of the torch 2.13 virtual environment that `.ci/setup --bench` makes. */
export function torch2Python(): string {
  return `${cacheDir()}/torch-2.13/bin/python`;
}

/** One Python with a PyTorch build: a label for tables, and the interpreter's path. */
export interface Interpreter {
  /** `torch 1.13`, `torch 2.13` or `torch 2.13 compiled`. */
  label: string;
  /** The interpreter. */
  python: string;
  /** Arguments every peer script gets under it (`--compile`: `torch.compile`). @default none */
  args?: string[];
}

/**
 * The peers' interpreters: Debian's torch 1.13, pip's torch 2.13 eager, and torch 2.13 with
 * `torch.compile` (PyTorch's own answer to per-op cost; for the peer scripts that take
 * `--compile`).
 */
export function peerInterpreters(): Interpreter[] {
  return [
    { label: "torch 1.13", python: PYTHON },
    { label: "torch 2.13", python: torch2Python() },
    { label: "torch 2.13 compiled", python: torch2Python(), args: ["--compile"] },
  ];
}

/** What one peer process gave: its figures (the JSON of its last line) and its peak RSS. */
export interface PeerFigures<T> {
  figures: T;
  /** Peak resident set size of the peer process (ru_maxrss), MB. */
  peakRssMb: number;
}

// Runs the peer script as __main__, then prints the process's peak RSS as the last line (also
// after a failure, which then still exits non-zero).
const RSS_WRAPPER = `
import json, resource, runpy, sys
script = sys.argv[1]
sys.argv = sys.argv[1:]
try:
    runpy.run_path(script, run_name="__main__")
finally:
    sys.stdout.flush()
    print(json.dumps({"peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)
`;

/**
 * Runs a peer script under one interpreter and parses the JSON object it prints last.
 *
 * @param script Path of the peer script.
 * @param args Its arguments.
 * @param python The interpreter. @default PYTHON (Debian's, torch 1.13)
 * @returns The figures and the peer's peak RSS, or a one-line reason why there are none.
 * @example
 * ```ts
 * import { runPeer } from "./_peer.ts";
 * const out = await runPeer<{ ms_per_step: number }>("../shared/peers/torch_powersgd.py", []);
 * console.log(typeof out === "string" ? out : out.figures.ms_per_step);
 * ```
 */
export async function runPeer<T>(
  script: string,
  args: string[],
  python: string = PYTHON,
): Promise<PeerFigures<T> | string> {
  if (!(await exists(python))) return `not installed: ${python} (run .ci/setup --bench)`;
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", RSS_WRAPPER, script, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
    if (!out.success) {
      return `peer failed: ${decode(out.stderr).split("\n").at(-1) || `exit ${out.code}`}`;
    }
    const lines = decode(out.stdout).split("\n");
    const rss = JSON.parse(lines.at(-1)!) as { peak_rss_kb: number };
    return {
      figures: JSON.parse(lines.at(-2)!) as T,
      peakRssMb: Math.round(rss.peak_rss_kb / 1024),
    };
  } catch (err) {
    return `peer unavailable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** One peer run: which interpreter and thread count, and what it gave (or why nothing). */
export interface PeerRun<T> {
  interpreter: string;
  /** The torch version the peer printed ("" when it failed). */
  torch: string;
  threads: number;
  result: PeerFigures<T> | string;
}

/**
 * Runs a peer script under both interpreters (torch 1.13, torch 2.13), at each thread count,
 * one after the other (never beside each other or beside our own timing).
 *
 * @param script Path of the peer script (it takes `--threads N`).
 * @param args Its other arguments.
 * @param threads Thread counts to run it at. @default [2, 1]
 * @returns Every run; {@link fasterPeer} picks the faster per figure.
 * @example
 * ```ts
 * import { fasterPeer, runPeers } from "./_peer.ts";
 * const runs = await runPeers<{ ms_per_step: number }>("../shared/peers/torch_powersgd.py", []);
 * console.log(fasterPeer(runs, (f) => f.ms_per_step, false).faster);
 * ```
 */
export async function runPeers<T>(
  script: string,
  args: string[],
  threads: number[] = [2, 1],
): Promise<PeerRun<T>[]> {
  const runs: PeerRun<T>[] = [];
  let source = "";
  try {
    source = await Deno.readTextFile(script);
  } catch { /* runPeer says why */ }
  for (const { label, python, args: extra = [] } of peerInterpreters()) {
    if (extra.includes("--compile") && !source.includes('"--compile"')) continue; // no such mode
    for (const n of threads) {
      const result = await runPeer<T>(script, [...args, ...extra, "--threads", String(n)], python);
      const printed = typeof result === "string"
        ? undefined
        : (result.figures as { torch?: unknown });
      const torch = String(printed?.torch ?? "");
      runs.push({ interpreter: label, torch, threads: n, result });
      if (typeof result === "string" && result.startsWith("not installed")) break;
    }
  }
  return runs;
}

/** One peer figure: its value, and the run it came from. */
export interface PeerFigure {
  interpreter: string;
  torch: string;
  threads: number;
  value: number;
  peakRssMb: number;
}

/** The best figure of each interpreter (or why it has none), and the faster of the two. */
export interface PeerComparison {
  /** Keyed by interpreter label; a string says why that interpreter has no figure. */
  perInterpreter: Record<string, PeerFigure | string>;
  /** The faster peer, or null when neither ran. */
  faster: PeerFigure | null;
}

/**
 * Picks, for one figure, each interpreter's best thread count and the faster interpreter.
 *
 * @param runs What {@link runPeers} returned.
 * @param pick The figure, from a run's JSON.
 * @param higherIsBetter Throughputs: true; times: false.
 * @returns The best per interpreter and the faster of them.
 * @example
 * ```ts
 * import { fasterPeer, type PeerRun } from "./_peer.ts";
 * const runs: PeerRun<{ x: number }>[] = [
 *   { interpreter: "torch 1.13", torch: "1.13", threads: 2, result: { figures: { x: 2 }, peakRssMb: 9 } },
 *   { interpreter: "torch 2.13", torch: "2.13", threads: 2, result: { figures: { x: 3 }, peakRssMb: 9 } },
 * ];
 * console.log(fasterPeer(runs, (f) => f.x, true).faster?.interpreter); // "torch 2.13"
 * ```
 */
export function fasterPeer<T>(
  runs: PeerRun<T>[],
  pick: (figures: T) => number | undefined,
  higherIsBetter: boolean,
): PeerComparison {
  const better = (a: number, b: number) => higherIsBetter ? a > b : a < b;
  const perInterpreter: Record<string, PeerFigure | string> = {};
  let faster: PeerFigure | null = null;
  for (const run of runs) {
    const current = perInterpreter[run.interpreter];
    if (typeof run.result === "string") {
      if (current === undefined) perInterpreter[run.interpreter] = run.result;
      continue;
    }
    const value = pick(run.result.figures);
    if (value === undefined || !Number.isFinite(value)) continue;
    const figure: PeerFigure = {
      interpreter: run.interpreter,
      torch: run.torch,
      threads: run.threads,
      value,
      peakRssMb: run.result.peakRssMb,
    };
    if (current === undefined || typeof current === "string" || better(value, current.value)) {
      perInterpreter[run.interpreter] = figure;
    }
    if (faster === null || better(value, faster.value)) faster = figure;
  }
  return { perInterpreter, faster };
}

/**
 * Peak resident set size of this process so far (VmHWM of /proc/self/status), in MB; it counts
 * the threads of Deno Workers too. NaN where /proc is missing.
 *
 * @returns Megabytes.
 * @example
 * ```ts
 * import { peakRssMb } from "./_peer.ts";
 * console.log(peakRssMb() > 0);
 * ```
 */
export function peakRssMb(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return Math.round(kb / 1024);
  } catch {
    return NaN;
  }
}
