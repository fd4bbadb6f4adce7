/**
 * The reranking builders over summary rows as they come back from CSV: traces per split and pick,
 * the table at one N, the zero-shot rows and markdown, and rows that are not a summary refused.
 */
import assert from "node:assert/strict";
import { parseCsv } from "../io/mod.ts";
import {
  nearMissTable,
  nSweepFigure,
  nSweepTable,
  zeroShotFigure,
  zeroShotTable,
} from "./rerank_figures.ts";

/** A sweep summary in the column order rerank_n_sweep writes, read back as readRun reads it. */
const SWEEP_CSV = [
  "split,n,captions,reranked_mean,reranked_low,reranked_high,random_mean,random_low," +
  "random_high,oracle_mean,oracle_low,oracle_high",
  // Rows out of N order: the curve must still run along N.
  "train,4,10,0.4,0.2,0.6,0.1,0.05,0.2,0.5,0.3,0.7",
  "train,1,10,0.1,0.02,0.4,0.1,0.02,0.4,0.1,0.02,0.4",
  "test,1,10,0.2,0.05,0.5,0.2,0.05,0.5,0.2,0.05,0.5",
  "test,4,10,0.3,0.1,0.6,0.15,0.05,0.3,0.6,0.3,0.8",
  "zero-shot,1,10,0,0,0.28,0,0,0.28,0,0,0.28",
  "zero-shot,4,10,0.1,0.02,0.4,0.05,0,0.2,0.3,0.1,0.6",
].join("\n");

const ZERO_SHOT_CSV = [
  "attribute,test_first,test_reranked,zero_shot_first,zero_shot_reranked,ratio_first," +
  "ratio_reranked,test_first_low,test_first_high,test_reranked_low,test_reranked_high," +
  "zero_shot_first_low,zero_shot_first_high,zero_shot_reranked_low,zero_shot_reranked_high",
  "scene,0.125,0.2,0.025,0.15,0.2,0.75,0.05,0.26,0.1,0.35,0,0.13,0.07,0.29",
  "colour,0.76,0.91,0.72,0.93,0.947,1.022,,,,,,,,",
  "shape,0.41,0.52,0.32,0.38,0.78,0.73,,,,,,,,",
  "relation,NaN,NaN,NaN,NaN,NaN,NaN,,,,,,,,",
].join("\n");

type Trace = {
  name: string;
  x: number[];
  y: number[];
  xaxis: string;
  showlegend: boolean;
  error_y: { array: number[]; arrayminus: number[] };
};

Deno.test("nSweepFigure: three traces per split the rows name, along N, in percent", () => {
  const fig = nSweepFigure(parseCsv(SWEEP_CSV), "sweep");
  const traces = fig.data as unknown as Trace[];
  assert.equal(traces.length, 3 * 3);
  assert.deepEqual(traces.map((t) => t.xaxis), [
    ...["x", "x", "x"],
    ...["x2", "x2", "x2"],
    ...["x3", "x3", "x3"],
  ]);
  const trainReranked = traces[0];
  assert.deepEqual(trainReranked.x, [1, 4]);
  assert.deepEqual(trainReranked.y, [10, 40]);
  assert.deepEqual(trainReranked.error_y.arrayminus.map((v) => Math.round(v)), [8, 20]);
  assert.deepEqual(trainReranked.error_y.array.map((v) => Math.round(v)), [30, 20]);
  const testOracle = traces[5];
  assert.deepEqual(testOracle.y.map(Math.round), [20, 60]);
  assert.equal(traces.filter((t) => t.showlegend).length, 3, "one legend entry per pick");
  const annotations = fig.layout?.annotations as { text: string }[];
  assert.deepEqual(annotations.map((a) => a.text), [
    "<b>train</b>",
    "<b>test</b>",
    "<b>zero-shot</b>",
  ]);
  assert.equal((fig.layout?.title as { text: string }).text, "sweep");
});

Deno.test("nSweepFigure: one split, one panel; rows of another experiment are refused", () => {
  const rows = parseCsv(SWEEP_CSV).filter((r) => r.split === "test");
  assert.equal(nSweepFigure(rows).data.length, 3);
  assert.throws(() => nSweepFigure(parseCsv(ZERO_SHOT_CSV)), /rerank_n_sweep.*reranked_mean/);
  assert.throws(() => nSweepFigure([]), /got no rows/);
});

