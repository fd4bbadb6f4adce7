import assert from "node:assert/strict";
import { canTrace, initBackend, tf, TracedFunction, TraceError, traceTotals } from "./mod.ts";

const backend = await initBackend();
// The trace needs the tensorflow backend as .ci/tensorflow builds it; the set-up checks that it
// has the trace, so on that backend a missing trace is a failure here, not a skip.
const tracing = backend === "tensorflow";

Deno.test("the tensorflow backend built by the set-up can trace", () => {
  assert.equal(canTrace(), tracing);
});

Deno.test({
  name: "TracedFunction: two traces, every result from the graph, variables read afresh, = eager",
  ignore: !tracing,
  fn() {
    const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const f = new TracedFunction("affine", ([x]) => [tf.matMul(x, w).add(0.5).relu(), x.sum()]);
    const x = tf.tensor2d([[1, -1], [2, 0.5]]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      const eager = tf.tidy(() => [tf.matMul(x, w).add(0.5).relu(), x.sum()]);
      const got = f.call([x]);
      assert.deepEqual(Array.from(got[0].dataSync()), Array.from(eager[0].dataSync()));
      assert.equal(got[1].dataSync()[0], eager[1].dataSync()[0]);
      tf.dispose([...got, ...eager]);
      tf.tidy(() => w.assign(w.mul(-1.5))); // the function must see each new value
    }
    assert.deepEqual({ ...f.stats, ops: 0 }, { traced: 2, compiled: 4, eager: 0, ops: 0 });
    assert.equal(tf.memory().numTensors, before, "no tensor left behind");
    f.dispose();
    tf.dispose([w, x]);
  },
});

Deno.test({
  name: "TracedFunction: a new shape or key traces anew and never runs another signature's graph",
  ignore: !tracing,
  fn() {
    const f = new TracedFunction("rowSums", ([x]) => [x.sum(1)]);
    const run = (rows: number, key = "") => {
      const x = tf.ones([rows, 3]);
      const [y] = f.call([x], key);
      const out = Array.from(y.dataSync());
      tf.dispose([x, y]);
      return out;
    };
    for (let i = 0; i < 3; i++) assert.deepEqual(run(2), [3, 3]);
    assert.deepEqual(run(4), [3, 3, 3, 3]); // a smaller or larger batch: its own trace
    assert.deepEqual(run(1, "other switch"), [3]);
    assert.equal(f.stats.compiled, 5);
    assert.equal(f.stats.traced, 4);
    f.dispose();
  },
});

Deno.test({
  name: "TracedFunction: a value made from JavaScript that changes between calls is a TraceError",
  ignore: !tracing,
  fn() {
    let lr = 0.1;
    const f = new TracedFunction("step", ([x]) => [x.mul(lr)]);
    const x = tf.ones([2]);
    tf.dispose(f.call([x]));
    lr = 0.2;
    assert.throws(() => f.call([x]), (e: Error) => {
      assert.ok(e instanceof TraceError);
      assert.match(e.message, /constant 0 .* differs between two calls: pass it as an input/);
      return true;
    });
    // Negative control: the same value twice compiles.
    const g = new TracedFunction("fixed", ([y]) => [y.mul(0.1)]);
    for (let i = 0; i < 3; i++) tf.dispose(g.call([x]));
    assert.deepEqual([g.stats.traced, g.stats.compiled], [2, 3]);
    tf.dispose(x);
    f.dispose();
    g.dispose();
  },
});

Deno.test({
  name: "TracedFunction: assigning a variable inside is refused; a disposed capture is named",
  ignore: !tracing,
  fn() {
    const v = tf.variable(tf.zeros([2]));
    const f = new TracedFunction("sideEffect", ([x]) => {
      v.assign(x.add(1));
      return [x];
    });
    const x = tf.ones([2]);
    assert.throws(() => f.call([x]), /assigns variable .*assign it outside/);
    const captured = tf.ones([2]);
    const g = new TracedFunction("reads", ([y]) => [y.add(captured)]);
    for (let i = 0; i < 2; i++) tf.dispose(g.call([x]));
    captured.dispose();
    assert.throws(() => g.call([x]), /has been disposed; pass it as an input/);
    tf.dispose([v, x]);
    f.dispose();
    g.dispose();
  },
});

Deno.test("TracedFunction on a backend that cannot trace runs its body eagerly", async () => {
  const previous = tf.getBackend();
  await tf.setBackend("cpu");
  try {
    const before = traceTotals().eager;
    const f = new TracedFunction("eager", ([x]) => [x.square()]);
    const x = tf.tensor1d([3]);
    for (let i = 0; i < 3; i++) {
      const [y] = f.call([x]);
      assert.equal(y.dataSync()[0], 9);
      y.dispose();
    }
    assert.equal(f.stats.eager, 3);
    assert.equal(traceTotals().eager, before + 3);
    x.dispose();
  } finally {
    await tf.setBackend(previous);
  }
});

Deno.test({
  name:
    "TracedFunction: an error of the body itself passes through unchanged, and the next call traces",
  ignore: !tracing,
  fn() {
    let fail = true;
    const f = new TracedFunction("checks", ([x]) => {
      if (fail) throw new RangeError("bad input");
      return [x.neg()];
    });
    const x = tf.ones([2]);
    assert.throws(
      () => f.call([x]),
      (e: Error) => e instanceof RangeError && e.message === "bad input",
    );
    fail = false;
    for (let i = 0; i < 3; i++) tf.dispose(f.call([x]));
    assert.deepEqual([f.stats.traced, f.stats.compiled], [2, 3]);
    x.dispose();
    f.dispose();
  },
});

Deno.test({
  name:
    "TracedFunction: one tensor passed twice is its own signature, never fed to two inputs later",
  ignore: !tracing,
  fn() {
    const f = new TracedFunction("difference", ([a, b]) => [a.sub(b)]);
    const x = tf.tensor1d([5]), y = tf.tensor1d([2]);
    const run = (a: tf.Tensor, b: tf.Tensor) => {
      const [d] = f.call([a, b]);
      const value = d.dataSync()[0];
      d.dispose();
      return value;
    };
    for (let i = 0; i < 3; i++) assert.equal(run(x, x), 0);
    assert.equal(run(x, y), 3); // a graph built for (x, x) would give 0 here
    assert.equal(run(y, x), -3);
    tf.dispose([x, y]);
    f.dispose();
  },
});
