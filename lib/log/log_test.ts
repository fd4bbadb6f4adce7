import assert from "node:assert/strict";
import { BACKEND_ENV, initBackend, tf } from "../backend/mod.ts";
import { parseFlags, readCsv, RunLog, writeCsv } from "./mod.ts";

await initBackend("cpu");

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
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${run.dir}/config.json`)), {
    backend: "cpu",
    lr: 1e-3,
  });
  assert.equal(run.backend, "cpu");
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

Deno.test("config.json records the backend in use, first, in place of the one asked for", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const backend of ["wasm", "cpu"] as const) {
      await initBackend(backend);
      const run = await RunLog.create({
        experiment: "unit",
        config: { lr: 1e-3, backend: "auto" },
        root,
        printEvery: 0,
      });
      const text = await Deno.readTextFile(`${run.dir}/config.json`);
      assert.deepEqual(JSON.parse(text), { backend: tf.getBackend(), lr: 1e-3 });
      assert.equal(run.backend, backend);
      assert.ok(text.indexOf('"backend"') < text.indexOf('"lr"'), text);
    }
    const bare = await RunLog.create({ experiment: "unit", tag: "bare", root, printEvery: 0 });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${bare.dir}/config.json`)), {
      backend: "cpu",
    });
    const list = await RunLog.create({ experiment: "unit", tag: "list", config: [1, 2], root });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${list.dir}/config.json`)), {
      backend: "cpu",
      config: [1, 2],
    });
  } finally {
    await initBackend("cpu");
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--backend is a flag of every experiment; unset, $DALLE_LAB_BACKEND then auto decide", async () => {
  const defaults = { steps: 100 };
  const flags = parseFlags(defaults, ["--backend=wasm", "--steps=5"]);
  assert.deepEqual(flags, { steps: 5, backend: "wasm" });
  assert.equal(await initBackend(flags.backend), "wasm");
  assert.equal(parseFlags(defaults, []).backend, undefined);
  assert.throws(() => parseFlags(defaults, ["--backend"]), /--backend needs a value/);
  assert.throws(() => parseFlags(defaults, ["--nope=1"]), /known: steps, backend/);
  // Unknown names are initBackend's RangeError, when the entry point starts the backend.
  const bogus = parseFlags(defaults, ["--backend=bogus"]);
  await assert.rejects(() => initBackend(bogus.backend), RangeError);
  await assert.rejects(() => initBackend(bogus.backend), /unknown backend "bogus"/);
  // A backend key of the experiment's own stays the experiment's (typed like its default).
  assert.deepEqual(parseFlags({ backend: 1 }, ["--backend=2"]), { backend: 2 });
  // No flag: the environment variable chooses.
  const before = Deno.env.get(BACKEND_ENV);
  try {
    Deno.env.set(BACKEND_ENV, "cpu");
    assert.equal(await initBackend(parseFlags(defaults, []).backend), "cpu");
    Deno.env.set(BACKEND_ENV, "wasm");
    assert.equal(await initBackend(parseFlags(defaults, []).backend), "wasm");
    assert.equal(await initBackend(parseFlags(defaults, ["--backend=cpu"]).backend), "cpu");
  } finally {
    if (before === undefined) Deno.env.delete(BACKEND_ENV);
    else Deno.env.set(BACKEND_ENV, before);
    await initBackend("cpu");
  }
});

Deno.test("no experiment or notebook hard-codes a backend", async () => {
  const root = new URL("../../", import.meta.url);
  const offenders: string[] = [];
  const scan = async (folder: string, keep: (name: string) => boolean) => {
    for await (const entry of Deno.readDir(new URL(folder, root))) {
      if (!entry.isFile || !keep(entry.name)) continue;
      const text = await Deno.readTextFile(new URL(`${folder}/${entry.name}`, root));
      // initBackend("wasm") in a .ts file, initBackend(\"wasm\") in a notebook's JSON.
      if (/initBackend\(\\?"/.test(text)) offenders.push(`${folder}/${entry.name}`);
    }
  };
  // bench_*.ts compare backends by name on purpose.
  await scan("experiments", (name) => name.endsWith(".ts") && !name.startsWith("bench"));
  await scan("notebooks", (name) => name.endsWith(".ipynb"));
  assert.deepEqual(offenders, []);
});
