/**
 * `deno task bench`: every benchmark of the toolkit on every backend, beside the PyTorch peers of
 * `../shared/peers/` under both PyTorch builds of the machine (Debian's torch 1.13 and pip's
 * torch 2.13, which `.ci/setup --bench` installs; torch 2.13 also with `torch.compile` where the
 * peer script takes `--compile`), with the ratio of our speed to the fastest peer's on every row
 * and the peak RSS of every process.
 *
 * One process has one tfjs engine, so each backend (and, for the dVAE and prior, each process
 * count: 1 process or the batch split over 2 workers) runs in its own `deno run` of this file
 * (`--child=SUITE`, the backend in `$DALLE_LAB_BACKEND`), which prints its rows and its peak RSS.
 * The peers run first, one at a time at 2 and 1 threads (torch 1.13 at 2 threads can be far slower
 * than at 1 on a busy 2-core machine), never beside our timing.
 *
 * Command: `deno task bench` (all), `deno task bench conv dvae` (a subset by name),
 * `--backends=wasm,tensorflow` (backends to run; default tensorflow and wasm, plus cpu for conv's
 * forward pass), `--quick` (or `DALLE_LAB_BENCH_QUICK=1`: a smoke run of the harness, every row
 * and backend with 2–3 timed iterations, smaller dVAE and prior batches for us and the peers, the
 * peers at 1 thread only; its figures mean little).
 * Runtime: about 12–15 minutes on a quiet 2-core machine, about twice that on a busy one (the
 * results page gives the newest full run's own time); `--quick` about 2
 * minutes. Figures print as one markdown table per suite and are written to a run folder,
 * data/runs/bench/<stamp>_<full|quick>/: summary.csv (every row; its `quick` column marks smoke
 * runs) and config.json (suites, backends, the code's commit, cores and load); the results page
 * (`deno task figures`, data/figures/RESULTS.md § bench) shows the newest full one.
 *
 * Columns: `ours` on `on` (backend, and process count for data-parallel rows); the peers' best
 * figure per build and its thread count; `speed ÷ best` = our speed over the faster peer's (above
 * 1: we are faster; for times, peer time ÷ our time); peak RSS in MB of our process and of the
 * faster peer's.
 *
 * @module
 */
import { runStamp, writeFileAtomic } from "../lib/io/mod.ts";
import { codeVersion, machineLoad, parseFlags, UsageError, writeCsv } from "../lib/log/mod.ts";
import {
  type BenchOptions,
  type BenchRow,
  fasterPeer,
  peakRssMb,
  type PeerComparison,
  type PeerFigure,
  peerInterpreters,
  type PeerRun,
  type PeerSpecs,
  runPeers,
} from "./_peer.ts";

/** A suite: its module, its bench and peer functions, backends and process counts. */
interface Suite {
  file: string;
  fn: string;
  /** Export returning the suite's PeerSpecs (given `quick`), when it has torch peers. */
  peers?: string;
  /** Backends to run on; null: plain JavaScript, one run without a backend. */
  backends: (string | null)[];
  /** Process counts (data-parallel suites). @default [1] */
  procs?: number[];
}

const SUITES: Record<string, Suite> = {
  conv: { file: "./backend.ts", fn: "benchBackend", backends: ["tensorflow", "wasm", "cpu"] },
  data: { file: "./data.ts", fn: "benchData", backends: ["tensorflow", "wasm"] },
  tokenizer: { file: "./tokenizer.ts", fn: "benchTokenizer", backends: [null] },
  dvae: {
    file: "./dvae.ts",
    fn: "benchDvae",
    peers: "dvaePeers",
    backends: ["tensorflow", "wasm"],
    procs: [1, 2],
  },
  prior: {
    file: "./prior.ts",
    fn: "benchPrior",
    peers: "priorPeers",
    backends: ["tensorflow", "wasm"],
    procs: [1, 2],
  },
  powersgd: {
    file: "./powersgd.ts",
    fn: "benchPowerSgd",
    peers: "powerSgdPeers",
    backends: ["tensorflow", "wasm"],
  },
};

type BenchFn = (options: BenchOptions) => Promise<BenchRow[]>;
type PeersFn = (quick: boolean) => PeerSpecs;

/** What a child prints on its last line, after this marker. */
const RESULT_MARK = "@@bench-result ";

interface ChildResult {
  rows: BenchRow[];
  peakRssMb: number;
  backend: string;
}

