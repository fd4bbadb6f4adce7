import assert from "node:assert/strict";
import { BACKEND_ENV, initBackend, tf } from "../backend/mod.ts";
import { parseCsv, readRun, Rng } from "../io/mod.ts";
import {
  codeVersion,
  parseFlags,
  readCsv,
  RunLog,
  RunMismatchError,
  UsageError,
  writeCsv,
} from "./mod.ts";

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

/** A config.json's content without `machine` (its load changes from run to run), which it checks. */
function withoutMachine(text: string): Record<string, unknown> {
  const { machine, ...rest } = JSON.parse(text);
  assert.equal(machine.cores, navigator.hardwareConcurrency);
  assert.equal(typeof machine.load_avg_1min_at_start, "number");
  return rest;
}

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
  assert.deepEqual(withoutMachine(await Deno.readTextFile(`${run.dir}/config.json`)), {
    backend: "cpu",
    experiment: "unit",
    code: await codeVersion(),
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
      assert.deepEqual(withoutMachine(text), {
        backend: tf.getBackend(),
        experiment: "unit",
        code: await codeVersion(),
        lr: 1e-3,
      });
      assert.equal(run.backend, backend);
      assert.ok(text.indexOf('"backend"') < text.indexOf('"lr"'), text);
    }
    const bare = await RunLog.create({ experiment: "unit", tag: "bare", root, printEvery: 0 });
    assert.deepEqual(withoutMachine(await Deno.readTextFile(`${bare.dir}/config.json`)), {
      backend: "cpu",
      experiment: "unit",
      code: await codeVersion(),
    });
    const list = await RunLog.create({ experiment: "unit", tag: "list", config: [1, 2], root });
    assert.deepEqual(withoutMachine(await Deno.readTextFile(`${list.dir}/config.json`)), {
      backend: "cpu",
      experiment: "unit",
      code: await codeVersion(),
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
  // Unknown names are a usage error at the command line, and initBackend's RangeError in code.
  assert.throws(() => parseFlags(defaults, ["--backend=bogus"]), UsageError);
  assert.throws(() => parseFlags(defaults, ["--backend=bogus"]), /expects one of auto, /);
  await assert.rejects(() => initBackend("bogus" as "auto"), /unknown backend "bogus"/);
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

/** Deterministic rows with awkward values: floats of every magnitude, float32s, booleans. */
function fakeRows(count: number, seed: number) {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, step) => ({
    step,
    loss: rng.normal() * 10 ** (rng.int(30) - 15),
    loss_f32: Math.fround(rng.next()),
    lr: step === 0 ? 0 : 0.1 + 0.2 * step,
    tiny: 5e-324 * step,
    skipped: step % 4 === 3,
    phase: step % 2 ? "warm" : "1.5",
  }));
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const info = await Deno.stat(`${dir}/${entry.name}`);
    out[entry.name] = `${await Deno.readTextFile(`${dir}/${entry.name}`)}@${info.mtime?.getTime()}`;
  }
  return out;
}

