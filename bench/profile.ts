/**
 * Profile: where does the CPU time of one step go, ours compiled beside PyTorch's, by kind of work?
 *
 * Question: for the benchmark's three workloads (the prior's training step, its KV-cached
 * sampling, the dVAE's training step; the configs of bench/prior.ts and bench/dvae.ts), how many
 * CPU milliseconds per step does each kind of work take (matrix products, elementwise kernels,
 * compiled code, memory, threads, dispatch, interpreter, system), in our compiled step on the
 * tensorflow backend and in the PyTorch 2.13 peer (eager, and `torch.compile` for training)? It
 * answers what bounds a ratio in `deno task bench`: the kernels themselves or what runs around them.
 * Command: `deno task profile` (`.ci/setup --bench --profile` installs the peers and `perf`), or
 * `deno run -A bench/profile.ts --workloads=prior-sample --seconds=5`.
 * Runtime: about 4–5 minutes on a 2-core machine (torch.compile's first build is most of it).
 * Expected: the compiled step spends most of its time in library kernels, like PyTorch; what
 * differs is how fast those kernels are and how much time goes between them. Results go to
 * `data/runs/profile/<stamp>_all/` (profile.csv: CPU ms per step by kind; top_symbols.csv: the
 * busiest symbols; config.json: the code version and the machine's load; end.json: the load at the
 * end and any side that failed).
 *
 * Each side runs in its own process: it warms up (traces, compiles), says so on stdout, and then
 * repeats its step for `--seconds` + 2 s while `perf record -a -F <frequency>` samples the whole
 * machine for `--seconds` (so it needs root, as `.ci/setup` has); the report keeps the side's
 * threads. A sample is 1/frequency s of CPU time on one thread, so the figures are CPU time (both
 * cores), not wall time; steps/s is the side's own count over its loop. Sampling costs the sides
 * unequally (measured here: ours within a few % of its unprofiled speed, PyTorch's 10–15% slower,
 * its OpenMP threads spinning under the timer), so ratios of speed come from `deno task bench`;
 * this says where each side's time goes.
 *
 * @module
 */
import { canTrace, initBackend, tf } from "../lib/backend/mod.ts";
import { createDvae, trainDvae } from "../lib/dvae/mod.ts";
import { machineLoad, parseFlags, RunLog, UsageError, writeCsv } from "../lib/log/mod.ts";
import { createPrior, trainPrior } from "../lib/prior/mod.ts";
import { markdownTable } from "../lib/display/mod.ts";
import {
  kindTable,
  parsePerfReport,
  type PerfSymbol,
  type ProfileRow,
  WORK_KINDS,
  workShares,
} from "./_perf_report.ts";
import { torch2Python } from "./_peer.ts";
import { BENCH_PRIOR_CONFIG, benchInputs } from "./prior.ts";

/** The workloads, in the order they run. */
export const PROFILE_WORKLOADS = ["prior-train", "prior-sample", "dvae-train"] as const;
type Workload = typeof PROFILE_WORKLOADS[number];

/** The flags of `deno task profile`. */
export const PROFILE_DEFAULTS = {
  /** Workloads to profile, comma-separated: prior-train, prior-sample, dvae-train. */
  workloads: PROFILE_WORKLOADS.join(","),
  /** Seconds each side is sampled for (after its warm-up). @accepts number > 0 */
  seconds: 10,
  /** Samples per second per thread (`perf record -F`). @accepts integer ≥ 1 */
  frequency: 999,
  /** Internal: run our side of one workload in this process. */
  child: "",
};

const WARM = "@@profile-warm";
const RESULT = "@@profile-result ";
/** oneDNN names its runtime-generated kernels for perf (1.x reads DNNL_, 3.x ONEDNN_). */
const NAMED_JIT = { ONEDNN_JIT_PROFILE: "2", DNNL_JIT_PROFILE: "2" };

/** One side of a workload: how to start it. */
interface Side {
  label: string;
  command: string;
  args: string[];
}

function sides(workload: Workload, seconds: number): Side[] {
  const loop = String(seconds + 2);
  const ours: Side = {
    label: "ours compiled (tensorflow)",
    command: Deno.execPath(),
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      `--child=${workload}`,
      `--seconds=${loop}`,
    ],
  };
  const peer = new URL("./_profile_peer.py", import.meta.url).pathname;
  const torch = (compiled: boolean): Side => ({
    label: `torch 2.13${compiled ? " compiled" : ""}`,
    command: torch2Python(),
    args: [peer, "--workload", workload, "--seconds", loop, ...(compiled ? ["--compile"] : [])],
  });
  // Sampling is not compiled in the peer (torch.compile does not pay for one token at a time).
  return workload === "prior-sample" ? [ours, torch(false)] : [ours, torch(false), torch(true)];
}