Deno.test("nSweepTable: one row per split at the N asked for, AUC from the metrics", () => {
  const metrics = [
    { split: "test", score_auc: 0.7 },
    { split: "test", score_auc: 0.9 },
    { split: "test", score_auc: NaN },
    { split: "train", score_auc: 0.6 },
  ];
  const { n, rows } = nSweepTable(parseCsv(SWEEP_CSV), { metrics });
  assert.equal(n, 4, "32 is absent: the largest N");
  assert.deepEqual(rows.map((r) => r.split), ["train", "test", "zero-shot"]);
  const test = rows[1];
  assert.equal(test.reranked, "30% [10, 60]");
  assert.equal(test["reranked ÷ oracle"], "0.50");
  assert.equal(test["score AUC"], "0.80");
  assert.equal(rows[2]["score AUC"], "—", "no AUC for a split without metrics");
  assert.equal(nSweepTable(parseCsv(SWEEP_CSV), { n: 1 }).rows[0].reranked, "10% [2, 40]");
  assert.throws(() => nSweepTable(parseCsv(SWEEP_CSV), { n: 8 }), RangeError);
});

Deno.test("zeroShotTable: the header and one markdown line per attribute", () => {
  const { rows, markdown } = zeroShotTable(parseCsv(ZERO_SHOT_CSV), 32);
  const lines = markdown.split("\n");
  assert.equal(lines.length, 2 + 4);
  assert.equal(
    lines[0],
    "| attribute | test, first draw | test, best of 32 | zero-shot, first draw | " +
      "zero-shot, best of 32 | zero-shot ÷ test, first | zero-shot ÷ test, best of 32 |",
  );
  assert.equal(lines[1].split("---").length - 1, 7, "a rule under each of the 7 columns");
  assert.deepEqual(lines.slice(2).map((l) => l.split(" | ")[0]), [
    "| scene",
    "| colour",
    "| shape",
    "| relation",
  ]);
  assert.equal(
    lines[2],
    "| scene | 13% [5, 26] | 20% [10, 35] | 3% [0, 13] | 15% [7, 29] | 0.20 | 0.75 |",
  );
  assert.equal(lines[3], "| colour | 76% | 91% | 72% | 93% | 0.95 | 1.02 |");
  assert.equal(lines[5], "| relation | — | — | — | — | — | — |");
  assert.equal(rows.length, 4);
  assert.equal(rows[0]["zero-shot, best of 32"], "15% [7, 29]");
  assert.throws(() => zeroShotTable(parseCsv(SWEEP_CSV), 32), /zero_shot.*attribute/);
});

Deno.test("zeroShotFigure: one bar trace per column, a gap where an attribute has no cases", () => {
  const fig = zeroShotFigure(parseCsv(ZERO_SHOT_CSV), 8);
  const traces = fig.data as unknown as { name: string; x: string[]; y: (number | null)[] }[];
  assert.deepEqual(traces.map((t) => t.name), [
    "test, first draw",
    "test, best of 8",
    "zero-shot, first draw",
    "zero-shot, best of 8",
  ]);
  assert.deepEqual(traces[0].x, ["scene", "colour", "shape", "relation"]);
  assert.deepEqual(traces[3].y.map((v) => (v === null ? null : Math.round(v))), [15, 93, 38, null]);
});

Deno.test("nearMissTable: a row per kind, a column per split, — where a split has no such near miss", () => {
  const csv = [
    "split,kind,images,without,correct,ties,accuracy,ci_low,ci_high,chance",
    "test,colour,2000,0,1800,0,0.9,0.886,0.912,0.5",
    "test,relation,1200,800,576,0,0.48,0.452,0.508,0.5",
    "zero-shot,colour,2000,0,1700,0,0.85,0.834,0.865,0.5",
    "zero-shot,relation,0,2000,0,0,NaN,NaN,NaN,0.5",
  ].join("\n");
  const { rows, markdown } = nearMissTable(parseCsv(csv));
  assert.deepEqual(rows, [
    {
      "near miss": "colour",
      test: "90% [89, 91], 2000 images",
      "zero-shot": "85% [83, 87], 2000 images",
    },
    { "near miss": "relation", test: "48% [45, 51], 1200 images", "zero-shot": "—" },
  ]);
  const lines = markdown.split("\n");
  assert.equal(lines[0], "| near miss | test | zero-shot |");
  assert.equal(lines[3], "| relation | 48% [45, 51], 1200 images | — |");
  assert.throws(() => nearMissTable(parseCsv(ZERO_SHOT_CSV)), /near_miss\.csv.*split/);
});

Deno.test("nearMissTable: rows of other images (through the dVAE, draws) get their own columns", () => {
  const csv = [
    "split,images_of,kind,images,without,correct,ties,accuracy,ci_low,ci_high,chance",
    "test,rendered,shape,400,0,380,0,0.95,0.925,0.967,0.5",
    "test,through the dVAE,shape,400,0,360,0,0.9,0.867,0.925,0.5",
    'test,"draws, as the judge reads them",shape,128,0,90,0,0.703,0.62,0.775,0.5',
  ].join("\n");
  const { rows } = nearMissTable(parseCsv(csv));
  assert.deepEqual(Object.keys(rows[0]), [
    "near miss",
    "test",
    "test, through the dVAE",
    "test, draws, as the judge reads them",
  ]);
  assert.equal(rows[0]["test, through the dVAE"], "90% [87, 93], 400 images");
});
