import assert from "node:assert/strict";
import { Rng } from "../io/mod.ts";
import { escapeHtml, formatCell, htmlTable, markdownTable, showTable, textTable } from "./mod.ts";

Deno.test("formatCell: significant digits, exact integers, missing values, infinities", () => {
  assert.equal(formatCell(3.14159), "3.142");
  assert.equal(formatCell(3.14159, 2), "3.1");
  assert.equal(formatCell(0.5), "0.5");
  assert.equal(formatCell(-0.0123456), "-0.01235");
  assert.equal(formatCell(123456.78), "123457");
  assert.equal(formatCell(1234567), "1234567");
  assert.equal(formatCell(0.00001234567), "1.235e-5");
  assert.equal(formatCell(2e-7), "2e-7");
  for (const missing of [null, undefined, NaN]) assert.equal(formatCell(missing), "—");
  assert.equal(formatCell(Infinity), "∞");
  assert.equal(formatCell(-Infinity), "−∞");
  assert.equal(formatCell(true), "true");
  assert.equal(formatCell({ a: [1, 2] }), '{"a":[1,2]}');
});

Deno.test("htmlTable: escapes headers, cells and caption; right-aligns numeric columns", () => {
  const html = htmlTable(
    [
      { "<b>name</b>": `a & "b"`, score: 0.123456, note: null },
      { "<b>name</b>": "<script>x</script>", score: NaN, note: "it's" },
    ],
    { caption: "1 < 2", digits: 3 },
  );
  assert.doesNotMatch(html, /<b>|<script>/);
  assert.match(html, /<th>&lt;b&gt;name&lt;\/b&gt;<\/th>/);
  assert.match(html, /<td>a &amp; &quot;b&quot;<\/td>/);
  assert.match(html, /<td>&lt;script&gt;x&lt;\/script&gt;<\/td>/);
  assert.match(html, /<caption[^>]*>1 &lt; 2<\/caption>/);
  assert.match(html, /<th style="text-align:right">score<\/th>/);
  assert.match(html, /<td style="text-align:right">0\.123<\/td>/);
  assert.match(html, /<td style="text-align:right">—<\/td>/, "NaN shows as a dash");
  assert.match(html, /<td>—<\/td><\/tr>/, "null in a text column shows as a dash");
  assert.match(html, /<td>it&#39;s<\/td>/);
  assert.equal(escapeHtml(`<&>"'`), "&lt;&amp;&gt;&quot;&#39;");
});

Deno.test("htmlTable / textTable: columns in first-seen order over all rows, or as chosen", () => {
  const rows = [{ a: 1 }, { b: 2, a: 3 }];
  const headers = (html: string) => [...html.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
  assert.deepEqual(headers(htmlTable(rows)), ["a", "b"]);
  assert.deepEqual(headers(htmlTable(rows, { columns: ["b"] })), ["b"]);
  assert.equal(textTable(rows, { columns: ["b", "a"] }).split("\n")[0], "b  a");
  assert.match(htmlTable([], { columns: ["x"] }), /\(no rows\)/);
  assert.match(textTable([]), /\(no rows\)/);
});

Deno.test("textTable: aligned columns, every value shown when the table fits", () => {
  const text = textTable([{ stage: "dvae", seconds: 61.25 }, { stage: "prior", seconds: 120 }]);
  assert.deepEqual(text.split("\n"), [
    "stage  seconds",
    "-----  -------",
    "dvae     61.25",
    "prior      120",
  ]);
});

Deno.test("textTable: never wider than maxWidth; shortens headers keeping their ends, then drops columns with a note", () => {
  const rng = Rng.stream("test/text-table", 7);
  for (let trial = 0; trial < 40; trial++) {
    const nColumns = 1 + Math.floor(rng.next() * 20);
    const columns = Array.from(
      { length: nColumns },
      (_, j) => `column_${j}_${"x".repeat(Math.floor(rng.next() * 30))}_bits`,
    );
    const rows = Array.from({ length: 3 }, () =>
      Object.fromEntries(columns.map((c, j) => [
        c,
        j % 3 === 0 ? "word ".repeat(Math.floor(rng.next() * 20)) : rng.next() * 10 ** (j % 9 - 4),
      ])));
    const maxWidth = 30 + Math.floor(rng.next() * 110);
    const text = textTable(rows, { maxWidth, caption: "c".repeat(200) });
    const lines = text.split("\n");
    for (const line of lines) {
      assert.ok(
        Array.from(line).length <= maxWidth,
        `trial ${trial}: ${line.length} > ${maxWidth}`,
      );
    }
    const header = lines[1];
    const shown = header.split(/ {2,}/).length;
    if (shown < nColumns) {
      assert.match(
        lines.at(-1)!,
        new RegExp(`^\\(\\+${nColumns - shown} columns not shown: column_${shown}_`),
      );
    } else {
      assert.equal(lines.length, 2 + 1 + rows.length, "no note when every column is shown");
    }
  }
  const cut = textTable([{ reranked_agreement_percent: 30.5, oracle_agreement_percent: 65.25 }], {
    maxWidth: 30,
  }).split("\n")[0];
  assert.match(cut, /^rerank\S*…\S*ercent +oracle\S*…\S*ercent$/, "start and unit kept");
  assert.ok(cut.length <= 30);
  assert.throws(() => textTable([{ a: 1 }], { maxWidth: 5 }), RangeError);
});

Deno.test("showTable: outside a notebook prints the text table", async () => {
  const printed: unknown[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(...args);
  try {
    await showTable([{ beta: 1, elb: 0.123456 }], { caption: "β sweep" });
  } finally {
    console.log = log;
  }
  assert.deepEqual(printed, ["β sweep\nbeta     elb\n----  ------\n   1  0.1235"]);
});

Deno.test("markdownTable: formatted cells, numeric columns right-aligned, pipes escaped", () => {
  const md = markdownTable([
    { model: "2.8B", rank: 512, rate: 0.833333, note: "a | b\nc" },
    { model: "12B", rank: null, rate: 0.85891, note: "" },
  ]);
  assert.deepEqual(md.split("\n"), [
    "| model | rank | rate | note |",
    "| --- | ---: | ---: | --- |",
    "| 2.8B | 512 | 0.8333 | a \\| b c |",
    "| 12B | — | 0.8589 |  |",
  ]);
  assert.equal(
    markdownTable([{ a: 1, b: 2.5 }], { columns: ["b"], digits: 2 }),
    "| b |\n| ---: |\n| 2.5 |",
  );
  assert.throws(() => markdownTable([]), /no columns/);
});