/** Our side, in this process: warm up, print WARM, loop for `seconds`, print RESULT, exit. */
async function child(workload: Workload, seconds: number): Promise<never> {
  await initBackend("tensorflow");
  if (!canTrace()) throw new Error("the profile needs the tensorflow backend with the trace addon");
  const warmSteps = 5;
  let steps = 0, warmAt = 0;
  const tick = () => {
    steps++;
    if (steps === warmSteps) {
      console.log(WARM);
      warmAt = performance.now();
    } else if (steps > warmSteps && performance.now() - warmAt > seconds * 1000) {
      const elapsed = (performance.now() - warmAt) / 1000;
      console.log(RESULT + JSON.stringify({ steps: steps - warmSteps, seconds: elapsed }));
      Deno.exit(0);
    }
  };
  const forever = 1_000_000;
  if (workload === "prior-train") {
    const prior = createPrior(BENCH_PRIOR_CONFIG);
    await trainPrior(prior, [benchInputs(16)], {
      steps: forever,
      lr: 3e-4,
      compile: true,
      onStep: tick,
    });
  } else if (workload === "prior-sample") {
    const prior = createPrior(BENCH_PRIOR_CONFIG);
    const { textLen: T } = BENCH_PRIOR_CONFIG;
    const { text } = benchInputs(16);
    const captions = Array.from({ length: 16 }, (_, b) => text.slice(b * T, (b + 1) * T));
    for (let seed = 0;; seed++) {
      await prior.sample({ text: captions, seed, kvCache: "compiled" });
      tick();
    }
  } else {
    const dvae = createDvae();
    const x = tf.randomUniform([32, 32, 32, 3], 0, 1, "float32", 0) as tf.Tensor4D;
    await trainDvae(dvae, x, {
      steps: forever,
      batchSize: 32,
      beta: 6.6,
      tau: 1,
      lr: 1e-4,
      compile: true,
      log: await RunLog.create({ experiment: "profile_dvae", write: false, printEvery: 0 }),
      onStep: tick,
    });
  }
  throw new Error(`${workload}: the loop ended before its window`);
}

/** What one side's profile gave. */
interface SideProfile {
  workload: Workload;
  side: string;
  stepsPerSec: number;
  symbols: PerfSymbol[];
}

