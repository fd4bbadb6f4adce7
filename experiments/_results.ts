/**
 * The results page (`data/figures/RESULTS.md`, written by `deno task figures`): which run of
 * each experiment it reads and which of its tables it shows. The page itself is built by
 * lib/display's `resultsMarkdown`; every number on it comes from a run folder it names.
 *
 * @module
 */
import {
  describeDvaeObjective,
  mergeIntervals,
  nearMissTable,
  resultsMarkdown,
  type ResultsSection,
  type Row,
} from "../lib/display/mod.ts";
import {
  latestRun,
  parseCsv,
  readRun,
  RUN_FOLDER_PATTERN,
  type RunRecord,
  runStarted,
  writeFileAtomic,
} from "../lib/io/mod.ts";
import { moduleDocs } from "../lib/log/mod.ts";
import { RERANKER_RECIPE } from "../lib/pipeline/mod.ts";
import { kindTable, type ProfileRow } from "../bench/_perf_report.ts";

/** Where the page goes, relative to the figures folder. */
export const RESULTS_FILE = "RESULTS.md";

/** A run folder filter: which runs of an experiment a section may read. */
type Where = (dir: string, config: Record<string, unknown>) => boolean;

/** A run folder's tag: what follows its stamp (`…/20261207T104808Z_shapes` → "shapes"). */
const tagOf = (dir: string) =>
  RUN_FOLDER_PATTERN.exec(dir.replace(/\/+$/, "").split("/").at(-1)!)?.[2];

/** One section's recipe: the experiment, which of its runs, and the tables read from the run. */
interface SectionSpec {
  name: string;
  experiment: string;
  /** The entry point whose header states the question. @default experiments/<experiment>.ts */
  module?: string;
  command: string;
  /**
   * The tag `command` writes (its run folders' suffix). Only runs of that tag stand for the
   * section: a probe, a notebook's run or a stage of the main job or the reference job (tagged
   * `demo_…`, `reference…`) has another and is never shown as the experiment's result.
   */
  tag: string;
  where?: Where;
  tables: (run: RunRecord, repo: string) => Promise<ResultsSection["tables"]>;
  notes?: (run: RunRecord, repo: string) => Promise<string[]>;
}

/** summary.csv's rows (an object or nothing gives none). */
function summaryOf(run: RunRecord): Row[] {
  return Array.isArray(run.summary) ? run.summary as Row[] : [];
}

/** Rows whose interval of `accuracy` is in `ci_low`/`ci_high`, renamed so it is merged. */
function accuracyRows(rows: readonly Row[]): Row[] {
  return rows.map(({ ci_low, ci_high, ...rest }) =>
    ci_low === undefined ? rest : { ...rest, accuracy_low: ci_low, accuracy_high: ci_high }
  );
}

