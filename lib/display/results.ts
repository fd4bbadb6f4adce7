/**
 * The results page: one markdown file that states every measured figure of the toolkit's
 * experiments beside the run folder it was read from, with that run's date, code version,
 * backend and machine, and each rate with its 95% interval. Headers and the README point here
 * instead of copying numbers by hand, so a number can only be as old as its run. TF-free.
 *
 * @module
 */
import { type RunRecord, runStarted } from "../io/mod.ts";
import type { Row } from "./rows.ts";
import { formatAgreement } from "./agreement.ts";
import { markdownTable } from "./table.ts";

/** A finite number, else NaN (a missing cell). */
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : NaN);

/** One experiment's section of the page. */
export interface ResultsSection {
  /** Anchor and heading: the experiment's name (`dvae_train`), or a name with a qualifier. */
  name: string;
  /** The question the experiment answers (its header's first sentence). */
  question: string;
  /** The full run's command, shown when there is no full run and beside the run's facts. */
  command: string;
  /** The newest full run, or null when this machine has none. */
  run: RunRecord | null;
  /** Tables read from the run (caption, rows); intervals are merged by {@link mergeIntervals}. */
  tables: readonly { caption: string; rows: readonly Row[] }[];
  /** The run's wall time, when it is known, and how it was read (a run's record, file times). */
  wallTime?: { seconds: number; how: string };
  /** Lines stated beside the tables: departures from the paper, what a column means. */
  notes?: readonly string[];
}

/**
 * Rows with every interval written beside its rate: a column pair `X_low`/`X_high` merges with
 * `X` (or `X_mean`) into one column `X` in the one agreement format of lib/display
 * ("41% [29, 54]"; with "…, 3 captions" where an `X_captions` column says the rate rests on
 * another count than the row's). Columns without a pair are kept as they are, in their order.
 *
 * @param rows Rows as read from a summary.csv.
 * @returns New rows.
 * @example
 * ```ts
 * import { mergeIntervals } from "./results.ts";
 * const [row] = mergeIntervals([{ split: "test", agree: 0.5, agree_low: 0.3, agree_high: 0.7 }]);
 * console.log(row); // { split: "test", agree: "50% [30, 70]" }
 * ```
 */
export function mergeIntervals(rows: readonly Row[]): Row[] {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const pairs = new Map<string, string>(); // base name → the column holding the rate
  for (const column of columns) {
    if (!column.endsWith("_low")) continue;
    const base = column.slice(0, -"_low".length);
    if (!columns.includes(`${base}_high`)) continue;
    const mean = columns.includes(base) ? base : `${base}_mean`;
    if (columns.includes(mean)) pairs.set(base, mean);
  }
  const merged = new Set(
    [...pairs].flatMap(([base, mean]) => [mean, `${base}_low`, `${base}_high`, `${base}_captions`]),
  );
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const column of columns) {
      const base = column.endsWith("_mean") ? column.slice(0, -"_mean".length) : column;
      if (pairs.get(base) === column) {
        const rate = {
          mean: num(row[column]),
          low: num(row[`${base}_low`]),
          high: num(row[`${base}_high`]),
        };
        const own = row[`${base}_captions`];
        out[base] = formatAgreement(rate, typeof own === "number" ? own : undefined);
      } else if (!merged.has(column)) out[column] = row[column];
    }
    return out;
  });
}

/** config.json's `code`, as written by lib/log's codeVersion (or absent in older runs). */
function codeText(config: Readonly<Record<string, unknown>>): string {
  const code = config.code as
    | { commit?: string | null; dirty?: boolean | null; changed?: string[]; unknown?: string }
    | undefined;
  if (code === undefined) return "code version not recorded (a run older than the record)";
  if (!code.commit) return `code version unknown (${code.unknown ?? "no commit"})`;
  const short = code.commit.slice(0, 10);
  if (code.dirty === false) return `commit ${short}`;
  if (code.dirty === true) {
    return `commit ${short} **with uncommitted changes** (${(code.changed ?? []).join(", ")})`;
  }
  return `commit ${short} (clean or not: unknown)`;
}

/** The run's start, from its folder's stamp (`20261207T065525Z_…`). */
function startedAt(dir: string): string {
  const start = runStarted(dir);
  return start ? `${start.toISOString().slice(0, 16).replace("T", " ")} UTC` : "start unknown";
}

/**
 * One line of facts about a run: its folder, start, code version, backend, and the cores and load
 * when config.json has them.
 *
 * @param run The run as lib/io's readRun gives it.
 * @returns Markdown text (one line).
 */
export function runFacts(run: Pick<RunRecord, "dir" | "config">): string {
  const c = run.config;
  const facts = [`run \`${run.dir}\``, startedAt(run.dir), codeText(c)];
  if (typeof c.backend === "string") facts.push(`backend ${c.backend}`);
  // `machine` is where every run records them; older runs kept them at the top level.
  const machine = (c.machine ?? {}) as Record<string, unknown>;
  const cores = machine.cores ?? c.cores;
  const load = machine.load_avg_1min_at_start ?? c.load_avg_1min_at_start ?? c.load_avg_1min;
  if (typeof cores === "number") {
    facts.push(
      `${cores} cores` + (typeof load === "number" ? `, load ${load.toFixed(1)} at start` : ""),
    );
  }
  if (c.quick === true) facts.push("**a --quick run: it checks the code path, not the result**");
  return facts.join(" · ");
}

/**
 * The whole page as markdown: a header that says how it was made, a contents line, then one
 * section per experiment (its question, its run's facts, its notes and tables), or the command
 * that makes the missing run.
 *
 * @param sections The sections, in order.
 * @param options `generated`: when the page was made (ISO time), `command`: what remakes it.
 * @returns The markdown, ending in one newline.
 */
export function resultsMarkdown(
  sections: readonly ResultsSection[],
  options: { generated: string; command: string },
): string {
  const lines = [
    "# Results",
    "",
    `Generated by \`${options.command}\` at ${options.generated} from the newest full run of each ` +
    "section's command (its run folder's tag; a probe or a stage of another job is never shown) " +
    "on the machine that ran it; nothing here is typed by hand. Each section names its " +
    "run folder (under `data/runs/`, not kept in git), the commit that ran, the backend and the " +
    "machine. Rates carry 95% intervals (Wilson's for one 0/1 outcome per caption, else the " +
    "normal approximation over captions), and the tables say how many captions they rest on.",
    "",
    sections.map((s) => `[${s.name}](#${anchor(s.name)})`).join(" · "),
  ];
  for (const section of sections) {
    lines.push("", `## ${section.name}`, "", section.question, "");
    if (section.run === null) {
      lines.push(`No full run on this machine. Make one with \`${section.command}\`.`);
      continue;
    }
    const wall = section.wallTime;
    const took = wall === undefined
      ? ""
      : ` · took ${(wall.seconds / 60).toFixed(1)} min (${wall.how})`;
    lines.push(runFacts(section.run) + took, "", `Command: \`${section.command}\``);
    for (const note of section.notes ?? []) lines.push("", note);
    for (const table of section.tables) {
      if (table.rows.length === 0) continue;
      lines.push("", table.caption, "", markdownTable(mergeIntervals(table.rows), { digits: 4 }));
    }
  }
  return lines.join("\n") + "\n";
}

/** GitHub's heading anchor for a plain name: lower case, spaces to dashes, punctuation gone. */
function anchor(name: string): string {
  return name.toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");
}