Deno.test("RunLog.resume keeps the rows before the checkpoint's step and logs on into the same folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    const rows = fakeRows(10, 1);
    const options = { root, printEvery: 0, flushEvery: 3, config: { lr: 0.1 } };
    // Uninterrupted: all ten rows.
    const whole = await RunLog.create({ experiment: "unit", tag: "whole", ...options });
    for (const row of rows) whole.log(row);
    await whole.flush();
    // Interrupted after step 7 (flushed through the periodic sync flush at rows 3 and 6, then
    // a final flush), resumed from a checkpoint of step 5.
    const first = await RunLog.create({ experiment: "unit", tag: "cut", ...options });
    for (const row of rows.slice(0, 8)) first.log(row);
    await first.flush();
    const before = JSON.parse(await Deno.readTextFile(`${first.dir}/config.json`));
    const run = await RunLog.resume(first.dir, { experiment: "unit", fromStep: 5, printEvery: 0 });
    assert.equal(run.dir, first.dir);
    assert.equal(run.options.tag, "cut");
    assert.equal(run.options.root, root);
    assert.deepEqual(run.rows, rows.slice(0, 5), "rows read back equal the rows logged");
    assert.deepEqual(parseCsv(await Deno.readTextFile(`${run.dir}/metrics.csv`)), rows.slice(0, 5));
    for (const row of rows.slice(5)) run.log(row);
    await run.flush();
    const resumedText = await Deno.readTextFile(`${run.dir}/metrics.csv`);
    assert.equal(resumedText, await Deno.readTextFile(`${whole.dir}/metrics.csv`));
    assert.deepEqual(parseCsv(resumedText).map((r) => r.step), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const after = JSON.parse(await Deno.readTextFile(`${run.dir}/config.json`));
    const { resumes, ...rest } = after;
    assert.deepEqual(rest, before, "config.json is left as it was, plus the resume note");
    assert.equal(resumes.length, 1);
    assert.equal(resumes[0].step, 5);
    assert.equal(resumes[0].backend, "cpu");
    assert.deepEqual(resumes[0].code, await codeVersion());
    assert.ok(!Number.isNaN(Date.parse(resumes[0].time)));
    // A second resume appends its note; a resume past the last row keeps every row.
    const again = await RunLog.resume(run.dir, { experiment: "unit", fromStep: 100 });
    assert.equal(again.rows.length, 10);
    const config = (await readRun(run.dir)).config as { resumes: { step: number }[] };
    assert.deepEqual(config.resumes.map((r) => r.step), [5, 100]);
    // Nothing but the run's files: every write went through the atomic writer.
    assert.deepEqual([...Deno.readDirSync(run.dir)].map((e) => e.name).sort(), [
      "config.json",
      "metrics.csv",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("RunLog.resume refuses another experiment's run, or no run, and writes nothing", async () => {
  const root = await Deno.makeTempDir();
  try {
    const prior = await RunLog.create({ experiment: "prior_shapes", root, printEvery: 0 });
    prior.log({ step: 0, loss: 1 });
    await prior.flush();
    const files = await snapshot(prior.dir);
    const err = await RunLog.resume(prior.dir, { experiment: "dvae_train", fromStep: 0 }).then(
      () => assert.fail("resumed another experiment's run"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RunMismatchError && err instanceof TypeError);
    assert.equal(
      err.message,
      `--resume=${prior.dir} is a run of "prior_shapes", not of "dvae_train"`,
    );
    assert.deepEqual([err.expected, err.found], ["dvae_train", "prior_shapes"]);
    assert.deepEqual(await snapshot(prior.dir), files, "nothing written");

    // Not a run folder at all; a broken config.json.
    await assert.rejects(
      () => RunLog.resume(root, { experiment: "dvae_train", fromStep: 0 }),
      (e: unknown) => e instanceof RunMismatchError && /has no config\.json/.test(e.message),
    );
    await Deno.writeTextFile(`${root}/config.json`, "{");
    await assert.rejects(
      () => RunLog.resume(root, { experiment: "dvae_train", fromStep: 0 }),
      /config\.json is not JSON/,
    );

    // A run logged before config.json named its experiment: the folder path tells.
    const old = `${root}/prior_shapes/20260101T000000Z_old`;
    await Deno.mkdir(old, { recursive: true });
    await Deno.writeTextFile(`${old}/config.json`, JSON.stringify({ backend: "cpu" }));
    await Deno.writeTextFile(`${old}/metrics.csv`, "step,loss\n0,1\n1,0.5\n");
    const oldFiles = await snapshot(old);
    await assert.rejects(
      () => RunLog.resume(old, { experiment: "dvae_train", fromStep: 1 }),
      /is a run of "prior_shapes", not of "dvae_train"/,
    );
    assert.deepEqual(await snapshot(old), oldFiles);
    const resumed = await RunLog.resume(old, { experiment: "prior_shapes", fromStep: 1 });
    assert.deepEqual(resumed.rows, [{ step: 0, loss: 1 }]);

    // An unreadable metrics.csv is an error naming the file, before anything is written.
    await Deno.writeTextFile(`${old}/metrics.csv`, 'step,tag\n0,"open\n');
    const broken = await snapshot(old);
    await assert.rejects(
      () => RunLog.resume(old, { experiment: "prior_shapes", fromStep: 1 }),
      (e: unknown) => e instanceof SyntaxError && e.message.startsWith(`${old}/metrics.csv: `),
    );
    assert.deepEqual(await snapshot(old), broken);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("metrics round-trip exactly: every float64, booleans, strings that look like numbers", async () => {
  const root = await Deno.makeTempDir();
  try {
    const rng = new Rng(7);
    const rows = fakeRows(300, 2).map((row) => ({
      ...row,
      bits: new Float64Array(new Uint32Array([rng.nextSeed() * 2, rng.nextSeed()]).buffer)[0],
      neg_zero: -0,
      ok: row.step % 3 === 0,
    })).filter((row) => Number.isFinite(row.bits));
    const run = await RunLog.create({ experiment: "unit", root, printEvery: 0, flushEvery: 7 });
    for (const row of rows) run.log(row);
    // Only the periodic sync flush has written so far.
    const flushed = parseCsv(await Deno.readTextFile(`${run.dir}/metrics.csv`));
    assert.deepEqual(flushed, rows.slice(0, flushed.length));
    await run.flush();
    const resumed = await RunLog.resume(run.dir, {
      experiment: "unit",
      fromStep: rows.length,
      printEvery: 0,
    });
    assert.deepEqual(resumed.rows, rows);
    for (let i = 0; i < rows.length; i++) {
      assert.ok(Object.is(resumed.rows[i].bits, rows[i].bits), `row ${i}`);
      assert.equal(typeof resumed.rows[i].skipped, "boolean");
      assert.equal(resumed.rows[i].phase, rows[i].phase, "a string stays a string");
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