/** A CSV file of a run folder as rows, or none when the run did not write it. */
async function csvRows(path: string): Promise<Row[]> {
  try {
    return parseCsv(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** The near-miss table of a run that wrote near_miss.csv (none otherwise). */
async function nearMissTables(run: RunRecord): Promise<ResultsSection["tables"]> {
  const rows = await csvRows(`${run.dir}/near_miss.csv`);
  if (rows.length === 0) return [];
  return [{
    caption: "Near misses: how often the reranker prefers an image's true caption to the same " +
      "caption with one change (chance 50%), per kind, on rendered scenes of each split" +
      (rows.some((r) => r.images_of !== undefined && r.images_of !== "rendered")
        ? ", on the same scenes through the pipeline's dVAE, and on the pipeline's draws " +
          "captioned as the judge reads them"
        : "") +
      " (95% Wilson intervals, with the images each rests on):",
    rows: nearMissTable(rows).rows,
  }];
}

/** A reranker run's retrieval and near-miss tables. */
async function rerankTables(run: RunRecord): Promise<ResultsSection["tables"]> {
  return [
    { caption: "Retrieval per split (top-1 of the pool):", rows: accuracyRows(summaryOf(run)) },
    ...await nearMissTables(run),
  ];
}

/** A judged run's summary under a caption, then its reranker's near-miss table. */
const sweepTables = (caption: string) => async (run: RunRecord) => [
  { caption, rows: summaryOf(run) },
  ...await nearMissTables(run),
];

/** rerank_train's flags for CLIP's recipe (lib/pipeline's BATCH_NEGATIVES_ONLY). */
const CLIP_FLAGS = "--nearMisses=0 --nearMissWeight=0 --twins=false --throughDvae=0 " +
  "--imageStageDepth=0";

/** Whether a rerank_train run used the toolkit's recipe (lib/pipeline's RERANKER_RECIPE). */
function isToolkitRecipe(c: Readonly<Record<string, unknown>>): boolean {
  return (Object.keys(RERANKER_RECIPE) as (keyof typeof RERANKER_RECIPE)[])
    .every((key) => c[key] === RERANKER_RECIPE[key]);
}

/** What a rerank_train run trained with, from its config.json. */
function recipeNotes(run: RunRecord): Promise<string[]> {
  const c = run.config;
  const parts = [
    Number(c.nearMissWeight) > 0
      ? `${c.nearMisses} near-miss captions per image as negatives (weight ${c.nearMissWeight})`
      : "no near-miss captions",
    c.twins === true ? "near-miss twins in every batch" : "no twins",
    Number(c.throughDvae) > 0
      ? `${Math.round(100 * Number(c.throughDvae))}% of training images through the dVAE`
      : "rendered images only",
    `${Number(c.imageStageDepth ?? 0)} stride-1 convolution(s) before each halving`,
  ];
  return Promise.resolve([`Recipe: ${parts.join("; ")}.`]);
}

/** A one-row summary as `quantity | value` lines, which a page can show without scrolling. */
function transposed(rows: readonly Row[]): Row[] {
  if (rows.length !== 1) return [...rows];
  return Object.entries(rows[0]).map(([quantity, value]) => ({ quantity, value }));
}

/** Rows without the listed columns (long commands and paths that the facts line already gives). */
function without(rows: readonly Row[], ...columns: string[]): Row[] {
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).filter(([key]) => !columns.includes(key)))
  );
}

/** The summary as one table under a caption. */
const summaryTable = (caption: string) => (run: RunRecord) =>
  Promise.resolve([{ caption, rows: summaryOf(run) }]);

/** A dVAE run's one-row held-out summary, as lines. */
const heldOutTable = (run: RunRecord) =>
  Promise.resolve([{
    caption: "Held out, EMA weights:",
    // A rate and its interval on one line, before the one-row summary becomes lines.
    rows: transposed(mergeIntervals(summaryOf(run))),
  }]);

/**
 * What a dVAE run minimised and how it departs from the paper's objective, from its config.json:
 * stated beside its numbers, so a bound is never read as the paper's when it is not.
 */
function objectiveNotes(config: Readonly<Record<string, unknown>>, label = ""): string[] {
  const text = describeDvaeObjective(config);
  const notes = [
    `${label}Objective: ${text.objective}. Its bound (\`elb_bits_per_dim\`) is the ${text.boundName}` +
    (text.paperLikelihood ? "." : ", not comparable with the paper's logit-Laplace bound."),
  ];
  if (text.departures.length > 0) {
    notes.push(`Departs from the paper's objective: ${text.departures.join("; ")}.`);
  }
  if (text.missing.length > 0) {
    notes.push(`Not recorded in this run's config.json: ${text.missing.join(", ")}.`);
  }
  return notes;
}

