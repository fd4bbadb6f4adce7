/**
 * The reference pipeline shipped in lib/pipeline/reference/: it loads (every part against the
 * hash its manifest records), its folder holds nothing the manifest does not account for, its
 * record is whole, the fixed judged check redrawn now lands within the interval it was shipped
 * with, and the README's table is the one its record gives.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createShapesJudge } from "../lib/judge/mod.ts";
import {
  MANIFEST_FILE,
  Pipeline,
  PipelineManifestError,
  readManifest,
  readReferenceRecord,
  REFERENCE_CHECK,
  REFERENCE_DIR,
  referenceCheck,
  referenceCheckCaptions,
} from "../lib/pipeline/mod.ts";
import {
  markdownContent,
  README_MARKERS,
  readReferenceBlock,
  referenceMarkdown,
  withReferenceBlock,
} from "../experiments/_reference.ts";
import { REFERENCE_DEFAULTS } from "../experiments/reference.ts";
import { figuresOf, reuseStageOne } from "../experiments/_reference_record.ts";
import { experimentFlags, UsageError, writeCsv } from "../lib/log/mod.ts";
import { createPrior } from "../lib/prior/mod.ts";
import { EXPERIMENT as DVAE_TRAIN } from "../experiments/dvae_train.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("the shipped reference pipeline loads, and its folder holds only what its manifest names", async () => {
  const pipeline = await Pipeline.load(); // no folder: the reference one, every part hash-checked
  try {
    assert.ok(pipeline.reranker !== null, "the reference pipeline ranks its draws");
  } finally {
    pipeline.dispose();
  }
  const manifest = await readManifest(REFERENCE_DIR);
  const named = new Set([MANIFEST_FILE, ...Object.values(manifest.parts).map((p) => p.file)]);
  const grids = new Set(["samples_test.png", "samples_zero-shot.png"]);
  for await (const entry of Deno.readDir(REFERENCE_DIR)) {
    assert.ok(named.has(entry.name) || grids.has(entry.name), `stray file ${entry.name}`);
  }
  for (const grid of grids) assert.ok((await Deno.stat(join(REFERENCE_DIR, grid))).size > 0);
});

Deno.test("the reference record is whole and made by the documented command", async () => {
  const record = await readReferenceRecord();
  assert.match(
    record.command,
    /^deno task reference( --dvaeRun=\S+)?$/,
    "the full run, not --quick",
  );
  assert.deepEqual(record.check.config, REFERENCE_CHECK);
  assert.ok(record.code.commit !== null && /^[0-9a-f]{40}$/.test(record.code.commit));
  assert.ok(record.stages.length === 3 && record.stages.every((s) => s.seconds > 0));
  for (const f of record.figures) {
    assert.ok(f.low <= f.mean && f.mean <= f.high, `${f.figure} (${f.split}) outside its interval`);
    // Size and relation are defined only for the captions that name them (a share of the 64).
    const subset = /^(size|relation) per draw$/.test(f.figure);
    assert.ok(subset || f.count >= 64, `${f.figure} (${f.split}) rests on ${f.count}, under 64`);
  }
  const headline = record.figures.filter((f) => f.goal !== undefined).map((f) => f.figure);
  for (const figure of ["per-draw agreement", `reranker's best of ${REFERENCE_DEFAULTS.maxN}`]) {
    assert.ok(headline.includes(figure), `no ${figure} with its goal`);
  }
});

Deno.test("the fixed 64-caption judged check reproduces the shipped figure within its interval", async () => {
  const record = await readReferenceRecord();
  const pipeline = await Pipeline.load();
  const judge = await createShapesJudge();
  try {
    const now = await referenceCheck(pipeline, judge);
    assert.deepEqual(now.captions, 64);
    assert.ok(
      record.check.low <= now.mean && now.mean <= record.check.high,
      `the check gives ${now.mean} now; shipped: ${record.check.mean} ` +
        `[${record.check.low}, ${record.check.high}]`,
    );
    // The negative control: the same parts with an untrained prior fall below the interval.
    const untrained = createPrior(pipeline.prior.config);
    const broken = new Pipeline(pipeline.tokenizer, pipeline.dvae, untrained, pipeline.reranker);
    try {
      const control = await referenceCheck(broken, judge, { ...REFERENCE_CHECK, captions: 16 });
      assert.ok(control.mean < record.check.low, `an untrained prior scores ${control.mean}`);
    } finally {
      untrained.dispose();
    }
  } finally {
    judge.dispose();
    pipeline.dispose();
  }
});

Deno.test("the check's captions are 64 distinct test captions, the same on every call", async () => {
  const [a, b] = [await referenceCheckCaptions(), await referenceCheckCaptions()];
  assert.deepEqual(a, b);
  assert.deepEqual(new Set(a).size, 64);
  await assert.rejects(
    () => referenceCheckCaptions({ ...REFERENCE_CHECK, captionPool: 8 }),
    (e: Error) => e instanceof RangeError && e.message.includes("fewer than 64"),
  );
});

Deno.test("the README's reference table is the one the shipped record gives", async () => {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const record = await readReferenceRecord();
  const block = readReferenceBlock(readme);
  assert.ok(block !== null, "README.md lacks the reference pipeline's markers");
  // Compared as content: `deno fmt` re-wraps the block's prose and pads its table.
  assert.equal(
    markdownContent(block),
    markdownContent(referenceMarkdown(record, REFERENCE_DEFAULTS.ship)),
  );
});

Deno.test("a pipeline without a record, and a README without markers, are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const manifest = JSON.parse(await Deno.readTextFile(join(REFERENCE_DIR, MANIFEST_FILE)));
    delete manifest.notes.reference;
    await Deno.writeTextFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
    await assert.rejects(
      () => readReferenceRecord(dir),
      (e: Error) => e instanceof PipelineManifestError && e.message.includes("no reference record"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(
    () => withReferenceBlock("# no markers\n", "x"),
    (e: Error) => e instanceof RangeError && e.message.includes("markers"),
  );
  const readme = `a\n${README_MARKERS.begin}\nold\n${README_MARKERS.end}\nb\n`;
  const updated = withReferenceBlock(readme, "new");
  assert.deepEqual(readReferenceBlock(updated), "new");
  assert.ok(updated.startsWith("a\n") && updated.endsWith("b\n"));
  // Formatting is not content, but a changed figure is.
  assert.equal(
    markdownContent("| a  |\n| --- |\n| 1% |"),
    markdownContent("| a     |\n| ----- |\n| 1%    |"),
  );
  assert.notEqual(markdownContent("| 41% [29, 53] |"), markdownContent("| 42% [29, 53] |"));
});

Deno.test("reference --dvaeRun reuses a stage one trained with the same flags, and only such a one", async () => {
  const base = `data/runs/_reference_test_${crypto.randomUUID().slice(0, 8)}`;
  const run = `${base}/dvae_run`;
  await Deno.mkdir(`${root}${run}`, { recursive: true });
  try {
    await Deno.writeTextFile(`${root}${base}/weights.safetensors`, "weights");
    const args = ["--dataset=shapes", "--steps=3000", "--out=elsewhere", "--figures=false"];
    // What dvae_train writes: its resolved flags (recipe and defaults), `out` relative to the repo.
    const trained = {
      ...await experimentFlags(DVAE_TRAIN, args),
      workers: 1,
      backend: "tensorflow",
    };
    const writeConfig = (config: Record<string, unknown>) =>
      Deno.writeTextFile(`${root}${run}/config.json`, JSON.stringify(config));
    await writeConfig({ ...trained, experiment: "dvae_train", out: `${base}/weights.safetensors` });
    await Deno.writeTextFile(`${root}${run}/summary.csv`, "train_seconds,eval_seconds\n60,30\n");
    const stage = await reuseStageOne(run, args, `${base}/dvae.safetensors`);
    assert.equal(stage.seconds, 90);
    assert.equal(await Deno.readTextFile(`${root}${base}/dvae.safetensors`), "weights");
    await assert.rejects(
      () => reuseStageOne(run, ["--dataset=shapes", "--steps=800"], `${base}/x`),
      (e: Error) => e instanceof UsageError && e.message.includes("steps: 3000 there, 800 here"),
    );
    // A flag stage one does not pass but the run changed (a --quick run's budgets) is caught too.
    await writeConfig({ ...trained, experiment: "dvae_train", out: "x", testCount: 200 });
    await assert.rejects(
      () => reuseStageOne(run, args, `${base}/x`),
      (e: Error) =>
        e instanceof UsageError && e.message.includes("testCount: 200 there, 2000 here"),
    );
    // A run made before flags were renamed (old names) or added (absent) is the same run.
    const { trainCount, testCount, warmupSteps, imageSize: _i, grid: _g, ...older } = trained;
    await writeConfig({
      ...older,
      shapesCount: trainCount,
      testImages: testCount,
      warmup: warmupSteps,
      experiment: "dvae_train",
      out: `${base}/weights.safetensors`,
    });
    assert.equal((await reuseStageOne(run, args, `${base}/dvae.safetensors`)).seconds, 90);
    // …unless the flags ask for what an absent flag's default does not do.
    await assert.rejects(
      () => reuseStageOne(run, [...args, "--grid=4"], `${base}/x`),
      (e: Error) => e instanceof UsageError && e.message.includes("grid: undefined there, 4 here"),
    );
    await writeConfig({ experiment: "demo" });
    await assert.rejects(
      () => reuseStageOne(run, args, `${base}/x`),
      (e: Error) => e instanceof UsageError && e.message.includes("not a finished dvae_train run"),
    );
  } finally {
    await Deno.remove(`${root}${base}`, { recursive: true });
  }
});

Deno.test("the record's figures come from the right columns of each stage's summary", async () => {
  const base = `data/runs/_reference_figures_${crypto.randomUUID().slice(0, 8)}`;
  const stage = (name: string) => ({
    title: name,
    script: "",
    args: [],
    seconds: 1,
    run: `${base}/${name}`,
  });
  const stages = [stage("dvae"), stage("prior"), stage("sweep")];
  const interval = (column: string, mean: number) => ({
    [column]: mean,
    [`${column}_low`]: mean - 0.05,
    [`${column}_high`]: mean + 0.05,
  });
  try {
    await writeCsv(`${root}${base}/dvae/summary.csv`, [{
      test_images: 2000,
      ...interval("judge_accepts_test", 0.9),
      ...interval("judge_accepts_zero_shot", 0.8),
    }]);
    const attributes = (split: string, base: number) => ({
      split,
      temperature: 1,
      captions: 64,
      ...interval("colour_agreement", base + 0.01),
      ...interval("shape_agreement", base + 0.02),
      ...interval("size_agreement", base + 0.03),
      size_agreement_captions: 40,
      ...interval("relation_agreement", base + 0.04),
      relation_agreement_captions: 42,
    });
    await writeCsv(`${root}${base}/prior/summary.csv`, [
      { ...attributes("test", 0.5), temperature: 0.5 }, // another temperature: not read
      attributes("test", 0.6),
      attributes("zero-shot", 0.7),
    ]);
    const kinds = ["colour", "shape", "size", "relation", "swap"];
    await writeCsv(
      `${root}${base}/prior/near_miss.csv`,
      ["test", "zero-shot"].flatMap((split, s) =>
        ["rendered", "through the dVAE"].flatMap((images_of, d) =>
          kinds.map((kind, k) => ({
            split,
            images_of,
            kind,
            images: 400 - 10 * k,
            accuracy: 0.9 - s / 10 - d / 5 + k / 100,
            ci_low: 0.5,
            ci_high: 0.99,
          }))
        )
      ),
    );
    const sweepRow = (split: string, n: number, offset: number) => ({
      split,
      n,
      captions: 64,
      reranked_mean: 0.3 + offset + n / 1000,
      reranked_low: 0.1,
      reranked_high: 0.9,
      random_mean: 0.2 + offset + n / 1000,
      random_low: 0.1,
      random_high: 0.9,
      oracle_mean: 0.4 + offset + n / 1000,
      oracle_low: 0.1,
      oracle_high: 0.9,
    });
    await writeCsv(
      `${root}${base}/sweep/summary.csv`,
      ["train", "test", "zero-shot"].flatMap((split, s) =>
        [1, 8, 32].map((n) => sweepRow(split, n, s / 10))
      ),
    );
    const figures = await figuresOf(stages, REFERENCE_DEFAULTS);
    const find = (figure: string, split: string) => {
      const f = figures.find((f) => f.figure === figure && f.split === split);
      assert.ok(f, `${figure} (${split}) missing`);
      return f;
    };
    assert.equal(find("dVAE reconstructions accepted", "zero-shot").mean, 0.8);
    assert.equal(find("dVAE reconstructions accepted", "test").count, 2000);
    assert.equal(find("dVAE reconstructions accepted", "test").goal, 0.95);
    // Per draw: the sweep's random pick at its largest N; best of 8 at N = 8, not 32.
    assert.equal(find("per-draw agreement", "test").mean, 0.2 + 0.1 + 0.032);
    assert.equal(find("reranker's best of 8", "zero-shot").mean, 0.3 + 0.2 + 0.008);
    assert.equal(find("reranker's best of 32", "test").mean, 0.3 + 0.1 + 0.032);
    assert.equal(find("any of 32 (oracle)", "train").mean, 0.4 + 0.032);
    assert.equal(find("per-draw agreement", "zero-shot").goal, 0.48);
    // Attributes at temperature 1, each over the captions that name it.
    assert.equal(find("shape per draw", "test").mean, 0.62);
    assert.equal(find("relation per draw", "test").count, 42);
    assert.equal(find("colour per draw", "zero-shot").count, 64);
    assert.equal(find("relation per draw", "test").goal, 0.85);
    assert.equal(find("size per draw", "zero-shot").goal, undefined);
    // Near misses: rendered scenes only, each kind over its own images, goal 90% (#23).
    const shape = find("reranker: true caption over shape changed", "zero-shot");
    assert.deepEqual([shape.mean, shape.low, shape.count, shape.goal], [0.81, 0.5, 390, 0.9]);
    assert.equal(find("reranker: true caption over objects swapped", "test").mean, 0.9 + 4 / 100);
  } finally {
    await Deno.remove(`${root}${base}`, { recursive: true });
  }
});