/** Runs one side, samples it with perf after its warm-up, and reads the report. */
async function profileSide(
  workload: Workload,
  side: Side,
  flags: typeof PROFILE_DEFAULTS,
  dir: string,
): Promise<SideProfile> {
  const proc = new Deno.Command(side.command, {
    args: side.args,
    env: NAMED_JIT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(proc.stderr).text();
  const data = `${dir}/${workload}_${side.label.replace(/\W+/g, "_")}.perf.data`;
  let perf: Promise<Deno.CommandOutput> | null = null;
  let result: { steps: number; seconds: number } | null = null;
  let threads = new Set<number>();
  let buffered = "";
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10 * 60_000);
  for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith(WARM) && !perf) {
        // System-wide (-a): perf's per-process events cost every context switch, which slowed
        // TensorFlow's thread pool by a third here; the report keeps the side's threads only.
        perf = new Deno.Command("perf", {
          args: ["record", "-a", "-F", String(flags.frequency), "-o", data]
            .concat(["--", "sleep", String(flags.seconds)]),
          stdout: "piped",
          stderr: "piped",
        }).output().then(async (out) => {
          threads = await threadsOf(proc.pid); // the side loops 2 s past the recording
          return out;
        });
      } else if (line.startsWith(RESULT)) {
        result = JSON.parse(line.slice(RESULT.length));
      }
    }
  }
  clearTimeout(timer);
  const status = await proc.status;
  if (!status.success || !perf || !result) {
    const why = (await stderr).trim().split("\n").slice(-3).join(" | ");
    throw new Error(`${workload}, ${side.label}: exit ${status.code}${why ? `: ${why}` : ""}`);
  }
  const recorded = await perf;
  if (!recorded.success) {
    throw new Error(`perf record failed: ${new TextDecoder().decode(recorded.stderr).trim()}`);
  }
  const report = await new Deno.Command("perf", {
    args: ["report", "-i", data, "-n", "--sort", "pid,dso,sym", "--stdio", "-t", "|"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(data); // tens of MB; the report's figures are what is kept
  if (!report.success) {
    throw new Error(`perf report failed: ${new TextDecoder().decode(report.stderr).trim()}`);
  }
  return {
    workload,
    side: side.label,
    stepsPerSec: result.steps / result.seconds,
    symbols: parsePerfReport(new TextDecoder().decode(report.stdout), threads),
  };
}

/** The thread ids of a running process. */
async function threadsOf(pid: number): Promise<Set<number>> {
  const ids = new Set<number>();
  for await (const e of Deno.readDir(`/proc/${pid}/task`)) ids.add(Number(e.name));
  return ids;
}

/** `perf`'s version, or a clear error where it is missing. */
async function perfVersion(): Promise<string> {
  try {
    const out = await new Deno.Command("perf", { args: ["--version"], stdout: "piped" }).output();
    if (out.success) return new TextDecoder().decode(out.stdout).trim();
  } catch { /* reported below */ }
  throw new UsageError(
    "the profile needs `perf` (Debian's linux-perf): run `bash .ci/setup --bench --profile`",
  );
}

async function main(flags: typeof PROFILE_DEFAULTS): Promise<void> {
  const workloads = flags.workloads.split(",").map((w) => w.trim()).filter(Boolean);
  for (const w of workloads) {
    if (!(PROFILE_WORKLOADS as readonly string[]).includes(w)) {
      throw new UsageError(`unknown workload "${w}"; known: ${PROFILE_WORKLOADS.join(", ")}`);
    }
  }
  const perf = await perfVersion();
  const started = performance.now();
  // Its folder and config.json (code version, machine load) as every experiment's run has them.
  const run = await RunLog.create({
    experiment: "profile",
    tag: workloads.length === PROFILE_WORKLOADS.length ? "all" : workloads.join("_"),
    config: { workloads, seconds: flags.seconds, frequency: flags.frequency, perf },
    printEvery: 0,
  });
  const dir = run.dir;
  const profiles: SideProfile[] = [];
  const failed: string[] = [];
  for (const workload of workloads as Workload[]) {
    for (const side of sides(workload, flags.seconds)) {
      const t = performance.now();
      const secs = () => `(${((performance.now() - t) / 1000).toFixed(0)} s)`;
      try {
        const p = await profileSide(workload, side, flags, dir);
        profiles.push(p);
        console.log(`${workload}, ${side.label}: ${p.stepsPerSec.toFixed(2)} steps/s ${secs()}`);
      } catch (err) {
        // A side that fails is named in the table's foot and the run's config, never left out silently.
        failed.push(err instanceof Error ? err.message : String(err));
        console.error(`FAILED ${failed.at(-1)} ${secs()}`);
      }
    }
  }
  type Row = Record<string, string | number>;
  const kindRows: (ProfileRow & Row)[] = [];
  const topRows: Row[] = [];
  for (const p of profiles) {
    const shares = workShares(p.symbols);
    const stepsSampled = p.stepsPerSec * flags.seconds;
    const msPerStep = (samples: number) => (samples / flags.frequency) * 1000 / stepsSampled;
    for (const kind of WORK_KINDS) {
      kindRows.push({
        workload: p.workload,
        side: p.side,
        steps_per_sec: Number(p.stepsPerSec.toPrecision(4)),
        kind,
        samples: shares.samples[kind],
        share_percent: Number((100 * shares.samples[kind] / shares.total).toFixed(1)),
        cpu_ms_per_step: Number(msPerStep(shares.samples[kind]).toPrecision(3)),
      });
    }
    shares.top.forEach((s, rank) =>
      topRows.push({
        workload: p.workload,
        side: p.side,
        rank: rank + 1,
        kind: s.kind,
        share_percent: Number((100 * s.samples / shares.total).toFixed(1)),
        dso: s.dso.replace(/ tid \d+$/, ""),
        symbol: s.symbol.slice(0, 160),
      })
    );
  }
  await writeCsv(`${dir}/profile.csv`, kindRows);
  await writeCsv(`${dir}/top_symbols.csv`, topRows);
  const end = {
    failed,
    load_avg_1min_at_end: machineLoad().load_avg_1min,
    total_seconds: (performance.now() - started) / 1000,
  };
  await run.writeFile("end.json", JSON.stringify(end, null, 2) + "\n");
  console.log(
    `\n${
      markdownTable(kindTable(kindRows), { digits: 3 })
    }\nwrote ${dir}/profile.csv and top_symbols.csv`,
  );
  for (const why of failed) console.error(`not profiled: ${why}`);
  if (failed.length > 0) Deno.exitCode = 1;
}

if (import.meta.main) {
  const flags = parseFlags(PROFILE_DEFAULTS);
  if (flags.child) {
    if (!(PROFILE_WORKLOADS as readonly string[]).includes(flags.child)) {
      throw new UsageError(`unknown workload "${flags.child}"`);
    }
    await child(flags.child as Workload, flags.seconds);
  } else await main(flags);
}
