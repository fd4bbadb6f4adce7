import assert from "node:assert/strict";
import { mergeIntervals, resultsMarkdown, runFacts } from "./results.ts";

Deno.test("mergeIntervals writes each interval beside its rate and keeps the other columns", () => {
  const rows = [
    { split: "test", captions: 24, agree: 0.25, agree_low: 0.12, agree_high: 0.45, bits: 1.5 },
    { split: "zero-shot", captions: 24, agree: 0.05, agree_low: 0.01, agree_high: 0.2, bits: 1.9 },
  ];
  assert.deepEqual(mergeIntervals(rows), [
    { split: "test", captions: 24, agree: "25% [12, 45]", bits: 1.5 },
    { split: "zero-shot", captions: 24, agree: "5% [1, 20]", bits: 1.9 },
  ]);
  // The rerank_n_sweep layout: X_mean, X_low, X_high.
  const [sweep] = mergeIntervals([{ n: 8, oracle_mean: 0.5, oracle_low: 0.3, oracle_high: 0.7 }]);
  assert.deepEqual(sweep, { n: 8, oracle: "50% [30, 70]" });
  // Negative control: a _low without its _high, or without a rate, is not an interval.
  const lone = { a_low: 0.1, b: 0.5, b_high: 0.9, c_low: 0.2, c_high: 0.4 };
  assert.deepEqual(mergeIntervals([lone]), [lone]);
});

Deno.test("mergeIntervals: a rate's own caption count is written beside it", () => {
  const [row] = mergeIntervals([
    { captions: 24, size: 0.5, size_low: 0.2, size_high: 0.8, size_captions: 9, x: 0.1 },
  ]);
  assert.deepEqual(row, { captions: 24, size: "50% [20, 80], 9 captions", x: 0.1 });
  const [missing] = mergeIntervals([{ a: 0.5, a_low: "", a_high: 0.9 }]);
  assert.deepEqual(missing, { a: "50%" }, "an unknown end leaves the rate alone");
});

Deno.test("runFacts names the folder, start, commit, dirtiness, backend and load", () => {
  const dir = "data/runs/prior_shapes/20261207T065525Z_full";
  const code = { commit: "0123456789abcdef0123456789abcdef01234567", dirty: false, changed: [] };
  const clean = runFacts({
    dir,
    config: { backend: "tensorflow", code, cores: 2, load_avg_1min: 1.9 },
  });
  assert.equal(
    clean,
    "run `data/runs/prior_shapes/20261207T065525Z_full` · 2026-12-07 06:55 UTC · commit " +
      "0123456789 · backend tensorflow · 2 cores, load 1.9 at start",
  );
  const dirty = runFacts({ dir, config: { code: { ...code, dirty: true, changed: ["a.ts"] } } });
  assert.match(dirty, /\*\*with uncommitted changes\*\* \(a\.ts\)/);
  assert.match(runFacts({ dir, config: {} }), /code version not recorded/);
  assert.match(runFacts({ dir, config: { quick: true } }), /a --quick run/);
});

Deno.test("resultsMarkdown: a section per experiment, the command where no run exists", () => {
  const text = resultsMarkdown([
    {
      name: "prior_shapes",
      question: "Does it draw?",
      command: "deno run -A experiments/prior_shapes.ts",
      run: { dir: "data/runs/prior_shapes/20261207T065525Z_full", config: {} } as never,
      tables: [{
        caption: "Per split:",
        rows: [{ split: "test", a: 0.5, a_low: 0.3, a_high: 0.7 }],
      }],
      notes: ["Departs from the paper: none."],
    },
    { name: "zero_shot", question: "Zero?", command: "deno run -A z.ts", run: null, tables: [] },
  ], { generated: "2026-12-07T07:00:00Z", command: "deno task figures" });
  assert.match(text, /^# Results\n/);
  assert.match(text, /\[prior_shapes\]\(#prior_shapes\) · \[zero_shot\]\(#zero_shot\)/);
  assert.match(text, /## prior_shapes\n\nDoes it draw\?\n\nrun `data\/runs\/prior_shapes\//);
  assert.match(text, /Departs from the paper: none\.\n\nPer split:\n\n\| split \| a \|\n/);
  assert.match(text, /\| test \| 50% \[30, 70\] \|/);
  assert.match(
    text,
    /## zero_shot\n\nZero\?\n\nNo full run on this machine\. Make one with `deno run -A z\.ts`\./,
  );
  assert.ok(
    text.endsWith(
      "|\n\n## zero_shot\n\nZero?\n\nNo full run on this machine. Make one with `deno run -A z.ts`.\n",
    ),
  );
});
