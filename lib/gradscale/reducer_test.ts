import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  type Combined,
  type Coordinator,
  loadReducer,
  meanReducer,
  type Payload,
  type ReducerSpec,
  type ShardReducer,
} from "../nn/reduce.ts";
import { gradScale, GradScaler } from "./mod.ts";
import { packFloat64, unpackFloat64 } from "./_exact.ts";

await initBackend();

const f16round = (Math as unknown as { f16round: (x: number) => number }).f16round;

/** The trainer's loop over one reducer, in one process: shards get already weighted gradients. */
class Exchange {
  bytes = 0;
  rounds = 0;
  private constructor(readonly shards: ShardReducer[], readonly coordinator: Coordinator) {}
  static async create(spec: ReducerSpec, shapes: number[][], count: number) {
    const module = await loadReducer(spec);
    const context = (shard: number) => ({
      shapes,
      names: shapes.map((_, i) => `p${i}`),
      shard,
      shards: count,
    });
    const shards = [];
    for (let s = 0; s < count; s++) {
      shards.push(await module.createShardReducer(spec.config, context(s)));
    }
    return new Exchange(shards, await module.createCoordinator(spec.config, context(-1)));
  }
  step(grads: tf.Tensor[][]): Extract<Combined, { grads: tf.Tensor[] }> {
    const info = structuredClone(this.coordinator.info()); // as posted to a worker
    let payloads: Payload[] = this.shards.map((s, i) => s.begin(grads[i], info));
    for (let k = 0;; k++) {
      this.rounds = k + 1;
      this.bytes = payloads.flat().reduce((a, e) => a + e.byteLength, 0);
      const combined = this.coordinator.combine(k, payloads);
      if (!("broadcast" in combined)) return combined;
      payloads = this.shards.map((s) => s.round(k + 1, combined.broadcast));
    }
  }
  dispose() {
    this.coordinator.dispose();
    for (const s of this.shards) s.dispose();
  }
}

Deno.test("gradScale over the mean reducer, one shard: exactly GradScaler.step (gradients, skips, scales)", async () => {
  const blocks = ["a", "a", "b"];
  const options = { blocks, growthFactor: 2 ** 0.25, backoffCooldownSteps: 2 };
  const exchange = await Exchange.create(gradScale(meanReducer(), options), [[4], [2, 3], [5]], 1);
  const scaler = new GradScaler(options);
  for (let t = 0; t < 12; t++) {
    // Block b overflows now and then (10·2¹³ > 65504); block a has entries that underflow.
    const grads = [
      tf.tensor1d([1e-3, 1e-12, 0, -3e-6]),
      tf.randomNormal([2, 3], 0, 1e-2, "float32", t + 1),
      tf.tensor1d([t % 5 === 2 ? 10 : 1e-2, 0.5, -0.25, 1e-9, t]),
    ];
    const ours = exchange.step([grads]);
    const theirs = scaler.step(grads);
    assert.equal(ours.skip !== undefined, theirs.skip, `step ${t}`);
    if (theirs.skip) assert.match(ours.skip!, /^non-finite 16-bit gradients in block "b"/);
    ours.grads.forEach((g, i) => assert.deepEqual(g.dataSync(), theirs.grads[i].dataSync()));
    assert.equal(ours.metrics!.grad_underflow_a, theirs.blocks[0].underflowFraction);
    assert.equal(ours.metrics!.grad_scale_log2_b, Math.log2(theirs.blocks[1].scale));
    tf.dispose([...grads, ...ours.grads, ...theirs.grads]);
  }
  assert.deepEqual(exchange.coordinator.state()["grad_scale/scales"], scaler.state().scales);
  exchange.dispose();
});

Deno.test("gradScale over the 16-bit mean: shards send scaled halves, the sum is unscaled by the coordinator", async () => {
  const shapes = [[6], [3]];
  const spec = gradScale(meanReducer({ bits: 16 }), { blocks: ["x", "y"], mode: "global" });
  const exchange = await Exchange.create(spec, shapes, 2);
  const scale = 2 ** 13 * 2; // 2¹³·W
  const grads = [
    [tf.tensor1d([1e-7, -2e-6, 3e-5, 1e-3, 0, 1e-13]), tf.tensor1d([1, 2, 3])],
    [tf.tensor1d([2e-7, 2e-6, 1e-5, -1e-3, 1, 0]), tf.tensor1d([-1, 0, 1e-4])],
  ];
  const { grads: out, skip, metrics } = exchange.step(grads);
  assert.equal(skip, undefined);
  // 9 halves per shard, and the block counts: 1 + 3·2 int32s.
  assert.equal(exchange.bytes, 2 * (9 * 2 + 7 * 4));
  out.forEach((g, i) => {
    const [a, b] = grads.map((w) => w[i].dataSync());
    const expected = a.map((v, k) =>
      Math.fround(
        Math.fround(f16round(Math.fround(v * scale)) + f16round(Math.fround(b[k] * scale))) / scale,
      )
    );
    assert.deepEqual(g.dataSync(), expected);
  });
  // 1e-13·2¹⁴ < 2⁻²⁵: one of block x's 10 non-zero entries flushed to zero.
  assert.equal(metrics!.grad_underflow_x, 1 / 10);
  assert.equal(metrics!.grad_scale_log2_y, 14);
  tf.dispose([...grads.flat(), ...out]);
  exchange.dispose();
});

