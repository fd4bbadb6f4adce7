import assert from "node:assert/strict";
import { GradientWorkers, meanReducer, WorkerFailure } from "./mod.ts";
import type { PoolTimeouts } from "./mod.ts";
import type { FaultOptions } from "./testdata/faulty_task.ts";

const TASK = new URL("./testdata/faulty_task.ts", import.meta.url).href;
const W = [new Float32Array(2)];
const X = new Float32Array([1, 2]);

/** A pool running the faulty task on cpu (each worker starts in well under a second). */
function start(count: number, timeouts: PoolTimeouts = {}): Promise<GradientWorkers> {
  return GradientWorkers.start(count, {
    taskUrl: TASK,
    config: {},
    backend: "cpu",
    reducer: meanReducer(),
    context: { shapes: [[2]], names: ["w"], shards: count + 1 },
    ...timeouts,
  });
}

function step(pool: GradientWorkers, index: number, options: FaultOptions) {
  return pool.step(index, W, X, options);
}

/** The WorkerFailure `promise` rejects with, and how long that took. */
async function failure(promise: Promise<unknown>): Promise<{ err: WorkerFailure; ms: number }> {
  const t0 = performance.now();
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof WorkerFailure, `not a WorkerFailure: ${err}`);
    return { err, ms: performance.now() - t0 };
  }
  throw new Error("expected a WorkerFailure, got a result");
}

Deno.test("a task that throws: a named error, and the worker keeps serving; close() rejects what is pending", async () => {
  const pool = await start(1);
  try {
    assert.deepEqual(Array.from((await step(pool, 0, { mode: "ok" })).payload[0]), [1, 2]);
    const { err } = await failure(step(pool, 0, { mode: "throw" }));
    assert.equal(err.worker, 0);
    assert.equal(err.reason, "error");
    assert.match(err.message, /^gradient worker 0 failed: Error: the task threw on purpose/);
    assert.ok(!pool.closed);
    assert.deepEqual(Array.from((await step(pool, 0, { mode: "ok" })).values.sum), [3]);
    // Closing a pool whose worker hangs: the pending step rejects, the busy worker is stopped.
    const hanging = failure(step(pool, 0, { mode: "hang" }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    pool.close();
    const closed = (await hanging).err;
    assert.equal(closed.reason, "closed");
    assert.equal(closed.message, "the gradient pool is closed");
    const later = (await failure(step(pool, 0, { mode: "ok" }))).err;
    assert.equal(later.message, "gradient worker 0: the pool is closed");
  } finally {
    pool.close();
    pool.close(); // idempotent
  }
});

Deno.test("a worker that does not answer: the named timeout error within the limit, and the pool is closed", async () => {
  const pool = await start(2, { firstStepTimeoutMs: 800 });
  try {
    await step(pool, 0, { mode: "ok" }); // worker 0's later steps get the (60 s) derived limit
    const { err, ms } = await failure(
      Promise.all([step(pool, 0, { mode: "ok" }), step(pool, 1, { mode: "hang" })]),
    );
    assert.equal(err.worker, 1);
    assert.equal(err.reason, "timeout");
    assert.match(
      err.message,
      /^gradient worker 1 timed out: did not answer "step" within 800 ms \(the first-step limit; waited \d+ ms\): it died or hangs; the pool is closed$/,
    );
    assert.ok(ms >= 790 && ms < 3000, `failed after ${ms} ms`);
    assert.ok(pool.closed);
    const t0 = performance.now();
    const later = (await failure(step(pool, 0, { mode: "ok" }))).err;
    assert.ok(performance.now() - t0 < 100, "a closed pool answers at once");
    assert.equal(later.reason, "closed");
    assert.equal(later.worker, 1);
    assert.equal(later.message, `gradient pool closed after worker 1 failed: ${err.message}`);
  } finally {
    pool.close();
  }
});

Deno.test("the step limit follows the slowest step seen; start-up has its own limit", async () => {
  const pool = await start(1, { minStepTimeoutMs: 200, stepTimeoutFactor: 3 });
  try {
    assert.equal(pool.stepTimeoutMs(), 120_000, "the first step gets the start-up limit");
    await step(pool, 0, { mode: "ok" });
    assert.ok(pool.stepTimeoutMs() >= 200, "at least the floor");
    await step(pool, 0, { mode: "ok", busyMs: 150 });
    const limit = pool.stepTimeoutMs();
    assert.ok(limit >= 450 && limit < 1500, `limit ${limit}`);
    const { err, ms } = await failure(step(pool, 0, { mode: "hang" }));
    assert.equal(err.reason, "timeout");
    assert.match(err.message, /within \d+ ms \(max\(200 ms, 3 × slowest step \d+ ms\); waited/);
    assert.ok(ms >= limit - 10 && ms < limit + 2000, `failed after ${ms} ms, limit ${limit}`);
  } finally {
    pool.close();
  }
  const { err } = await failure(start(2, { startTimeoutMs: 1 }));
  assert.equal(err.reason, "timeout");
  assert.match(err.message, /^gradient worker 0 timed out: did not answer "init" within 1 ms/);
});

Deno.test("a malformed reply: the named error, and the pool is closed", async () => {
  const pool = await start(1);
  try {
    const { err } = await failure(step(pool, 0, { mode: "malformed" }));
    assert.equal(err.worker, 0);
    assert.equal(err.reason, "malformed");
    assert.equal(
      err.message,
      'gradient worker 0 sent a malformed reply: replied to "step" with a payload that is not ' +
        "typed arrays; the pool is closed",
    );
    assert.ok(pool.closed);
  } finally {
    pool.close();
  }
});

Deno.test("a worker that dies mid-step ends its process with the named error, never a hang", async () => {
  const HARD_LIMIT_MS = 30_000;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), HARD_LIMIT_MS);
  const t0 = performance.now();
  const script = new URL("./testdata/dying_worker.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: abort.signal,
  }).output().finally(() => clearTimeout(timer));
  const ms = performance.now() - t0;
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(!abort.signal.aborted, `killed after the ${HARD_LIMIT_MS} ms hard limit: ${stderr}`);
  assert.notEqual(out.code, 0);
  assert.match(
    stderr,
    /WorkerFailure: gradient worker 0 timed out: did not answer "step" within \d+ ms/,
  );
  assert.equal(new TextDecoder().decode(out.stdout), "");
  console.log(`child exited ${out.code} after ${Math.round(ms)} ms`);
});
