import assert from "node:assert/strict";
import {
  agreementOf,
  captionsOf,
  clearlyAbove,
  formatAgreement,
  formatInterval,
  formatPercent,
  judgeTable,
  measuredFigureRows,
  nSweepTable,
  rerankingStatement,
} from "./mod.ts";
import { interval95 } from "../io/mod.ts";

/** A summary row as prior_shapes writes it, from per-caption values (intervals by interval95). */
function summaryRow(split: string, perDraw: number[], reranked: number[]) {
  const columns = (name: string, values: number[]) => {
    const { mean, low, high } = interval95(values);
    return { [name]: mean, [`${name}_low`]: low, [`${name}_high`]: high };
  };
  return {
    split,
    temperature: 1,
    captions: perDraw.length,
    draws_per_caption: 8,
    ...columns("judge_agreement", perDraw),
    ...columns("reranked_agreement", reranked),
  };
}

/** `count` captions of which a fraction `rate` is 1, the rest 0. */
const flags = (count: number, rate: number) =>
  Array.from({ length: count }, (_, i) => (i < Math.round(rate * count) ? 1 : 0));
/** `count` per-caption rates of draws (eighths) around `rate`. */
const eighths = (count: number, rate: number) =>
  Array.from({ length: count }, (_, i) => Math.max(0, Math.round(8 * rate) + (i % 3) - 1) / 8);

Deno.test("formatAgreement: percent, interval and caption count in one format", () => {
  const a = interval95(flags(16, 0.25));
  const text = formatAgreement(a, 16);
  assert.equal(
    text,
    `${formatPercent(a.mean)} ${formatInterval(a.low, a.high)}, 16 captions`,
  );
  assert.match(text, /^25% \[\d+, \d+\], 16 captions$/);
  assert.equal(formatAgreement(a, 1, "images").endsWith(", 1 image"), true);
  assert.equal(formatAgreement({ mean: a.mean, low: NaN, high: NaN }), "25%");
  assert.equal(formatAgreement({ mean: NaN, low: 0, high: 1 }, 4), "—");
  assert.equal(formatInterval(undefined, 0.4), "");
});

Deno.test("agreementOf and captionsOf read a summary row's columns (old rows: no interval)", () => {
  const row = { ...summaryRow("test", eighths(12, 0.2), flags(12, 0.4)), relation_captions: 5 };
  const a = agreementOf(row, "judge_agreement");
  assert.deepEqual(a, interval95(eighths(12, 0.2)));
  assert.equal(captionsOf(row, "judge_agreement"), 12);
  assert.equal(captionsOf({ ...row, relation_agreement_captions: 5 }, "relation_agreement"), 5);
  const old = agreementOf({ judge_agreement: 0.3 }, "judge_agreement");
  assert.equal(old.mean, 0.3);
  assert.ok(Number.isNaN(old.low) && Number.isNaN(old.high));
});

Deno.test("judgeTable: each rate with its interval, the caption count, a smaller count named", () => {
  const row = {
    ...summaryRow("zero-shot", eighths(16, 0.1), flags(16, 0.3)),
    relation_agreement: 0.5,
    relation_agreement_low: 0.2,
    relation_agreement_high: 0.8,
    relation_agreement_captions: 6,
    image_bits_per_token: 1.8,
  };
  const [cells] = judgeTable([row]);
  assert.equal(cells.captions, 16);
  assert.equal(cells["per draw %"], formatAgreement(agreementOf(row, "judge_agreement")));
  assert.equal(cells["reranked best %"], formatAgreement(agreementOf(row, "reranked_agreement")));
  assert.equal(cells["relation %"], "50% [20, 80], 6 captions");
  assert.equal(cells["colour %"], "—", "a rate the row lacks is missing, not 0");
  assert.equal(cells["bits/token"], 1.8);
});

Deno.test("clearlyAbove: only non-overlapping, known intervals", () => {
  const low = interval95(flags(40, 0.1)), high = interval95(flags(40, 0.7));
  assert.equal(clearlyAbove(high, low), true);
  assert.equal(clearlyAbove(low, high), false);
  assert.equal(clearlyAbove(interval95(flags(40, 0.2)), low), false, "overlapping");
  assert.equal(clearlyAbove({ mean: 0.9, low: NaN, high: NaN }, low), false, "unknown interval");
});

Deno.test("rerankingStatement: claims a rise only where the intervals separate", () => {
  const clear = summaryRow("test", eighths(40, 0.1), flags(40, 0.7));
  assert.ok(
    clearlyAbove(agreementOf(clear, "reranked_agreement"), agreementOf(clear, "judge_agreement")),
  );
  const all = rerankingStatement([clear, { ...clear, split: "train" }]);
  assert.match(all, /^Reranking raises agreement on every split judged \(test and train\)/);
  const cooler = { ...clear, temperature: 0.5 };
  assert.match(rerankingStatement([clear, cooler]), /\(test, t = 1; test, t = 0\.5\)/);
  assert.match(all, /non-overlapping 95% intervals/);

  // The negative control: reranked is higher, but with 16 captions the intervals overlap.
  const overlapping = summaryRow("zero-shot", eighths(16, 0.1), flags(16, 0.25));
  const draw = agreementOf(overlapping, "judge_agreement");
  const best = agreementOf(overlapping, "reranked_agreement");
  assert.ok(best.mean > draw.mean && best.low <= draw.high, "the control's premise");
  const open = rerankingStatement([overlapping]);
  assert.doesNotMatch(open, /raises|lowers|less often/);
  assert.match(open, /zero-shot .*overlap \(16 captions\): this run does not show/);

  const mixed = rerankingStatement([clear, overlapping]);
  assert.match(mixed, /^Reranking raises agreement on test \(/);
  assert.doesNotMatch(mixed, /every split/);
  assert.match(mixed, /On zero-shot the intervals/);

  const worse = summaryRow("train", eighths(40, 0.7), flags(40, 0.1));
  assert.match(rerankingStatement([worse]), /agrees less often than a single draw on train/);
  assert.equal(rerankingStatement([{ ...clear, reranked_agreement: NaN }]), "", "no reranker");
});

Deno.test("nSweepTable formats its reranked cell with the same formatter", () => {
  const r = {
    split: "test",
    n: 32,
    captions: 40,
    reranked_mean: 0.3,
    reranked_low: 0.18,
    reranked_high: 0.45,
    random_mean: 0.11,
    oracle_mean: 0.65,
  };
  const { rows } = nSweepTable([r]);
  assert.equal(rows[0].reranked, formatAgreement({ mean: 0.3, low: 0.18, high: 0.45 }));
});

Deno.test("measuredFigureRows: each figure's rate with its interval, count and goal", () => {
  const rows = measuredFigureRows([
    {
      figure: "per draw",
      split: "test",
      mean: 0.775,
      low: 0.742,
      high: 0.809,
      count: 64,
      goal: 0.6,
    },
    { figure: "size", split: "zero-shot", mean: 0.85, low: 0.81, high: 0.89, count: 48 },
  ]);
  assert.deepEqual(rows[0], {
    figure: "per draw",
    split: "test",
    measured: "78% [74, 81]",
    count: 64,
    goal: "≥ 60%",
  });
  assert.equal(rows[1].goal, "", "no goal, no claim");
  assert.equal(rows[1].count, 48);
});
