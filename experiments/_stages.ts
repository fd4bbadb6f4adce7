/**
 * Running an experiment of this folder as one stage of a longer job (the main job, the reference
 * pipeline): in its own process, so its memory is returned, and found again by its run folder.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { commandLine, latestRun, readRunConfig } from "../lib/io/mod.ts";

/** One stage as a job ran it. */
export interface Stage {
  /** What the stage does. */
  title: string;
  /** The experiment's script, relative to the repository. */
  script: string;
  /** Its flags. */
  args: string[];
  /** Its wall time. */
  seconds: number;
  /** The run folder the stage wrote, relative to the repository. */
  run: string;
}

/** The repository's root folder (with a trailing slash). */
export const REPO_ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/**
 * Runs an experiment in its own process and returns its run folder (the newest run of that
 * experiment, which must record `match` in its config.json).
 *
 * @param title What the stage does (printed).
 * @param experiment The experiment's name (experiments/<name>.ts).
 * @param args Its flags.
 * @param match Values its config.json must record (how its run folder is recognised), e.g.
 *   `{ out: path }`.
 * @returns The stage.
 * @throws Error when the process fails or leaves no such run folder.
 */
export async function runStage(
  title: string,
  experiment: string,
  args: string[],
  match: Record<string, string>,
): Promise<Stage> {
  const script = `experiments/${experiment}.ts`;
  console.log(`\n=== ${title} ===\n$ ${commandLine([script, ...args])}`);
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: REPO_ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${script} failed (exit ${code}); see its output above`);
  const seconds = (performance.now() - started) / 1000;
  const run = await latestRun(experiment, { root: `${REPO_ROOT}data/runs` });
  const config = run === null ? null : await readRunConfig(run);
  const differs = Object.entries(match).filter(([key, value]) => config?.[key] !== value);
  if (run === null || differs.length > 0) {
    const wanted = differs.map(([key, value]) => `${key} = ${value}`).join(", ");
    throw new Error(`${script} ended, but its newest run folder does not record ${wanted}`);
  }
  console.log(`(${title}: ${seconds.toFixed(0)} s)`);
  return { title, script, args, seconds, run: run.slice(REPO_ROOT.length) };
}
