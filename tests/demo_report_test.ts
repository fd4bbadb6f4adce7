/**
 * The main job's report in a real browser: the newest run of `experiments/demo.ts` (its `--quick`
 * run is made first on a fresh clone, and shared with the notebooks that read it) opens in
 * headless Chromium with no console errors, every figure drawn, and a screenshot that is not
 * blank. Without Chromium the browser part is skipped (the set-up installs it).
 */
import assert from "node:assert/strict";
import { findChromium, inspectPage, pngStats, screenshot } from "../lib/display/mod.ts";
import { readRun, requireRun } from "../lib/io/mod.ts";

const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const SECTIONS = [
  "Time per stage",
  "Stage one: the discrete VAE",
  "Stage two: the prior and the reranker",
];

Deno.test({
  name: "the main job's report.html: self-contained, every section, drawn in Chromium",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await requireRun("demo", { repo: root, command: ["experiments/demo.ts"] });
    const run = await readRun(dir);
    for (const key of ["pipeline", "dvaeRun", "priorRun"]) {
      assert.equal(typeof run.config[key], "string", `config.json names its ${key}`);
    }
    assert.deepEqual(
      (run.summary as Record<string, unknown>[]).map((r) => typeof r.seconds),
      ["number", "number"],
      "summary.csv: one row per stage with its seconds",
    );
    const path = `${dir}/report.html`;
    const html = await Deno.readTextFile(path);
    for (const section of SECTIONS) assert.ok(html.includes(section), `report has "${section}"`);
    assert.ok(!/<(script|img|link)[^>]+(src|href)="(https?:)?\/\//.test(html), "no network");
    if (run.config.quick === true) assert.match(html, /This is a --quick run/);
    if (findChromium() === null) {
      console.warn("Chromium not found: the browser half of this test is skipped");
      return;
    }
    const page = await inspectPage(path);
    assert.deepEqual(page.consoleErrors, []);
    const expected = Number(/data-figures-expected="(\d+)"/.exec(page.dom)?.[1]);
    const rendered = Number(/data-figures-rendered="(\d+)"/.exec(page.dom)?.[1]);
    assert.ok(expected >= 3, `the report has its curves (${expected})`);
    assert.equal(rendered, expected, "every figure drew an SVG");
    const png = `${await Deno.makeTempDir()}/report.png`;
    const size = await screenshot(path, png, { width: 1100 });
    const stats = await pngStats(await Deno.readFile(png));
    assert.equal(stats.width, 1100);
    assert.ok(size.height > 2000, `a long page (${size.height} px)`);
    assert.ok(stats.distinctColours > 100 && stats.lumaStdDev > 5, "the screenshot is not blank");
    await Deno.remove(png);
  },
});