/** The flags of `deno task bench` (suites to run are positional: `deno task bench conv dvae`). */
export const BENCH_DEFAULTS = {
  /**
   * Backends to run, comma-separated ("" = each suite's own: tensorflow and wasm, plus cpu for
   * conv's forward pass).
   */
  backends: "",
  /**
   * A smoke run of the harness (also `DALLE_LAB_BENCH_QUICK=1`): every row and backend with 2–3
   * timed iterations, smaller batches, the peers at 1 thread only; its figures mean little.
   */
  quick: false,
  /** Internal: run one suite in this process and print its rows (how each backend is run). */
  child: "",
  /** Internal, with --child: processes the suite splits its batch over. @accepts integer ≥ 1 */
  procs: 1,
};

/** Child mode: run one suite on the backend of `$DALLE_LAB_BACKEND`, print rows and peak RSS. */
async function child(suiteName: string, flags: typeof BENCH_DEFAULTS): Promise<void> {
  const suite = SUITES[suiteName];
  const mod = await import(suite.file) as Record<string, BenchFn>;
  const rows = await mod[suite.fn]({ quick: flags.quick, procs: flags.procs });
  const rss = peakRssMb();
  let backend = "js";
  if (suite.backends[0] !== null) {
    const { tf } = await import("../lib/backend/mod.ts");
    backend = tf.getBackend();
  }
  const result: ChildResult = { rows, peakRssMb: rss, backend };
  console.log(RESULT_MARK + JSON.stringify(result));
  // Gradient workers or native handles must not keep the process alive.
  Deno.exit(0);
}

