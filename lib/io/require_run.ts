/**
 * A run a notebook or a report needs: the newest one, else a small-budget one made on the spot,
 * announced with the exact command of the full run, so a fresh clone shows a figure instead of a
 * message, and nobody mistakes the small run's numbers for the experiment's.
 *
 * @module
 */
import { latestRun } from "./runs.ts";

/** Options of {@link requireRun}. */
export interface RequireRunOptions {
  /** The repository's root folder (notebooks run in `notebooks/`: pass `".."`). @default "." */
  repo?: string;
  /**
   * The full run's script and flags, relative to `repo` (the caller names its experiment's
   * script: this layer knows no experiment).
   */
  command: string[];
  /**
   * What runs when there is no run yet: the same script at its small budget.
   * @default [...command, "--quick"]
   */
  fallback?: string[];
  /** Where the announcement and the fallback's output go. @default console.log */
  print?: (line: string) => void;
}

/** The command line a person would type for `args`. */
export function commandLine(args: string[]): string {
  return ["deno", "run", "-A", ...args].join(" ");
}

/**
 * The newest run folder of `experiment` under `<repo>/data/runs/` (a full run before a `--quick`
 * one, see {@link latestRun}'s `preferFull`); when there is none, prints the
 * full run's command, runs the small-budget fallback (streaming its output) and returns its folder.
 *
 * @param experiment The experiment's name (its folder under data/runs/).
 * @param options See {@link RequireRunOptions}.
 * @returns The run folder's path.
 * @throws Error when the fallback fails or writes no run.
 * @example
 * ```ts ignore
 * import { readRun, requireRun } from "./mod.ts";
 * const command = ["experiments/powersgd_rank_sweep.ts"];
 * const run = await readRun(await requireRun("powersgd_rank_sweep", { repo: "..", command }));
 * ```
 */
export async function requireRun(
  experiment: string,
  options: RequireRunOptions,
): Promise<string> {
  const repo = options.repo ?? ".";
  const root = `${repo}/data/runs`;
  const found = await latestRun(experiment, { root, preferFull: true });
  if (found !== null) return found;
  const command = options.command;
  const fallback = options.fallback ?? [...command, "--quick"];
  const print = options.print ?? ((line: string) => console.log(line));
  print(
    `No run of ${experiment} yet. The full run is \`${commandLine(command)}\`; running its ` +
      `small budget now, which checks the code path, not the results: \`${commandLine(fallback)}\``,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...fallback],
    cwd: repo,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  const relay = async (stream: ReadableStream<Uint8Array>, show: boolean) => {
    let pending = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (show) print(`  ${line}`);
      }
    }
    if (pending !== "") tail.push(pending);
  };
  const [status] = await Promise.all([
    child.status,
    relay(child.stdout, true),
    relay(child.stderr, false),
  ]);
  if (!status.success) {
    throw new Error(
      `${commandLine(fallback)} failed (exit ${status.code}); its last lines:\n${tail.join("\n")}`,
    );
  }
  const made = await latestRun(experiment, { root });
  if (made === null) {
    throw new Error(`${commandLine(fallback)} ended but wrote no run under ${root}/${experiment}/`);
  }
  return made;
}
