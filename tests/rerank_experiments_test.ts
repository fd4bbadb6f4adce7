/**
 * experiments/rerank_n_sweep.ts and experiments/zero_shot.ts without a trained pipeline: their
 * summaries from hand-made judged draws, drawn by lib/display's builders after a round trip
 * through CSV, which pipeline they choose, and the message a missing pipeline gets.
 */
import assert from "node:assert/strict";
import type { Scene } from "../lib/data/mod.ts";
import { nSweepFigure, zeroShotTable } from "../lib/display/mod.ts";
import { parseCsv } from "../lib/io/mod.ts";
import { writeCsv } from "../lib/log/mod.ts";
import { type JudgedCaption, MANIFEST_FILE, rerankCurve } from "../lib/pipeline/mod.ts";
import { choosePipeline, loadRerankingPipeline } from "../experiments/_judged_splits.ts";
import { initBackend, tf } from "../lib/backend/mod.ts";
import { createReranker, saveReranker } from "../lib/rerank/mod.ts";
import { savePipeline } from "./_bad_pipeline_fixtures.ts";
import { smallTokenizer } from "./_bad_input_fixtures.ts";
import { run as runSweep, scoreAuc } from "../experiments/rerank_n_sweep.ts";
import { run as runZeroShot, zeroShotSummary } from "../experiments/zero_shot.ts";

/** Rows as the experiments write them to summary.csv and lib/io's readRun reads them back. */
async function throughCsv(rows: Record<string, string | number | null>[]) {
  const dir = await Deno.makeTempDir();
  await writeCsv(`${dir}/summary.csv`, rows);
  const back = parseCsv(await Deno.readTextFile(`${dir}/summary.csv`));
  await Deno.remove(dir, { recursive: true });
  return back;
}

const red: Scene = { objects: [{ colour: "red", shape: "circle", size: "small" }], relation: null };
const blue: Scene = {
  objects: [{ colour: "blue", shape: "circle", size: "small" }],
  relation: null,
};
const star: Scene = { objects: [{ colour: "red", shape: "star", size: "small" }], relation: null };

/** Two draws per caption; the reranker prefers the second. */
function judged(caption: string, scenes: Scene[], agrees: boolean[]): JudgedCaption {
  return { caption, scores: [0.1, 0.9], scenes, agrees };
}

Deno.test("zeroShotSummary: first draw vs reranked best, per attribute, and the ratios", async () => {
  const test = [
    judged("a small red circle", [red, red], [true, true]),
    judged("a small red circle", [blue, red], [false, true]),
  ];
  const zeroShot = [
    judged("a small red circle", [star, red], [false, true]),
    judged("a small red circle", [blue, star], [false, false]),
  ];
  const table = zeroShotSummary(test, zeroShot, 2);
  assert.deepEqual(table.map((r) => r.attribute), [
    "scene",
    "colour",
    "shape",
    "size",
    "count",
    "relation",
  ]);
  const scene = table[0];
  assert.deepEqual(
    [scene.test_first, scene.test_reranked, scene.zero_shot_first, scene.zero_shot_reranked],
    [0.5, 1, 0, 0.5],
  );
  assert.equal(scene.ratio_first, 0);
  assert.equal(scene.ratio_reranked, 0.5);
  assert.ok(Number(scene.test_first_low) < 0.5 && Number(scene.test_first_high) > 0.5);
  const colour = table[1];
  assert.deepEqual([colour.zero_shot_first, colour.zero_shot_reranked], [0.5, 1]);
  assert.equal(table[1].test_first_low, null, "intervals only on the scene row");
  assert.ok(Number.isNaN(table[5].test_first as number), "no two-object captions: no relation");
  const { markdown } = zeroShotTable(await throughCsv(table), 2);
  assert.equal(markdown, zeroShotTable(table, 2).markdown, "the same table read back from CSV");
  assert.match(markdown, /\| scene \| 50% \[\d+, \d+\] \| 100% \[\d+, 100\] \|/);
  assert.match(markdown, /\| relation \| — \|/);
});