/** Reads a run folder named in another run's config (a path relative to the repository). */
async function linkedRun(repo: string, path: unknown): Promise<RunRecord | null> {
  if (typeof path !== "string" || path === "") return null;
  try {
    return await readRun(path.startsWith("/") ? path : `${repo}/${path}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** A linked run's folder as the page names it, or why it is missing. */
function where(path: unknown, run: RunRecord | null): string {
  return run === null ? `run folder ${String(path)} missing` : `\`${String(path)}\``;
}

const SECTIONS: readonly SectionSpec[] = [
  {
    name: "demo",
    experiment: "demo",
    command: "deno task demo",
    tag: "full",
    notes: async (run, repo) => {
      const dvae = await linkedRun(repo, run.config.dvaeRun);
      return dvae === null
        ? [
          `Stage one's run folder ${
            String(run.config.dvaeRun)
          } is missing: its objective is unknown.`,
        ]
        : objectiveNotes(dvae.config, "Stage one (the dVAE) is not the paper's objective. ");
    },
    tables: async (run, repo) => {
      const stages = without(summaryOf(run), "command");
      const [dvae, prior] = await Promise.all(
        [run.config.dvaeRun, run.config.priorRun].map((p) => linkedRun(repo, p)),
      );
      return [
        { caption: "Time per stage (seconds) and the run folder each stage wrote:", rows: stages },
        {
          caption: `Stage one, the dVAE, on held-out scenes (${where(run.config.dvaeRun, dvae)}):`,
          rows: dvae ? transposed(mergeIntervals(summaryOf(dvae))) : [],
        },
        {
          caption: `Stage two, draws judged per split (${where(run.config.priorRun, prior)}); ` +
            "`captions` is the count each rate rests on:",
          rows: prior ? summaryOf(prior) : [],
        },
        ...(prior ? await nearMissTables(prior) : []),
      ];
    },
  },
  {
    name: "dvae_train (fashion)",
    experiment: "dvae_train",
    command: "deno run -A experiments/dvae_train.ts",
    tag: "fashion",
    where: (_, c) => c.dataset === "fashion",
    tables: heldOutTable,
    notes: (run) => Promise.resolve(objectiveNotes(run.config)),
  },
  {
    name: "dvae_train (shapes)",
    experiment: "dvae_train",
    command: "deno run -A experiments/dvae_train.ts --dataset=shapes",
    tag: "shapes",
    where: (_, c) => c.dataset === "shapes",
    tables: heldOutTable,
    notes: (run) => Promise.resolve(objectiveNotes(run.config)),
  },
  {
    name: "dvae_beta_tau",
    experiment: "dvae_beta_tau",
    command: "deno run -A experiments/dvae_beta_tau.ts",
    tag: "sweep",
    tables: summaryTable("One row per run, one seed each (held out, EMA weights):"),
  },
  {
    name: "dvae_beta_tau (marginal, lr 4e-3)",
    experiment: "dvae_beta_tau",
    command: "deno run -A experiments/dvae_beta_tau.ts --dataset=fashion --taus=cosine " +
      "--marginalKls=0,20 --lr=4e-3 --tag=marginal_lr4e-3",
    tag: "marginal_lr4e-3",
    tables: summaryTable("One row per run, one seed each (held out, EMA weights):"),
  },
  {
    name: "prior_shapes",
    experiment: "prior_shapes",
    command: "deno run -A experiments/prior_shapes.ts",
    tag: "run",
    tables: summaryTable(
      "Per split and temperature; `captions` is the count each rate rests on (95% intervals " +
        "over captions):",
    ),
  },
  {
    name: "rerank_train",
    experiment: "rerank_train",
    command: "deno run -A experiments/rerank_train.ts",
    tag: "shapes",
    where: (_, c) => isToolkitRecipe(c),
    tables: rerankTables,
    notes: recipeNotes,
  },
  {
    name: "rerank_train (CLIP's recipe: batch negatives only)",
    experiment: "rerank_train",
    command: `deno run -A experiments/rerank_train.ts ${CLIP_FLAGS} --tag=clip ` +
      "--out=data/cache/rerank_shapes_clip.safetensors",
    tag: "clip",
    where: (_, c) => !(Number(c.nearMissWeight) > 0) && c.twins !== true,
    tables: rerankTables,
    notes: recipeNotes,
  },
  {
    name: "rerank_train (near-miss captions only)",
    experiment: "rerank_train",
    command: "deno run -A experiments/rerank_train.ts --twins=false --throughDvae=0 " +
      "--imageStageDepth=0 --tag=negclip_k5_w1 --out=data/cache/rerank_shapes_negclip.safetensors",
    tag: "negclip_k5_w1",
    where: (_, c) =>
      Number(c.nearMissWeight) > 0 && c.twins !== true && !(Number(c.throughDvae) > 0),
    tables: rerankTables,
    notes: recipeNotes,
  },
  {
    name: "rerank_n_sweep",
    experiment: "rerank_n_sweep",
    command: "deno run -A experiments/rerank_n_sweep.ts",
    tag: "sweep",
    where: (_, c) => !c.reranker,
    tables: sweepTables(
      "Judge agreement against N, per split, under the pipeline's own reranker (the toolkit's " +
        "recipe at prior_shapes' budget, 600 steps on its 4,000 scenes):",
    ),
  },
  {
    name: "rerank_n_sweep (the same draws under rerank_train's reranker)",
    experiment: "rerank_n_sweep",
    command: "deno run -A experiments/rerank_n_sweep.ts " +
      "--reranker=data/cache/rerank_shapes.safetensors --tag=recipe",
    tag: "recipe",
    where: (_, c) => Boolean(c.reranker),
    tables: sweepTables(
      "Judge agreement against N, per split, the same pipeline's draws under the reranker of " +
        "rerank_train (the toolkit's recipe at rerank_train's budget: 1,000 steps on 12,000 " +
        "scenes, where the pipeline's own has 600 on 4,000):",
    ),
  },
  {
    name: "rerank_n_sweep (the same draws under CLIP's recipe)",
    experiment: "rerank_n_sweep",
    command: "deno run -A experiments/rerank_n_sweep.ts " +
      "--reranker=data/cache/rerank_shapes_clip.safetensors --tag=clip",
    tag: "clip",
    where: (_, c) => Boolean(c.reranker),
    tables: sweepTables(
      "Judge agreement against N, per split, the same pipeline's draws under the reranker of " +
        "rerank_train (CLIP's recipe: batch negatives only) at rerank_train's budget:",
    ),
  },
  {
    name: "zero_shot",
    experiment: "zero_shot",
    command: "deno run -A experiments/zero_shot.ts",
    tag: "table",
    where: (_, c) => !c.reranker,
    tables: sweepTables(
      "Judge agreement per attribute, under the pipeline's own reranker (the toolkit's recipe at " +
        "prior_shapes' budget):",
    ),
  },
  {
    name: "zero_shot (the same draws under rerank_train's reranker)",
    experiment: "zero_shot",
    command: "deno run -A experiments/zero_shot.ts " +
      "--reranker=data/cache/rerank_shapes.safetensors --tag=recipe",
    tag: "recipe",
    where: (_, c) => Boolean(c.reranker),
    tables: sweepTables(
      "Judge agreement per attribute, the same pipeline's draws under the reranker of " +
        "rerank_train (the toolkit's recipe at rerank_train's budget):",
    ),
  },
  {
    name: "zero_shot (the same draws under CLIP's recipe)",
    experiment: "zero_shot",
    command: "deno run -A experiments/zero_shot.ts " +
      "--reranker=data/cache/rerank_shapes_clip.safetensors --tag=clip",
    tag: "clip",
    where: (_, c) => Boolean(c.reranker),
    tables: sweepTables(
      "Judge agreement per attribute, the same pipeline's draws under the reranker of " +
        "rerank_train (CLIP's recipe: batch negatives only):",
    ),
  },
  {
    name: "fashion_text2image",
    experiment: "fashion_text2image",
    command: "deno run -A experiments/fashion_text2image.ts",
    tag: "full",
    tables: summaryTable(
      "Fashion-MNIST text → image: the share of draws the classifier reads as their caption's " +
        "class (chance 10%), per draw and for the reranker's pick, per class and in all; the " +
        "Fréchet distance of the draws to as many real test images, beside two real halves':",
    ),
  },
  {
    name: "bench",
    experiment: "bench",
    module: "../bench/main.ts",
    command: "deno task bench",
    tag: "full",
    tables: summaryTable(
      "One row per workload, backend and process count; `speed ÷ best` is our speed over the " +
        "faster PyTorch peer's (above 1: faster):",
    ),
  },
  {
    name: "profile",
    experiment: "profile",
    module: "../bench/profile.ts",
    command: "deno task profile",
    tag: "all",
    tables: async (run) => [{
      caption:
        "Where a step's time goes, ours compiled beside PyTorch 2.13: each side's steps/s while " +
        "sampled (PyTorch's 10–15% below its unsampled speed: speed ratios are the bench " +
        "section's), then CPU ms per step by kind of work (perf samples of the side's threads, " +
        "both cores; the busiest symbols are in the run's top_symbols.csv):",
      rows: kindTable(await csvRows(`${run.dir}/profile.csv`) as unknown as ProfileRow[]),
    }],
  },
  {
    name: "powersgd_rank_sweep",
    experiment: "powersgd_rank_sweep",
    command: "deno run -A experiments/powersgd_rank_sweep.ts",
    tag: "sweep",
    tables: summaryTable("One row per rank:"),
  },
  {
    name: "powersgd_variants",
    experiment: "powersgd_variants",
    command: "deno run -A experiments/powersgd_variants.ts",
    tag: "variants",
    tables: summaryTable("One row per variant:"),
  },
  {
    name: "grad_scaling_fp16",
    experiment: "grad_scaling_fp16",
    command: "deno run -A experiments/grad_scaling_fp16.ts",
    tag: "fp16",
    tables: summaryTable("One row per mode:"),
  },
];

/** The question an experiment answers: the first sentence of its header, as `--help` shows it. */
function questionOf(spec: SectionSpec): string {
  return moduleDocs(new URL(spec.module ?? `./${spec.experiment}.ts`, import.meta.url), [])
    .question;
}

/**
 * Builds the results page from the newest full run of each section's command (by its tag) under
 * `<repo>/data/runs` and writes it to `<out>/RESULTS.md`. Sections without such a run get a line
 * with the command that makes one; no `--quick` run is ever shown as a result.
 *
 * @param out The folder to write into.
 * @param options `repo`: the repository whose runs are read (default "."); `generated`: the time
 *   to print (default now).
 * @returns The path written and the sections (with their runs).
 */
export async function writeResults(
  out: string,
  options: { repo?: string; generated?: string } = {},
): Promise<{ path: string; sections: ResultsSection[] }> {
  const repo = options.repo ?? ".";
  const sections: ResultsSection[] = [];
  for (const spec of SECTIONS) {
    const dir = await latestRun(spec.experiment, {
      root: `${repo}/data/runs`,
      preferFull: true,
      where: (dir, config) => tagOf(dir) === spec.tag && (spec.where?.(dir, config) ?? true),
    });
    const found = dir === null ? null : await readRun(dir);
    const run = found === null || found.config.quick === true ? null : found;
    const shown = run === null ? null : { ...run, dir: relative(run.dir, repo) };
    const wallTime = run === null ? undefined : await wallTimeOf(run);
    sections.push({
      name: spec.name,
      question: questionOf(spec),
      command: spec.command,
      run: shown,
      wallTime,
      tables: run === null ? [] : await spec.tables(run, repo),
      notes: run === null || spec.notes === undefined ? [] : await spec.notes(run, repo),
    });
  }
  const path = `${out}/${RESULTS_FILE}`;
  const generated = options.generated ?? new Date().toISOString().replace(/\.\d+Z$/, "Z");
  await writeFileAtomic(
    path,
    resultsMarkdown(sections, { generated, command: "deno task figures" }),
  );
  return { path, sections };
}

/**
 * How long a run took: its own record (`total_seconds`) where it keeps one, else from the start in
 * its folder's stamp to the last write of its summary.csv (a resumed run counts its pause too).
 */
async function wallTimeOf(run: RunRecord): Promise<ResultsSection["wallTime"]> {
  if (typeof run.config.total_seconds === "number") {
    return { seconds: run.config.total_seconds, how: "as the run recorded it" };
  }
  const start = runStarted(run.dir)?.getTime();
  if (start === undefined) return undefined;
  try {
    // A copied folder keeps this only when the copy keeps modification times (cp -p, rsync -t).
    const end = (await Deno.stat(`${run.dir}/summary.csv`)).mtime?.getTime();
    return end === undefined ? undefined : {
      seconds: (end - start) / 1000,
      how: "from the folder's stamp to summary.csv's last write",
    };
  } catch {
    return undefined;
  }
}

/** A run folder's path from the repository root, as the page prints it. */
function relative(dir: string, repo: string): string {
  const prefix = repo.endsWith("/") ? repo : `${repo}/`;
  return dir.startsWith(prefix) ? dir.slice(prefix.length) : dir;
}
