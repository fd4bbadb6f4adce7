import assert from "node:assert/strict";
import { parseFlags, readCsv, RunLog, writeCsv } from "./mod.ts";

Deno.test("writeCsv → readCsv round trip keeps every row, column and value", async () => {
  const dir = await Deno.makeTempDir();
  const rows = [
    { step: 0, loss: 2.5, tag: "a" },
    { step: 1, loss: 0.125, tag: "b" },
    { step: 2, loss: -1e-3, tag: "c" },
  ];
  await writeCsv(`${dir}/t.csv`, rows);
  const text = await Deno.readTextFile(`${dir}/t.csv`);
  assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"), "exactly one trailing newline");
  const table = await readCsv(`${dir}/t.csv`);
  assert.equal(table.numRows(), rows.length);
  assert.deepEqual(table.columnNames(), ["step", "loss", "tag"]);
  assert.deepEqual(table.objects(), rows);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("RunLog writes config.json and a metrics.csv that reads back row for row", async () => {
  const root = await Deno.makeTempDir();
  const run = await RunLog.create({
    experiment: "unit",
    tag: "a b/c",
    config: { lr: 1e-3 },
    root,
    printEvery: 0,
    flushEvery: 2,
  });
  assert.ok(run.dir.startsWith(`${root}/unit/`) && run.dir.endsWith("_a-b-c"), run.dir);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${run.dir}/config.json`)), { lr: 1e-3 });
  for (let step = 0; step < 5; step++) run.log({ step, loss: 1 / (step + 1) });
  // flushEvery 2: four rows are on disk before the explicit flush.
  assert.equal((await readCsv(`${run.dir}/metrics.csv`)).numRows(), 4);
  await run.flush();
  const table = await readCsv(`${run.dir}/metrics.csv`);
  assert.equal(table.numRows(), 5);
  assert.deepEqual(table.array("loss"), [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]);
  await assert.rejects(() => RunLog.create({ experiment: "../x", root }), TypeError);
  await Deno.remove(root, { recursive: true });
});

Deno.test("parseFlags types values like their defaults and rejects what it cannot read", () => {
  const defaults = { steps: 100, lr: 1e-3, tag: "a", ema: false, temps: [1, 0.5] };
  const cfg = parseFlags(defaults, ["--steps=5", "--ema", "--temps=0.7,0.2", "--tag=x"]);
  assert.deepEqual(cfg, { steps: 5, lr: 1e-3, tag: "x", ema: true, temps: [0.7, 0.2] });
  assert.deepEqual(defaults.temps, [1, 0.5], "defaults untouched");
  assert.throws(() => parseFlags(defaults, ["--nope=1"]), /unknown flag --nope/);
  assert.throws(() => parseFlags(defaults, ["--steps=ten"]), /expects a number/);
  assert.throws(() => parseFlags(defaults, ["--steps="]), /expects a number/);
  assert.throws(() => parseFlags(defaults, ["--ema=yes"]), /true or false/);
  assert.throws(() => parseFlags(defaults, ["steps=5"]), /--key=value/);
});