Deno.test("nSweepFigure: three curves per split from the summary read back", async () => {
  const rows = ["test", "zero-shot"].flatMap((split) =>
    rerankCurve([judged("a small red circle", [blue, red], [false, true])], [1, 2]).map((p) => ({
      split,
      n: p.n,
      captions: 1,
      reranked_mean: p.reranked.mean,
      reranked_low: p.reranked.low,
      reranked_high: p.reranked.high,
      random_mean: p.random.mean,
      random_low: p.random.low,
      random_high: p.random.high,
      oracle_mean: p.oracle.mean,
      oracle_low: p.oracle.low,
      oracle_high: p.oracle.high,
    }))
  );
  const fig = nSweepFigure(await throughCsv(rows), "demo");
  assert.equal(fig.data.length, 6);
  const reranked = fig.data[0] as { x: number[]; y: number[]; error_y: { array: number[] } };
  assert.deepEqual(reranked.x, [1, 2]);
  assert.deepEqual(reranked.y, [0, 100]);
  assert.ok(reranked.error_y.array.every((v) => v >= 0));
  assert.equal(fig.data[3].xaxis, "x2");
  assert.equal(fig.data.filter((t) => t.showlegend).length, 3, "one legend entry per pick");
});

Deno.test("scoreAuc: how often an agreeing draw outscores a disagreeing one, ties half", () => {
  const scenes = [red, red, red, red];
  const of = (scores: number[], agrees: boolean[]) =>
    scoreAuc({ caption: "a small red circle", scores, scenes, agrees });
  assert.equal(of([0.9, 0.1, 0.5, 0.2], [true, false, false, false]), 1);
  assert.equal(of([0.1, 0.9, 0.5, 0.2], [true, false, false, false]), 0);
  assert.equal(of([0.5, 0.5, 0.9, 0.1], [true, false, true, false]), 0.875);
  assert.ok(Number.isNaN(of([0.1, 0.2, 0.3, 0.4], [true, true, true, true])));
});

Deno.test("choosePipeline: the flag, else full, else the reference, else quick, else the demo run's", async () => {
  const repo = await Deno.makeTempDir();
  const choose = (asked: string, reference = `${repo}/no_reference`) =>
    choosePipeline(asked, "test", repo, reference);
  const save = async (dir: string) => {
    await Deno.mkdir(`${repo}/${dir}`, { recursive: true });
    await Deno.writeTextFile(`${repo}/${dir}/${MANIFEST_FILE}`, "{}");
  };
  const demo = `${repo}/data/runs/demo/20261202T000000Z_quick`;
  await Deno.mkdir(demo, { recursive: true });
  await Deno.writeTextFile(`${demo}/config.json`, JSON.stringify({ pipeline: "elsewhere/p" }));
  assert.deepEqual(await choose(""), {
    dir: `${repo}/elsewhere/p`,
    source: `demo run ${demo}`,
  });
  await save("data/cache/pipeline_shapes_quick");
  assert.equal((await choose("")).source, "quick");
  await save("shipped");
  assert.deepEqual(await choose("", `${repo}/shipped`), {
    dir: `${repo}/shipped`,
    source: "reference",
  });
  await save("data/cache/pipeline_shapes");
  assert.deepEqual(await choose(""), {
    dir: `${repo}/data/cache/pipeline_shapes`,
    source: "full",
  });
  assert.equal((await choose("", `${repo}/shipped`)).source, "full");
  assert.deepEqual(await choose("mine"), { dir: "mine", source: "flag" });
  await Deno.remove(`${repo}/data/cache`, { recursive: true });
  await Deno.writeTextFile(`${demo}/config.json`, "{}");
  await assert.rejects(() => choose(""), /names no pipeline/);
  await Deno.remove(repo, { recursive: true });
});

Deno.test("a missing pipeline is met with the commands that build it", async () => {
  const pipeline = await Deno.makeTempDir();
  await assert.rejects(() => runSweep({ pipeline, write: false }), /experiments\/demo\.ts --quick/);
  await assert.rejects(() => runZeroShot({ pipeline, write: false }), /prior_shapes\.ts/);
  await assert.rejects(() => runSweep({ pipeline, ns: [128] }), /every N must be/);
  await Deno.remove(pipeline);
});

