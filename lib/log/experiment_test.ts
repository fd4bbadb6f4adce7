import assert from "node:assert/strict";
import { experimentFlags, experimentMain, RunLog, RunMismatchError, UsageError } from "./mod.ts";
import { defaultWorkers, ensureBackend } from "../backend/mod.ts";

const DEFAULTS = { dataset: "a", steps: 100, lr: 1e-3, workers: 0, quick: false, resume: "" };
const QUICK = { steps: 5, lr: 0.5 };
const RECIPE_B = { steps: 300, lr: 2e-3 };
const EXPERIMENT = {
  name: "experiment_test",
  defaults: DEFAULTS,
  quick: QUICK,
  recipe: (f: typeof DEFAULTS) => f.dataset === "b" ? RECIPE_B : undefined,
  run: (cfg: typeof DEFAULTS) => Promise.resolve(cfg),
};

Deno.test("experimentFlags: the recipe, then the quick budget, each under the flags typed", async () => {
  assert.deepEqual(await experimentFlags(EXPERIMENT, []), DEFAULTS);
  const b = await experimentFlags(EXPERIMENT, ["--dataset=b", "--lr=0.1"]);
  assert.equal(b.steps, 300);
  assert.equal(b.lr, 0.1);
  const quickB = await experimentFlags(EXPERIMENT, ["--dataset=b", "--quick"]);
  assert.deepEqual([quickB.steps, quickB.lr, quickB.quick], [5, 0.5, true]);
  const typed = await experimentFlags(EXPERIMENT, ["--quick", "--steps=7"]);
  assert.deepEqual([typed.steps, typed.lr], [7, 0.5]);
  await assert.rejects(() => experimentFlags(EXPERIMENT, ["--stpes=3"]), UsageError);
});

Deno.test("experimentFlags: --resume restores the run's own config, presets not applied again", async () => {
  const root = await Deno.makeTempDir();
  try {
    // A quick run whose explicit --steps=7 the quick budget must not overwrite on resume.
    const saved = { ...DEFAULTS, quick: true, steps: 7, lr: 0.5 };
    const log = await RunLog.create({ experiment: "experiment_test", config: saved, root });
    const resumed = await experimentFlags(EXPERIMENT, [`--resume=${log.dir}`]);
    assert.deepEqual({ ...resumed }, { ...saved, resume: log.dir });
    const changed = await experimentFlags(EXPERIMENT, [`--resume=${log.dir}`, "--lr=0.25"]);
    assert.equal(changed.lr, 0.25);
    const other = await RunLog.create({ experiment: "another", config: saved, root });
    await assert.rejects(
      () => experimentFlags(EXPERIMENT, [`--resume=${other.dir}`]),
      RunMismatchError,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("experimentMain: starts the backend, resolves workers 0, runs the config", async () => {
  // The backend this test process already runs, so that no later test finds another one.
  const backend = await ensureBackend();
  const cfg = await experimentMain(EXPERIMENT, ["--quick", `--backend=${backend}`]);
  assert.equal(cfg.workers, defaultWorkers(backend));
  assert.ok(cfg.workers >= 1);
  assert.equal(cfg.steps, 5);
  const two = await experimentMain(EXPERIMENT, ["--workers=2", `--backend=${backend}`]);
  assert.equal(two.workers, 2);
});

Deno.test("RunLog records the machine (cores, load at the start) in every config.json", async () => {
  const root = await Deno.makeTempDir();
  try {
    const log = await RunLog.create({ experiment: "experiment_test", config: { a: 1 }, root });
    const config = JSON.parse(await Deno.readTextFile(`${log.dir}/config.json`));
    assert.equal(config.machine.cores, navigator.hardwareConcurrency);
    assert.equal(typeof config.machine.load_avg_1min_at_start, "number");
    assert.equal(config.a, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("renamed flags: an old name sets the new one, counts as typed, and old runs resume", async () => {
  const RENAMED = { ...EXPERIMENT, defaults: { ...DEFAULTS, batchSize: 32, trainCount: 1000 } };
  const quick = { ...RENAMED, quick: { ...QUICK, batchSize: 4, trainCount: 10 } };
  const typed = await experimentFlags(quick, ["--quick", "--batch=8", "--shapesCount=50"]);
  assert.deepEqual([typed.batchSize, typed.trainCount, typed.steps], [8, 50, 5]);
  assert.ok(!("batch" in typed) && !("shapesCount" in typed));
  // An old name whose new one the experiment lacks is an unknown flag, as any other.
  await assert.rejects(() => experimentFlags(EXPERIMENT, ["--batch=8"]), UsageError);
  const root = await Deno.makeTempDir();
  try {
    // A run recorded before the rename: its config.json holds the old names.
    const { batchSize: _b, trainCount: _t, ...rest } = RENAMED.defaults;
    const old = { ...rest, batch: 16, shapesCount: 200, steps: 9 };
    const log = await RunLog.create({ experiment: "experiment_test", config: old, root });
    const resumed = await experimentFlags(RENAMED, [`--resume=${log.dir}`]);
    assert.deepEqual([resumed.batchSize, resumed.trainCount, resumed.steps], [16, 200, 9]);
    assert.ok(!("batch" in resumed));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