Deno.test("gradScale skips on overflow, names the block and backs off only its scale (per-block)", async () => {
  const spec = gradScale(meanReducer({ bits: 16 }), { blocks: ["enc.1", "dec.2"] });
  const exchange = await Exchange.create(spec, [[2], [2]], 2);
  const grads = [
    [tf.tensor1d([1e-3, 2e-3]), tf.tensor1d([1e-3, 1e-3])],
    [tf.tensor1d([1e-3, 2e-3]), tf.tensor1d([1e-3, 8])], // 8·2¹⁴ > 65504 on shard 1
  ];
  const r = exchange.step(grads);
  assert.equal(r.skip, 'non-finite 16-bit gradients in block "dec.2" (scale 16384 → 11585.2)');
  assert.equal(exchange.rounds, 1, "the mean keeps no state: no discard round");
  assert.equal(r.metrics!.grad_scale_skipped, 1);
  const { scales } = exchange.coordinator.info() as { scales: number[] };
  assert.deepEqual(scales, [16384 * 2 ** (1 / 1000), 16384 * (1 / Math.SQRT2)]);
  tf.dispose([...grads.flat(), ...r.grads]);
  exchange.dispose();
});

Deno.test("gradScale state()/restore(): scales and cooldowns continue exactly", async () => {
  const spec = gradScale(meanReducer(), { blocks: ["a", "b"], backoffCooldownSteps: 3 });
  const shapes = [[3], [3]];
  const steps = (exchange: Exchange, from: number, to: number) => {
    const skips = [];
    for (let t = from; t < to; t++) {
      const grads = [[tf.tensor1d([1e-3, t, 0]), tf.tensor1d([t % 2 ? 100 : 1, 0, 0])]];
      const r = exchange.step(grads);
      skips.push(r.skip ?? "");
      tf.dispose([...grads.flat(), ...r.grads]);
    }
    return skips;
  };
  const straight = await Exchange.create(spec, shapes, 1);
  const expected = steps(straight, 0, 8);
  const first = await Exchange.create(spec, shapes, 1);
  steps(first, 0, 4);
  const state = structuredClone(first.coordinator.state());
  const second = await Exchange.create(spec, shapes, 1);
  second.coordinator.restore(state);
  assert.deepEqual(steps(second, 4, 8), expected.slice(4));
  assert.deepEqual(second.coordinator.state(), straight.coordinator.state());
  assert.throws(() => second.coordinator.restore({ scales: new Float32Array(3) }), RangeError);
  for (const e of [straight, first, second]) e.dispose();
});

Deno.test("float64 scales and counters survive as float32 triples exactly", () => {
  const values = [8192 * 2 ** (7 / 1000), 2 ** 24 * 8, 123456789, -Infinity, 0, 1 / 3];
  assert.deepEqual(unpackFloat64(packFloat64(values)), values);
  const scaler = new GradScaler({ blocks: ["a"], growthFactor: 2 ** (1 / 1000) });
  for (let t = 0; t < 50; t++) scaler.update([t % 7 !== 3]);
  const copy = new GradScaler({ blocks: ["a"] });
  copy.restore(scaler.state());
  assert.equal(copy.scales().a, scaler.scales().a);
  assert.deepEqual([copy.stepCount, copy.skippedSteps], [50, 7]);
});

Deno.test("gradScale is leak-free and rejects a block list that does not fit the model", async () => {
  const spec = gradScale(meanReducer({ bits: 16 }), { blocks: ["a", "b"] });
  const before = tf.memory().numTensors;
  const exchange = await Exchange.create(spec, [[4], [2, 2]], 2);
  const grads = [0, 1].map((w) => [tf.fill([4], w + 1), tf.fill([2, 2], w * 1e3)]);
  for (let t = 0; t < 3; t++) tf.dispose(exchange.step(grads).grads);
  exchange.dispose();
  tf.dispose(grads.flat());
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(Exchange.create(spec, [[4]], 1), /block for 2 parameters, the model has 1/);
  assert.throws(() => gradScale(meanReducer(), { blocks: [] }), TypeError);
  assert.throws(
    () => gradScale(meanReducer(), { blocks: ["a"], mode: "x" as "global" }),
    RangeError,
  );
});