/** Runs one suite in a fresh `deno run`, on one backend, with one process count. */
async function runChild(
  suiteName: string,
  backend: string | null,
  procs: number,
  quick: boolean,
): Promise<ChildResult | string> {
  const env: Record<string, string> = backend ? { DALLE_LAB_BACKEND: backend } : {};
  const args = ["run", "-A", new URL(import.meta.url).pathname, `--child=${suiteName}`];
  args.push(`--procs=${procs}`, ...(quick ? ["--quick"] : []));
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout((quick ? 5 : 30) * 60_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const line = text.split("\n").find((l) => l.startsWith(RESULT_MARK));
    if (out.success && line) return JSON.parse(line.slice(RESULT_MARK.length)) as ChildResult;
    const err = new TextDecoder().decode(out.stderr).trim().split("\n");
    const why = err.filter((l) => /error/i.test(l)).at(0) ?? err.at(-1) ?? `exit ${out.code}`;
    return `failed (exit ${out.code}${out.signal ? `, ${out.signal}` : ""}): ${why.trim()}`;
  } catch (err) {
    return `failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Throughputs (…/s) are better high; times (ms, s) low; anything else has no ratio. */
function direction(unit: string): "higher" | "lower" | null {
  if (/\/s$/.test(unit)) return "higher";
  if (unit === "ms" || unit === "s") return "lower";
  return null;
}

/** Our speed over the peer's (above 1: we are faster). */
function speedRatio(ours: number, peer: number, unit: string): number | null {
  const dir = direction(unit);
  if (dir === null || !(ours > 0) || !(peer > 0)) return null;
  return dir === "higher" ? ours / peer : peer / ours;
}

const fmt = (v: number | string | null | undefined): string => {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
};

/** One row of the report: our figure on one backend, with the peers' and the ratio. */
type ReportRow = Record<string, string | number>;

function report(
  suiteName: string,
  row: BenchRow,
  backend: string,
  rssMb: number,
  peers: Record<string, PeerRun<Record<string, unknown>>[]>,
  quick: boolean,
): ReportRow {
  const out: ReportRow = {
    suite: suiteName,
    workload: row.workload,
    unit: row.unit,
    backend,
    procs: row.procs ?? "",
    value: row.value,
  };
  let comparison: PeerComparison | null = null;
  if (row.peer && peers[row.peer.run]) {
    const figure = row.peer.figure;
    comparison = fasterPeer(
      peers[row.peer.run],
      (f) => typeof f[figure] === "number" ? f[figure] as number : undefined,
      direction(row.unit) !== "lower",
    );
  }
  for (const { label } of peerInterpreters()) {
    const key = label.replace(/\W+/g, "_");
    const got = comparison?.perInterpreter[label];
    const ok = typeof got === "object" ? got : null;
    out[key] = typeof got === "object" ? got.value : (got ?? "");
    out[`${key}_threads`] = ok ? ok.threads : "";
    out[`${key}_version`] = ok ? ok.torch : "";
  }
  const best: PeerFigure | null = comparison?.faster ?? null;
  out.best_peer = best ? `${best.interpreter} (${best.threads} threads)` : row.peerName ?? "";
  out.best_peer_value = best ? best.value : row.peerValue ?? "";
  const ratio = typeof row.value === "number" && typeof out.best_peer_value === "number"
    ? speedRatio(row.value, out.best_peer_value, row.unit)
    : null;
  out.speed_ratio = ratio === null ? "" : Number(ratio.toFixed(3));
  out.rss_mb = Number.isFinite(rssMb) ? rssMb : "";
  out.peer_rss_mb = best ? best.peakRssMb : "";
  out.quick = quick ? 1 : 0;
  return out;
}

/** A compact markdown table of one suite's report rows. */
function markdown(rows: ReportRow[]): string {
  const labels = peerInterpreters().map((p) => p.label);
  const jsPeer = rows.find((r) => r.best_peer !== "" && !String(r.best_peer).startsWith("torch"));
  const header = [
    "workload",
    "unit",
    "on",
    "ours",
    ...labels,
    ...(jsPeer ? [String(jsPeer.best_peer).split(" ")[0]] : []),
    "speed ÷ best",
    "RSS MB ours / peer",
  ];
  const body = rows.map((r) => {
    const peerCells = labels.map((label) => {
      const key = label.replace(/\W+/g, "_");
      const v = r[key];
      if (typeof v === "number") return `${fmt(v)} (${r[`${key}_threads`]}t)`;
      return v === "" ? "" : "n/a";
    });
    const jsCell = jsPeer
      ? [String(r.best_peer).startsWith("torch") ? "" : fmt(r.best_peer_value)]
      : [];
    const on = r.procs === 1
      ? `${r.backend}, 1 proc`
      : r.procs === 2
      ? `${r.backend}, 2 workers`
      : String(r.backend);
    const ratio = r.speed_ratio === "" ? "" : `${fmt(r.speed_ratio as number)}×`;
    const rss = r.peer_rss_mb === "" ? fmt(r.rss_mb) : `${fmt(r.rss_mb)} / ${r.peer_rss_mb}`;
    return [
      String(r.workload),
      String(r.unit),
      on,
      fmt(r.value),
      ...peerCells,
      ...jsCell,
      ratio,
      rss,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ")} |`;
  return [
    line(header),
    `|${
      widths.map((w, i) => i < 3 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`).join("|")
    }|`,
    ...body.map(line),
  ].join("\n");
}

async function main(flags: typeof BENCH_DEFAULTS, wanted: string[]): Promise<void> {
  const quick = flags.quick || Deno.env.get("DALLE_LAB_BENCH_QUICK") === "1";
  // Each peer launch costs seconds of `import torch`: a smoke run tries one thread count (1: on
  // a busy machine torch 1.13 at 2 threads can take minutes where 1 thread takes seconds).
  const threads = quick ? [1] : [2, 1];
  const named = flags.backends.split(",").filter((b) => b.length > 0);
  const backendsFlag = named.length > 0 ? named : undefined;
  const all: ReportRow[] = [];
  const tables: string[] = [];
  const notes = new Set<string>();
  const started = performance.now();
  const startedAt = new Date();
  const loadAtStart = machineLoad();
  for (const [name, suite] of Object.entries(SUITES)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    console.log(`\n== ${name}${quick ? " (quick)" : ""} ==`);
    const suiteStart = performance.now();
    // The peers first, one at a time, so that nothing competes with them or with our timing.
    const peers: Record<string, PeerRun<Record<string, unknown>>[]> = {};
    if (suite.peers) {
      const mod = await import(suite.file) as Record<string, PeersFn>;
      for (const [run, spec] of Object.entries(mod[suite.peers](quick))) {
        const t = performance.now();
        peers[run] = await runPeers<Record<string, unknown>>(spec.script, spec.args, threads);
        const summary = peers[run].map((p) =>
          `${p.interpreter} ${p.threads}t ${typeof p.result === "string" ? "failed" : "ok"}`
        );
        console.log(
          `  peer ${run}: ${summary.join(", ")} (${((performance.now() - t) / 1000).toFixed(0)} s)`,
        );
        for (const p of peers[run]) {
          if (typeof p.result === "string") notes.add(`${p.interpreter}: ${p.result}`);
        }
      }
    }
    const rows: ReportRow[] = [];
    const backends = suite.backends[0] === null ? [null] : backendsFlag ?? suite.backends;
    for (const backend of backends) {
      for (const procs of suite.procs ?? [1]) {
        const t = performance.now();
        const result = await runChild(name, backend, procs, quick);
        const label = `${backend ?? "js"}${
          suite.procs ? `, ${procs === 1 ? "1 proc" : `${procs} workers`}` : ""
        }`;
        const secs = ((performance.now() - t) / 1000).toFixed(0);
        if (typeof result === "string") {
          console.log(`  ${label}: ${result} (${secs} s)`);
          notes.add(`${name} on ${label}: ${result}`);
          rows.push(
            report(
              name,
              { workload: `${name} (run failed)`, value: "error", unit: "", procs },
              backend ?? "js",
              NaN,
              peers,
              quick,
            ),
          );
          continue;
        }
        console.log(
          `  ${label}: ${result.rows.length} rows, peak RSS ${result.peakRssMb} MB (${secs} s)`,
        );
        for (const row of result.rows) {
          rows.push(report(name, row, result.backend, result.peakRssMb, peers, quick));
        }
      }
    }
    // Group rows by workload (first seen order), so backends and process counts sit together.
    const order = [...new Set(rows.map((r) => r.workload))];
    rows.sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload));
    const secs = ((performance.now() - suiteStart) / 1000).toFixed(0);
    tables.push(`### ${name} (${secs} s)\n\n${markdown(rows)}`);
    all.push(...rows);
  }
  const versions = new Map<string, string>();
  for (const r of all) {
    for (const { label } of peerInterpreters()) {
      const v = r[`${label.replace(/\W+/g, "_")}_version`];
      if (v) versions.set(label, String(v));
    }
  }
  console.log(`\n## Benchmarks${quick ? " (--quick: smoke run, figures mean little)" : ""}\n`);
  console.log(tables.join("\n\n"));
  console.log(
    `\nours: dalle-lab on each backend (1 proc; 2 workers: the batch split over two processes). ` +
      `Peers: ${
        peerInterpreters().map((p) =>
          `${p.label} = ${p.python}${versions.has(p.label) ? ` (${versions.get(p.label)})` : ""}`
        ).join("; ")
      }; ` +
      `${
        threads.length > 1 ? `best of ${threads.join(" and ")} threads` : `${threads[0]} thread`
      } (t). ` +
      `speed ÷ best: our speed over the faster peer's (>1: faster).`,
  );
  for (const note of notes) console.log(`note: ${note}`);
  // A run folder like every experiment's: the rows, and the code and machine that made them.
  const dir = `data/runs/bench/${runStamp(startedAt)}_${quick ? "quick" : "full"}`;
  const totalSeconds = (performance.now() - started) / 1000;
  await Deno.mkdir(dir, { recursive: true });
  await writeCsv(`${dir}/summary.csv`, all);
  await writeFileAtomic(
    `${dir}/config.json`,
    JSON.stringify(
      {
        experiment: "bench",
        quick,
        suites: wanted.length > 0 ? wanted : Object.keys(SUITES),
        backends: flags.backends,
        threads,
        code: await codeVersion(),
        cores: loadAtStart.cores,
        load_avg_1min_at_start: loadAtStart.load_avg_1min,
        load_avg_1min_at_end: machineLoad().load_avg_1min,
        total_seconds: totalSeconds,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwrote ${dir}/summary.csv (${totalSeconds.toFixed(0)} s in all)`);
}

if (import.meta.main) {
  const flags = parseFlags(BENCH_DEFAULTS, undefined, { positional: "[SUITE ...]" });
  const wanted = Deno.args.filter((a) => !a.startsWith("--"));
  for (const name of [...wanted, ...(flags.child ? [flags.child] : [])]) {
    if (!(name in SUITES)) {
      throw new UsageError(`unknown benchmark "${name}"; known: ${Object.keys(SUITES).join(", ")}`);
    }
  }
  // The suites start their backends themselves, from the variable each child is given.
  if (flags.backend !== undefined) {
    if (flags.backends) throw new UsageError("give --backends (the list to run) or --backend");
    flags.backends = flags.backend;
  }
  if (flags.child) await child(flags.child, flags);
  else await main(flags, wanted);
}