Deno.test("--reranker swaps the pipeline's reranker for saved weights that read its tokenizer", async () => {
  await initBackend();
  const dir = await Deno.makeTempDir();
  try {
    await savePipeline(`${dir}/p`);
    const tokenizer = smallTokenizer();
    const fits = createReranker({
      textLen: 8,
      textVocab: tokenizer.vocabSize,
      padId: tokenizer.padId,
    });
    await saveReranker(`${dir}/fits.safetensors`, fits);
    fits.dispose();
    const before = tf.memory().numTensors;
    const pipeline = await loadRerankingPipeline(`${dir}/p`, "test", `${dir}/fits.safetensors`);
    assert.equal(pipeline.reranker?.config.textVocab, tokenizer.vocabSize);
    pipeline.dispose();
    assert.equal(tf.memory().numTensors, before, "the swapped pipeline frees everything");
    // Negative control: a reranker of another tokenizer (another pad id) is refused, nothing leaks.
    const other = createReranker({ textLen: 8, textVocab: tokenizer.vocabSize, padId: 0 });
    await saveReranker(`${dir}/other.safetensors`, other);
    other.dispose();
    await assert.rejects(
      () => loadRerankingPipeline(`${dir}/p`, "test", `${dir}/other.safetensors`),
      /the reranker \S+other\.safetensors pads with id 0, the pipeline's tokenizer with \d+/,
    );
    assert.equal(tf.memory().numTensors, before, "a refused swap frees what it loaded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("near-miss rows: a row per split, kind of image and kind; draws are captioned as the judge reads them, and only captions with kept draws count", async () => {
  await initBackend();
  const { makeShapes } = await import("../lib/data/mod.ts");
  const { drawNearMissRows, nearMissRows } = await import("../experiments/_near_miss.ts");
  const set = await makeShapes({ count: 24, seed: 1, split: "test", cache: false });
  const { BpeTokenizer } = await import("../lib/tokenizer/mod.ts");
  const tokenizer = BpeTokenizer.train(set.captions, { vocabSize: 300 });
  const model = createReranker({
    textLen: 64,
    textVocab: tokenizer.vocabSize,
    imageChannels: [8, 8, 8],
    embedDim: 8,
    textWidth: 8,
    textHeads: 2,
  });
  // A codec that gives the images back as they were (through bytes, as the real one does).
  const identity = {
    encode: (x: tf.Tensor4D) => tf.clone(x) as unknown as tf.Tensor3D,
    decode: (t: tf.Tensor3D) => tf.clone(t) as unknown as tf.Tensor4D,
  };
  const before = tf.memory().numTensors;
  const rows = nearMissRows(model, tokenizer, [{ split: "test", set, count: 20 }], {
    seed: 0,
    codec: identity,
  });
  assert.deepEqual(
    [...new Set(rows.map((r) => `${r.split}/${r.images_of}`))],
    ["test/rendered", "test/through the dVAE"],
  );
  assert.equal(rows.length, 10);
  // An identity codec leaves the images as they were: the same scores, the same rows.
  const half = rows.length / 2;
  for (let i = 0; i < half; i++) assert.equal(rows[i].correct, rows[i + half].correct);
  assert.ok(rows.every((r) => r.images + r.without === 20));

  const images = tf.tidy(() =>
    tf.tensor4d(Float32Array.from(set.images.data.subarray(0, 4 * 3072), (v) => v / 255), [
      4,
      32,
      32,
      3,
    ])
  );
  const kept: JudgedCaption = {
    caption: set.captions[0],
    scores: [0.4, 0.1, 0.3, 0.2],
    scenes: set.attributes.slice(0, 4),
    agrees: [true, false, false, false],
    images,
    order: [0, 2, 3, 1],
  };
  const draws = drawNearMissRows(model, tokenizer, "test", [kept, judged("x", [red], [false])], 0);
  assert.equal(draws.length, 5);
  assert.ok(draws.every((r) => r.images_of === "draws, as the judge reads them"));
  // Every size is named, so each of the 4 draws has a size near miss; colour and shape always.
  for (const kind of ["colour", "shape", "size"]) {
    assert.equal(draws.find((r) => r.kind === kind)?.images, 4, kind);
  }
  images.dispose();
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});
