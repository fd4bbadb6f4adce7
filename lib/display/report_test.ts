import assert from "node:assert/strict";
import sharp from "sharp";
import { findChromium, inspectPage, pngIsBlank, pngStats, Report, screenshot } from "./mod.ts";

async function checkerPng(side: number): Promise<Uint8Array> {
  const pixels = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      pixels.fill((x + y) % 2 ? 255 : 0, 3 * (y * side + x), 3 * (y * side + x) + 3);
    }
  }
  return await sharp(pixels, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
}

async function sampleReport(): Promise<Report> {
  return new Report("Main job <quick>", { subtitle: "run `data/runs/demo/x`" })
    .facts({ backend: "tensorflow", "load (1 min)": 1.23456, workers: 2 })
    .section("dVAE", "Trained briefly.\n\nSecond paragraph with `code` & <b>markup</b>.")
    .plot(
      { data: [{ y: [3, 2, 1.5], type: "scatter" }], layout: { title: { text: "ELB" } } },
      "ELB",
    )
    .image(await checkerPng(8), "reconstructions", { scale: 4 })
    .warning("the judge rejects the dVAE's reconstructions (agreement 0.12 < 0.5)")
    .section("Prior")
    .plot({ data: [{ x: ["a", "b"], y: [1, 2], type: "bar" }] }, "loss")
    .table([{ split: "test", agreement: 0.30512 }, { split: "zero-shot", agreement: NaN }], {
      caption: "judge agreement",
    });
}

Deno.test("Report: one page with its blocks, escaped, a contents list and warnings at the top", async () => {
  const report = await sampleReport();
  const html = report.toHtml();
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.match(html, /<title>Main job &lt;quick&gt;<\/title>/);
  assert.match(
    html,
    /<p>Second paragraph with <code>code<\/code> &amp; &lt;b&gt;markup&lt;\/b&gt;\.<\/p>/,
  );
  assert.match(html, /<nav>.*<a href="#section-1">dVAE<\/a>.*<a href="#section-2">Prior<\/a>/s);
  assert.match(html, /<dt>load \(1 min\)<\/dt><dd>1\.235<\/dd>/);
  // The warning is both at the top (before the contents) and in place (after the first plot).
  const top = html.indexOf('class="warning top"');
  const inPlace = html.indexOf('id="warning-1"');
  assert.ok(top > 0 && top < html.indexOf("<nav>"), "warning box above the contents");
  assert.ok(inPlace > html.indexOf('class="report-plot"'), "warning also where it was added");
  assert.deepEqual(report.warnings, [
    "the judge rejects the dVAE's reconstructions (agreement 0.12 < 0.5)",
  ]);
  assert.match(html, /data-figures-expected="2"/);
  assert.match(
    html,
    /<img alt="reconstructions" width="32" height="32"[^>]*src="data:image\/png;base64,/,
  );
  assert.match(html, /<td style="text-align:right">0\.3051<\/td>/);
});

Deno.test("Report: self-contained (no network sources), plotly embedded once, none without plots", async () => {
  const html = (await sampleReport()).toHtml();
  const tags = [...html.matchAll(/<(script|img|link|iframe)\b[^>]*>/gi)].map((m) => m[0]);
  for (const tag of tags) {
    assert.doesNotMatch(tag, /\b(src|href)\s*=\s*["']?(https?:)?\/\//i, `network source: ${tag}`);
  }
  const bundles = html.split("<script>").filter((s) => s.length > 1_000_000).length;
  assert.equal(bundles, 1, "plotly's bundle appears exactly once");
  const noPlots = new Report("t").text("x").toHtml();
  assert.ok(noPlots.length < 20_000, `a report without plots carries no bundle: ${noPlots.length}`);
  assert.match(noPlots, /data-figures-expected="0"/);
});

Deno.test("Report.image rejects bytes that are not a PNG; write() writes the page", async () => {
  assert.throws(() => new Report("t").image(new Uint8Array([1, 2, 3])), TypeError);
  const png = await checkerPng(2);
  assert.throws(() => new Report("t").image(png, "x", { scale: 0 }), RangeError);
  const dir = await Deno.makeTempDir();
  try {
    const report = new Report("written").text("hello");
    await report.write(`${dir}/report.html`);
    assert.equal(await Deno.readTextFile(`${dir}/report.html`), report.toHtml());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "Report in headless Chromium: no console errors, every figure rendered, a non-blank screenshot",
  ignore: findChromium() === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const report = await sampleReport();
      await report.write(`${dir}/report.html`);
      const { consoleErrors, dom } = await inspectPage(`${dir}/report.html`);
      assert.deepEqual(consoleErrors, []);
      const body = dom.match(/<body[^>]*>/)![0];
      assert.match(body, /data-figures-expected="2"/);
      assert.match(body, /data-figures-rendered="2"/, body);
      assert.match(body, /data-errors="0"/);
      assert.match(body, /data-report-ready="true"/);

      // A fixed height spares the measuring pass (full-page height is chromium_test's concern).
      const size = await screenshot(`${dir}/report.html`, `${dir}/report.png`, {
        width: 1000,
        height: 1400,
      });
      assert.deepEqual(size, { width: 1000, height: 1400 });
      const png = await Deno.readFile(`${dir}/report.png`);
      const stats = await pngStats(png);
      assert.deepEqual([stats.width, stats.height], [1000, 1400]);
      assert.equal(await pngIsBlank(png), false);
      assert.ok(stats.distinctColours > 50 && stats.lumaStdDev > 5, JSON.stringify(stats));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Report in headless Chromium: a figure that cannot draw is caught by the browser test",
  ignore: findChromium() === null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // The negative control: the first figure's draw call throws, the second draws.
      const report = new Report("broken").plot({ data: [{ y: [1, 2] }] })
        .plot({ data: [{ y: [2, 1] }] });
      const html = report.toHtml();
      const draw = '=>Plotly.newPlot("dalle-lab-plot-';
      assert.ok(html.includes(draw), "the figure scripts' draw call, as lib/display writes it");
      await Deno.writeTextFile(
        `${dir}/report.html`,
        html.replace(draw, `=>(()=>{throw new Error("plot exploded")})("`),
      );
      const { consoleErrors, dom } = await inspectPage(`${dir}/report.html`);
      const body = dom.match(/<body[^>]*>/)![0];
      assert.match(body, /data-figures-rendered="1"/);
      assert.doesNotMatch(body, /data-report-ready/);
      assert.doesNotMatch(body, /data-errors="0"/);
      assert.ok(consoleErrors.some((e) => /plot exploded/.test(e)), JSON.stringify(consoleErrors));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
