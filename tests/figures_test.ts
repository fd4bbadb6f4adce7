/**
 * `deno task figures` end to end, and the figure builders it shares with the notebooks.
 *
 * The end-to-end test runs experiments/figures.ts as a subprocess into a temporary folder,
 * reading runs from the repository's data/runs (runs made by other tests and notebooks are reused;
 * a missing one is made at its `--quick` budget), and opens every file of FIGURE_FILES: PNG size
 * and content, CSV columns, the markdown table's header, a plot and the source line in each page.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import {
  betaTauCurveFigures,
  betaTauSummaryFigure,
  bytesPerStepFigure,
  findChromium,
  gradScalingFigures,
  groupBy,
  lossCurvesFigure,
  pngIsBlank,
  requireColumns,
  smooth,
} from "../lib/display/mod.ts";
import { table1Rows } from "../lib/powersgd/mod.ts";
import { latestRun, parseCsv, readRun } from "../lib/io/mod.ts";
import { FIGURE_FILES } from "../experiments/figures.ts";
import { RESULTS_FILE } from "../experiments/_results.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("smooth is a trailing mean over at most `window` points", () => {
  assert.deepEqual(smooth([4, 2, 6, 0], 2), [4, 3, 4, 3]);
  assert.deepEqual(smooth([1, 2, 3], 10), [1, 1.5, 2]);
  const long = Array.from({ length: 50 }, (_, i) => (i * 7919) % 13);
  const direct = long.map((_, i) => {
    const part = long.slice(Math.max(0, i - 9), i + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
  smooth(long).forEach((v, i) => assert.ok(Math.abs(v - direct[i]) < 1e-9, `at ${i}`));
});

Deno.test("groupBy keeps first-seen group order and row order", () => {
  const groups = groupBy([{ v: "b", x: 1 }, { v: "a", x: 2 }, { v: "b", x: 3 }], "v");
  assert.deepEqual([...groups.keys()], ["b", "a"]);
  assert.deepEqual(groups.get("b")!.map((r) => r.x), [1, 3]);
});

Deno.test("builders reject rows of another experiment, naming the missing columns", () => {
  assert.throws(() => requireColumns([], ["step"], "metrics"), /got no rows/);
  assert.throws(
    () => lossCurvesFigure([{ step: 0, loss: 1, mode: "fp32" }]),
    /variant; got columns step, loss, mode/,
  );
  assert.throws(() => gradScalingFigures([{ step: 0, mode: "fp32", loss: 1 }]), /grad_underflow/);
  assert.throws(() => betaTauSummaryFigure([{ dataset: "shapes" }]), /beta_final/);
});

Deno.test("loss curves: one smoothed trace per run, the reference drawn black", () => {
  const rows = [0, 1, 2, 3].flatMap((step) =>
    ["mean", "r4"].map((variant) => ({ step, variant, loss: variant === "mean" ? 4 - step : 9 }))
  );
  const fig = lossCurvesFigure(rows, { reference: "mean", shadeFraction: 0.5 });
  assert.deepEqual(fig.data.map((t) => t.name), ["mean", "r4"]);
  assert.deepEqual(fig.data[0].y, [4, 3.5, 3, 2.5]);
  assert.equal((fig.data[0].line as { color?: string }).color, "black");
  assert.equal((fig.layout!.shapes as { x1: number }[])[0].x1, 2); // half of 4 steps
});

Deno.test("bytes per step: only reducers that ran, labelled with their share", () => {
  const fig = bytesPerStepFigure([
    { variant: "mean", status: "ok", bytes_sent_per_step: 2048, bytes_vs_mean: 1 },
    {
      variant: "r32",
      status: "rejected: too large",
      bytes_sent_per_step: null,
      bytes_vs_mean: null,
    },
    { variant: "r2", status: "ok", bytes_sent_per_step: 256, bytes_vs_mean: 0.125 },
  ]);
  assert.deepEqual(fig.data[0].x, ["mean", "r2"]);
  assert.deepEqual(fig.data[0].y, [2, 0.25]);
  assert.deepEqual(fig.data[0].text, ["100.0%", "12.5%"]);
});

Deno.test("gradient scaling: blocks found from the columns, fp32 has no per-block traces", () => {
  const rows = [0, 1].flatMap((step) =>
    ["fp32", "global", "per-block"].map((mode) => ({
      step,
      mode,
      loss: 2,
      grad_underflow_embed: mode === "fp32" ? null : 0.5,
      grad_scale_log2_embed: mode === "fp32" ? null : 13,
      grad_underflow_block0: mode === "fp32" ? null : 0.25,
      grad_scale_log2_block0: mode === "fp32" ? null : 14,
    }))
  );
  const { underflow, scales, loss } = gradScalingFigures(rows);
  assert.deepEqual(underflow.data.map((t) => t.name), [
    "global · embed",
    "global · block0",
    "per-block · embed",
    "per-block · block0",
  ]);
  assert.deepEqual(underflow.data[1].y, [25, 25]); // percent
  assert.deepEqual(scales.data[0].y, [13, 13]);
  assert.equal(loss.data.length, 3);
});

Deno.test("β–τ figures: bars grouped by τ in three panels, one curve figure per dataset", () => {
  const summary = ["fashion", "shapes"].flatMap((dataset) =>
    [0, 6.6].flatMap((beta_final) =>
      ["cosine", "linear"].map((tau_schedule) => ({
        dataset,
        beta_final,
        tau_schedule,
        marginal_kl_weight: 0,
        test_codebook_perplexity: 10 * beta_final,
        test_mse: 0.1,
        test_elb_bits_per_dim: -1,
      }))
    )
  );
  const bars = betaTauSummaryFigure(summary);
  assert.equal(bars.data.length, 2 * 3);
  assert.deepEqual(bars.data[0].x, ["fashion β=0", "fashion β=6.6", "shapes β=0", "shapes β=6.6"]);
  assert.deepEqual(bars.data[0].y, [0, 66, 0, 66]);
  const metrics = summary.flatMap((s) =>
    [0, 1].map((step) => ({
      step,
      ...s,
      marginal_kl_weight_swept: 0,
      codebook_perplexity: 2,
      elb_bits_per_dim: 0.5,
    }))
  );
  const curves = betaTauCurveFigures(metrics);
  assert.equal(curves.length, 2);
  assert.equal(curves[0].data.length, 2 * 4); // perplexity and ELB of 4 runs
});

Deno.test("Table 1 rows: the paper's rates, recomputed from element counts", () => {
  const rows = table1Rows();
  assert.deepEqual(rows.map((r) => r.model), ["2.8B", "5.6B", "12B"]);
  for (const r of rows) {
    assert.ok(Math.abs(r.formula_percent - r.paper_percent) < 1, `${r.model} formula`);
    assert.ok(Math.abs(r.element_counts_percent - r.formula_percent) < 0.5, `${r.model} counts`);
  }
});

Deno.test({
  name: "deno task figures writes every listed file, each readable and naming its source",
  sanitizeResources: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "dalle-lab-figures-" });
    try {
      const result = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "experiments/figures.ts", `--out=${out}`],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(result.stdout);
      const stderr = new TextDecoder().decode(result.stderr);
      assert.equal(
        result.code,
        0,
        `figures.ts failed:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`,
      );
      const chromium = findChromium() !== null;
      if (!chromium) assert.match(stdout, /PNGs of the pages SKIPPED: no Chromium found/);
      for (const { file } of FIGURE_FILES) {
        const path = `${out}/${file}`;
        if (file.endsWith(".png") && file !== "figure11_masks.png" && !chromium) continue;
        const bytes = await Deno.readFile(path);
        assert.ok(bytes.length > 0, `${file} is empty`);
        assert.ok(stdout.includes(path), `${file} is not in the printed list`);
        if (file.endsWith(".png")) {
          const meta = await sharp(Buffer.from(bytes)).metadata();
          assert.equal(meta.format, "png", file);
          assert.ok(meta.width! >= 300 && meta.width! <= 4000, `${file}: width ${meta.width}`);
          assert.ok(meta.height! >= 200 && meta.height! <= 16384, `${file}: height ${meta.height}`);
          assert.ok(!(await pngIsBlank(bytes)), `${file} is blank`);
        } else if (file.endsWith(".csv")) {
          const rows = parseCsv(new TextDecoder().decode(bytes));
          const expected = file.startsWith("table1")
            ? ["model", "d_model", "rank", "paper_percent", "element_counts_percent"]
            : ["attribute", "test_first", "test_reranked", "zero_shot_first", "ratio_first"];
          for (const column of expected) assert.ok(column in rows[0], `${file} lacks ${column}`);
          assert.equal(rows.length, file.startsWith("table1") ? 3 : 6, `${file} rows`);
        } else if (file === RESULTS_FILE) {
          const page = new TextDecoder().decode(bytes);
          assert.match(page, /^# Results\n\nGenerated by `deno task figures` at /, file);
          const sections = [...page.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
          assert.ok(sections.length >= 10, `${file}: ${sections.length} sections`);
          for (const name of ["demo", "prior_shapes", "dvae_beta_tau", "rerank_n_sweep", "bench"]) {
            assert.ok(sections.includes(name), `${file} has no section ${name}`);
          }
          // The runs this suite made are --quick ones, which the page never shows as results.
          const newest = await latestRun("prior_shapes", {
            root: `${root}data/runs`,
            preferFull: true,
            where: (dir) => !dir.includes("_demo_"),
          });
          if (newest !== null && (await readRun(newest)).config.quick === true) {
            assert.match(page, /## prior_shapes\n\n[^\n]+\n\nNo full run on this machine\./);
          }
        } else if (file.endsWith(".md")) {
          const lines = new TextDecoder().decode(bytes).split("\n");
          assert.match(lines[0], /^<!-- .*(run|no run).* -->$/, `${file}: source comment`);
          assert.match(lines[1], /^\| (model|attribute) \|/, `${file}: table header`);
          assert.match(lines[2], /^\|( *:?-+:? *\|)+$/, `${file}: header rule`);
        } else if (file.endsWith(".html")) {
          const html = new TextDecoder().decode(bytes);
          assert.ok(html.includes("Plotly.newPlot"), `${file} draws no plot`);
          if (!file.startsWith("figure11")) {
            assert.match(html, /From (the run \S*data\/runs\/|lib\/)/, `${file}: source line`);
          }
        }
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
