import assert from "node:assert/strict";
import {
  Progress,
  type ProgressSinkFactory,
  type ProgressState,
  RunLog,
  setProgressSink,
  terminalSink,
} from "./mod.ts";

/** Runs `fn` with console.log captured. */
function printed(fn: () => void): string[] {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    fn();
  } finally {
    console.log = original;
  }
  return lines;
}

/** A sink that keeps every state and counts flushes. */
function recording(): { factory: ProgressSinkFactory; states: ProgressState[]; flushes: number } {
  const out = { states: [] as ProgressState[], flushes: 0, factory: null as never };
  out.factory = (() => ({
    update: (s: ProgressState) => void out.states.push(s),
    flush: () => (out.flushes++, Promise.resolve()),
  })) as never;
  return out;
}

Deno.test("terminal progress: a line on the first row and every printEvery-th, with rate and ETA", () => {
  const progress = new Progress({ label: "unit", totalSteps: 10, printEvery: 3 }, terminalSink);
  const lines = printed(() => {
    for (let step = 0; step < 10; step++) progress.update({ step, loss: 1 / (step + 1) });
  });
  // Rows 1, 3, 6 and 9 of this process: steps 0, 2, 5 and 8.
  assert.deepEqual(lines.map((l) => /step (\d+)/.exec(l)?.[1]), ["0", "2", "5", "8"]);
  for (const line of lines) {
    assert.match(line, /^\[unit\] step \d+ loss [\d.]+ · \d+ s, [\d.]+ steps\/s, eta \d+ s$/);
  }
  assert.match(lines[1], /^\[unit\] step 2 loss 0\.3333 · /);
});

Deno.test("progress state: ETA from this process's rate, done on the last step", () => {
  const fresh = new Progress({ label: "u", totalSteps: 100, printEvery: 0 });
  const mid = fresh.state({ step: 19 });
  assert.ok(mid.stepsPerSec !== null && mid.etaSec !== null && !mid.done);
  // 20 steps ran, 80 are left at the same rate.
  assert.ok(Math.abs(mid.etaSec * mid.stepsPerSec - 80) < 1e-6);
  assert.ok(Math.abs(mid.stepsPerSec * mid.elapsedSec - 20) < 1e-6);
  const last = fresh.state({ step: 99 });
  assert.equal(last.etaSec, 0);
  assert.ok(last.done);
  // A resumed loop's earlier steps were not run by this process: one step ran, not 51.
  const resumed = new Progress({ label: "u", totalSteps: 100, startStep: 50, printEvery: 0 });
  const first = resumed.state({ step: 50 });
  assert.ok(first.stepsPerSec !== null);
  assert.ok(Math.abs(first.stepsPerSec * first.elapsedSec - 1) < 1e-6);
  // Rows without a numeric step: no rate, no ETA, never done.
  const plain = fresh.state({ phase: "eval" });
  assert.deepEqual([plain.step, plain.stepsPerSec, plain.etaSec, plain.done], [
    null,
    null,
    null,
    false,
  ]);
  assert.throws(() => new Progress({ label: "u", printEvery: -1 }), RangeError);
});

Deno.test("RunLog reports through the registered sink and flushes it; printEvery 0 makes none", async () => {
  const sink = recording();
  setProgressSink(sink.factory);
  try {
    const run = await RunLog.create({ experiment: "unit", write: false, totalSteps: 3 });
    const lines = printed(() => {
      for (let step = 0; step < 3; step++) run.log({ step, loss: 3 - step });
    });
    assert.deepEqual(lines, [], "a registered sink replaces the terminal lines");
    assert.deepEqual(sink.states.map((s) => [s.step, s.rows, s.done]), [
      [0, 1, false],
      [1, 2, false],
      [2, 3, true],
    ]);
    assert.equal(sink.states[2].label, "unit");
    assert.match(sink.states[2].line, /^\[unit\] step 2 loss 1 · \d+ s, [\d.]+ steps\/s, eta 0 s$/);
    await run.flush();
    assert.equal(sink.flushes, 1);

    const quiet = recording();
    setProgressSink(quiet.factory);
    const silent = await RunLog.create({ experiment: "unit", write: false, printEvery: 0 });
    silent.log({ step: 0, loss: 1 });
    await silent.flush();
    assert.deepEqual([quiet.states.length, quiet.flushes], [0, 0]);
  } finally {
    setProgressSink(null);
  }
  // Restored: terminal lines again.
  const run = await RunLog.create({ experiment: "unit", write: false, printEvery: 1 });
  assert.equal(printed(() => run.log({ step: 0, loss: 1 })).length, 1);
});
