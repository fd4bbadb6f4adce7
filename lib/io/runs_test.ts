import assert from "node:assert/strict";
import {
  latestRun,
  readRun,
  runExperiment,
  runStamp,
  runStarted,
  withCurrentFlagNames,
  writeFileAtomic,
} from "./mod.ts";

async function makeRun(folder: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await writeFileAtomic(`${folder}/${name}`, text);
  }
}

Deno.test("readRun: config, typed metrics rows, and summary.csv before summary.json", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/dvae_train/20261202T014452Z_shapes`;
    await makeRun(dir, {
      "config.json": JSON.stringify({ backend: "cpu", experiment: "dvae_train", steps: 3 }),
      "metrics.csv": "step,loss,ok\n0,0.5,true\n1,0.25,false\n",
      "summary.json": JSON.stringify({ elb_bits_per_dim: 4.5 }),
    });
    let run = await readRun(dir);
    assert.equal(run.dir, dir);
    assert.equal(run.experiment, "dvae_train");
    assert.deepEqual(run.config, { backend: "cpu", experiment: "dvae_train", steps: 3 });
    assert.deepEqual(run.metrics, [{ step: 0, loss: 0.5, ok: true }, {
      step: 1,
      loss: 0.25,
      ok: false,
    }]);
    assert.deepEqual(run.summary, { elb_bits_per_dim: 4.5 });
    await writeFileAtomic(`${dir}/summary.csv`, "run,acc\na,0.75\n");
    run = await readRun(dir);
    assert.deepEqual(run.summary, [{ run: "a", acc: 0.75 }]);

    const bare = `${root}/other/20261202T000000Z_x`;
    await makeRun(bare, { "config.json": "[1, 2]" });
    const old = await readRun(bare);
    assert.equal(old.experiment, "other", "no recorded experiment: the path tells");
    assert.deepEqual(old.config, { config: [1, 2] });
    assert.deepEqual(old.metrics, []);
    assert.equal(old.summary, null);

    await assert.rejects(() => readRun(root), Deno.errors.NotFound);
    await makeRun(`${root}/broken`, { "config.json": "{nope" });
    await assert.rejects(() => readRun(`${root}/broken`), SyntaxError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("latestRun: the newest stamped folder that holds a config.json, else null", async () => {
  const root = await Deno.makeTempDir();
  try {
    assert.equal(await latestRun("prior_shapes", { root }), null);
    const base = `${root}/prior_shapes`;
    await makeRun(`${base}/20261202T015821Z_b`, { "config.json": "{}" });
    await makeRun(`${base}/20261203T000000Z_a`, { "config.json": "{}" });
    await makeRun(`${base}/20261101T235959Z_zzz`, { "config.json": "{}" });
    await Deno.mkdir(`${base}/20261204T000000Z_started_but_empty`);
    await makeRun(`${base}/notes`, { "config.json": "{}" });
    await Deno.writeTextFile(`${base}/20271231T000000Z_file`, "not a folder");
    assert.equal(await latestRun("prior_shapes", { root }), `${base}/20261203T000000Z_a`);
    assert.equal(await latestRun("dvae_train", { root }), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("latestRun with preferFull: the newest full run before a newer --quick one", async () => {
  const root = await Deno.makeTempDir();
  try {
    const base = `${root}/demo`;
    await makeRun(`${base}/20261202T000000Z_quick`, { "config.json": '{"quick":true}' });
    const options = { root, preferFull: true };
    assert.equal(await latestRun("demo", options), `${base}/20261202T000000Z_quick`);
    await makeRun(`${base}/20261203T000000Z_full`, { "config.json": '{"quick":false}' });
    await makeRun(`${base}/20261204T000000Z_quick`, { "config.json": '{"quick":true}' });
    await makeRun(`${base}/20261205T000000Z_quick`, { "config.json": '{"quick":true}' });
    assert.equal(await latestRun("demo", options), `${base}/20261203T000000Z_full`);
    assert.equal(await latestRun("demo", { root }), `${base}/20261205T000000Z_quick`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("latestRun with where: only the runs it accepts, with and without preferFull", async () => {
  const root = await Deno.makeTempDir();
  try {
    const base = `${root}/dvae_train`;
    await makeRun(`${base}/20261202T000000Z_fashion`, { "config.json": '{"dataset":"fashion"}' });
    await makeRun(`${base}/20261203T000000Z_shapes`, { "config.json": '{"dataset":"shapes"}' });
    await makeRun(`${base}/20261204T000000Z_demo_full`, { "config.json": '{"dataset":"shapes"}' });
    await makeRun(`${base}/20261205T000000Z_quick`, {
      "config.json": '{"dataset":"fashion","quick":true}',
    });
    const fashion = (_: string, c: Record<string, unknown>) => c.dataset === "fashion";
    const ownShapes = (dir: string, c: Record<string, unknown>) =>
      c.dataset === "shapes" && !dir.includes("_demo_");
    assert.equal(
      await latestRun("dvae_train", { root, where: fashion }),
      `${base}/20261205T000000Z_quick`,
    );
    assert.equal(
      await latestRun("dvae_train", { root, where: fashion, preferFull: true }),
      `${base}/20261202T000000Z_fashion`,
    );
    assert.equal(
      await latestRun("dvae_train", { root, where: ownShapes }),
      `${base}/20261203T000000Z_shapes`,
    );
    assert.equal(await latestRun("dvae_train", { root, where: () => false }), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("runStamp and runExperiment agree with lib/log's folder layout", () => {
  assert.equal(runStamp(new Date("2026-12-02T01:44:52.999Z")), "20261202T014452Z");
  const start = new Date("2026-12-02T01:44:52Z");
  assert.deepEqual(runStarted(`data/runs/demo/${runStamp(start)}_full/`), start, "a round trip");
  assert.equal(runStarted("data/runs/demo/notes"), null);
  assert.equal(
    runStarted("data/runs/20261202T014452Z_x/inner"),
    null,
    "only the folder's own name",
  );
  assert.equal(runExperiment("data/runs/a_b/20261202T014452Z_t/", {}), "a_b");
  assert.equal(runExperiment("data/runs/a_b/20261202T014452Z_t", { experiment: "x" }), "x");
  assert.equal(runExperiment("data/runs/a_b/not_a_stamp", {}), null);
  assert.equal(runExperiment("20261202T014452Z_t", null), null);
});

Deno.test("withCurrentFlagNames: old names read as new unless the new is there; other keys untouched", () => {
  assert.deepEqual(withCurrentFlagNames({ batch: 8, warmup: 2, steps: 5 }), {
    batchSize: 8,
    warmupSteps: 2,
    steps: 5,
  });
  assert.deepEqual(withCurrentFlagNames({ batch: 8, batchSize: 16 }), { batch: 8, batchSize: 16 });
  // Names an object inherits are not renames.
  assert.deepEqual(withCurrentFlagNames({ constructor: 1, toString: 2 }), {
    constructor: 1,
    toString: 2,
  });
});
