import assert from "node:assert/strict";
import * as aq from "arquero";
import { Rng } from "./mod.ts";
import { columnsOf, formatCsv, parseCsv } from "./mod.ts";

Deno.test("formatCsv → parseCsv gives back equal rows: floats bit for bit, booleans, nulls, strings", () => {
  const rng = new Rng(3);
  const rows = Array.from({ length: 200 }, (_, step) => ({
    step,
    loss: rng.normal() * 10 ** rng.int(40) / 10 ** 20,
    tiny: Number.MIN_VALUE * step,
    ok: step % 3 === 0,
    tag: ["a", "b,c", 'q"uote', "line\nbreak", "", "true", "1.5", "NaN", " x"][step % 9],
    none: null,
  }));
  rows.push({ step: -0, loss: NaN, tiny: Infinity, ok: false, tag: "-Infinity", none: null });
  const back = parseCsv(formatCsv(rows));
  assert.deepEqual(back, rows);
  for (let i = 0; i < rows.length; i++) assert.ok(Object.is(back[i].loss, rows[i].loss));
});

Deno.test("columns are the union of keys in first-seen order; missing keys read back as null", () => {
  const rows = [{ step: 0, loss: 1 }, { step: 1, eval_acc: 0.5 }, { loss: 2, step: 2 }];
  assert.deepEqual(columnsOf(rows), ["step", "loss", "eval_acc"]);
  assert.equal(formatCsv(rows), "step,loss,eval_acc\n0,1,\n1,,0.5\n2,2,\n");
  assert.deepEqual(parseCsv(formatCsv(rows)), [
    { step: 0, loss: 1, eval_acc: null },
    { step: 1, loss: null, eval_acc: 0.5 },
    { step: 2, loss: 2, eval_acc: null },
  ]);
  assert.equal(formatCsv([]), "");
  assert.deepEqual(parseCsv(""), []);
  assert.deepEqual(parseCsv("step,loss\n"), []);
});

Deno.test("parseCsv reads what arquero writes (the runs logged before lib/io)", () => {
  const rows = [
    { step: 0, loss: 0.1 + 0.2, ok: true, tag: "a,b", n: null },
    { step: 1, loss: -1e-300, ok: false, tag: 'say "hi"', n: 3 },
  ];
  assert.deepEqual(parseCsv(aq.from(rows).toCSV()), rows);
});

Deno.test("parseCsv: CRLF, quoted header names, short lines, blank lines, malformed input", () => {
  assert.deepEqual(parseCsv('"a,1",b\r\n1,"x\r\ny"\r\n2\r\n\r\n'), [
    { "a,1": 1, b: "x\r\ny" },
    { "a,1": 2, b: null },
  ]);
  assert.deepEqual(parseCsv("a,b\n1,2"), [{ a: 1, b: 2 }], "no final line break");
  assert.deepEqual(parseCsv("a,b\n1,"), [{ a: 1, b: null }], "trailing comma at the end");
  assert.deepEqual(parseCsv("\ufeffa\n0x10\n1e3\n.5\n"), [{ a: "0x10" }, { a: 1000 }, { a: 0.5 }]);
  assert.throws(() => parseCsv('a\n"open'), SyntaxError);
  assert.throws(() => parseCsv('a\n"x"y\n'), SyntaxError);
  assert.throws(() => parseCsv("a\n1,2\n"), /2 fields, the header 1/);
});
