/**
 * Exact resume after a kill: a training subprocess is SIGKILLed mid-run (once between steps, once
 * inside a checkpoint write), resumed from its run folder, and must end with the same weights,
 * optimiser state and metrics rows as a run that was never stopped — bitwise, for the dVAE and
 * the prior — with no step repeated in its metrics file.
 */
import assert from "node:assert/strict";
import { readCsv } from "../lib/log/mod.ts";
import { decodeSafetensors, isTimingColumn } from "../lib/nn/mod.ts";

const SCRIPT = new URL("./testdata/train_run.ts", import.meta.url).pathname;
const STEPS = 12, EVERY = 2;
const HARD_LIMIT_MS = 120_000;

interface Child {
  dir: string;
  code: number;
  signal: string | null;
}

/** Runs the training script; `killWhen` (polled) decides when to SIGKILL it. */
async function run(
  args: string[],
  killWhen?: (dir: string) => Promise<boolean>,
): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, `--steps=${STEPS}`, `--every=${EVERY}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const hard = setTimeout(() => child.kill("SIGKILL"), HARD_LIMIT_MS);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const dir = text.split("\n")[0].trim();
  let killed = false;
  const watch = (async () => {
    if (!killWhen) return;
    while (!killed) {
      if (dir && await killWhen(dir)) {
        child.kill("SIGKILL");
        killed = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const drain = (async () => {
    while (!(await reader.read()).done) { /* the rest of stdout */ }
  })();
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    drain,
  ]).then(([s, e]) => [s, e] as const);
  killed = true;
  await watch;
  clearTimeout(hard);
  if (!killWhen) assert.equal(status.code, 0, `training failed: ${stderr}`);
  return { dir, code: status.code, signal: status.signal };
}

async function rowsOf(dir: string): Promise<number> {
  try {
    const text = await Deno.readTextFile(`${dir}/metrics.csv`);
    return text.trim().split("\n").length - 1;
  } catch {
    return 0;
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The checkpoint's tensors (weights, optimiser state, reducer state) and step. */
async function checkpointOf(dir: string) {
  const { tensors, metadata } = decodeSafetensors(
    await Deno.readFile(`${dir}/checkpoint.safetensors`),
    dir,
  );
  return { tensors, step: Number(metadata.step), trainer: metadata.trainer };
}

/** Metrics rows without the timing columns. */
async function metricsOf(dir: string): Promise<Record<string, unknown>[]> {
  const rows = (await readCsv(`${dir}/metrics.csv`)).objects() as Record<string, unknown>[];
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).filter(([k]) => !isTimingColumn(k)))
  );
}

async function assertSameRun(resumed: string, straight: string): Promise<void> {
  const [a, b] = await Promise.all([checkpointOf(resumed), checkpointOf(straight)]);
  assert.equal(a.step, STEPS);
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
  for (const [name, t] of b.tensors) {
    assert.deepEqual(a.tensors.get(name)!.data, t.data, `${name} differs from the straight run`);
  }
  assert.equal(a.trainer, b.trainer, "trainer counters");
  const [rowsA, rowsB] = await Promise.all([metricsOf(resumed), metricsOf(straight)]);
  assert.deepEqual(rowsA.map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i));
  assert.deepEqual(rowsA, rowsB, "metrics rows");
}

const CASES = [
  { name: "dvae", flags: ["--model=dvae"] },
  { name: "prior", flags: ["--model=prior"] },
  // Two real workers and PowerSGD: the error feedback and warm Q kept in each worker come back.
  {
    name: "prior, 2 workers, powerSgd",
    flags: ["--model=prior", "--workers=2", "--reducer=powersgd"],
  },
];

for (const { name, flags } of CASES) {
  Deno.test(`${name}: SIGKILL mid-run and inside a checkpoint write, resume, and the run is the uninterrupted one`, async () => {
    const root = await Deno.makeTempDir();
    try {
      const straight = await run([...flags, `--root=${root}/straight`]);

      // 1. Killed between steps: after step 6's row, past the checkpoint of step 6.
      const killed = await run(
        [...flags, `--root=${root}/killed`],
        async (dir) => (await rowsOf(dir)) >= 7,
      );
      assert.equal(killed.signal, "SIGKILL");
      const atKill = await checkpointOf(killed.dir);
      assert.ok(atKill.step >= 6 && atKill.step < STEPS, `checkpoint at ${atKill.step}`);
      await run([...flags, `--resume=${killed.dir}`]);
      await assertSameRun(killed.dir, straight.dir);

      // 2. Killed inside the write of step 8's checkpoint: the file written, not yet renamed.
      const paused = `${root}/paused_run`;
      await Deno.mkdir(paused);
      const mid = await run(
        [...flags, `--root=${paused}`, "--pauseRenameAt=8"],
        () => exists(`${paused}/paused`),
      );
      assert.equal(mid.signal, "SIGKILL");
      assert.equal((await checkpointOf(mid.dir)).step, 6, "the last whole checkpoint stands");
      await run([...flags, `--resume=${mid.dir}`]);
      await assertSameRun(mid.dir, straight.dir);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
