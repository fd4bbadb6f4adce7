import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { gradScale, roundTensorToFormat } from "../gradscale/mod.ts";
import { decodeValues, meanReducer, type ReducerSpec } from "../nn/reduce.ts";
import {
  fromMatrix,
  orthogonalize,
  planCompression,
  powerSgd,
  type PowerSgdSettings,
  powerSgdSettings,
  SimulatedAllReduce,
  toMatrix,
} from "./mod.ts";
import { createCoordinator, createShardReducer } from "./reducer.ts";
import { gaussianQ } from "./_config.ts";
import { formatByName } from "../gradscale/mod.ts";

await initBackend();

const f16round = (Math as unknown as { f16round: (x: number) => number }).f16round;
const SHAPES = [[24, 20], [3, 3, 4, 10], [20], [3, 4]]; // matrix, conv, vector, too small

function randomGrads(shapes: number[][], workers: number, step: number, std = 1): tf.Tensor[][] {
  return Array.from(
    { length: workers },
    (_, w) =>
      shapes.map((s, i) => tf.randomNormal(s, 0, std, "float32", 1 + 1000 * step + 10 * w + i)),
  );
}

function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0] / b.abs().max().dataSync()[0]);
}

/**
 * The mean formulation PowerSGD had before the reducer protocol (float32 communication), kept
 * here as the reference: P = Σ_w M_w·Q, Q' = (1/W)·Σ_w M_wᵀP̂, error_w = M_w − P̂Q'ᵀ.
 */
class MeanFormulation {
  readonly plan;
  q: (tf.Tensor2D | null)[];
  errors: (tf.Tensor2D[] | null)[];
  constructor(readonly s: PowerSgdSettings, shapes: number[][], readonly workers: number) {
    this.plan = planCompression(shapes, s.rank, s.minCompressionRate);
    this.q = this.plan.map(() => null);
    this.errors = this.plan.map(() => null);
  }
  step(workerGrads: tf.Tensor[][]): tf.Tensor[] {
    return this.plan.map((entry, i) => {
      const grads = workerGrads.map((g) => g[i]);
      if (!entry.compressed) return tf.tidy(() => tf.addN(grads).div(this.workers));
      this.q[i] ??= gaussianQ(this.s.seed, i, 0, entry.m, entry.rank);
      const q = this.q[i]!;
      const old = this.errors[i];
      const { out, errors, qNext } = tf.tidy(() => {
        const ms = grads.map((g, w) => old ? toMatrix(g).add(old[w]) : toMatrix(g));
        const p = tf.addN(ms.map((m) => m.matMul(q)));
        const pHat = orthogonalize(p, this.s.orthogonalize, {
          epsilon: this.s.epsilon,
          shift: this.s.householderShift,
        });
        const qNextT = tf.addN(ms.map((m) => pHat.transpose().matMul(m))).div(this.workers);
        const outMatrix = pHat.matMul(qNextT);
        const format = formatByName(this.s.errorPrecision);
        const errors = ms.map((m) => roundTensorToFormat(m.sub(outMatrix), format) as tf.Tensor2D);
        return {
          out: fromMatrix(outMatrix, entry.shape),
          errors,
          qNext: qNextT.transpose() as tf.Tensor2D,
        };
      });
      old?.forEach((e) => e.dispose());
      this.errors[i] = errors;
      if (this.s.q === "warm") [q.dispose(), this.q[i] = qNext];
      else qNext.dispose();
      return out;
    });
  }
  dispose() {
    tf.dispose([...this.q, ...this.errors.flat()].filter((t) => t !== null) as tf.Tensor[]);
  }
}

Deno.test("powerSgd through the protocol equals the mean formulation with weights 1/W (errors = e_w/W)", async () => {
  for (const [variant, workers] of [["vogels", 3], ["dalle", 4]] as const) {
    const spec = powerSgd({ rank: 2, variant, seed: 5 });
    const sim = await SimulatedAllReduce.create(spec, SHAPES, { workers });
    const reference = new MeanFormulation(spec.config as PowerSgdSettings, SHAPES, workers);
    for (let t = 0; t < 5; t++) {
      const grads = randomGrads(SHAPES, workers, t);
      const { grads: ours, rounds } = sim.step(grads);
      const theirs = reference.step(grads);
      assert.equal(rounds, 3);
      ours.forEach((g, i) => {
        const d = relDiff(g, theirs[i]);
        assert.ok(d < 1e-4, `${variant} step ${t} param ${i}: relative difference ${d}`);
      });
      tf.dispose([...grads.flat(), ...ours, ...theirs]);
    }
    // The shards keep e_w/W, the mean formulation e_w.
    const state = sim.state();
    for (let w = 0; w < workers; w++) {
      for (const i of [0, 1]) {
        const d = tf.tidy(() =>
          relDiff(
            tf.tensor(state.shards[w][`error/param${i}`]).mul(workers),
            reference.errors[i]![w].reshape([-1]),
          )
        );
        // 1-6-9 error buffers may round a float32 difference one 2⁻⁹ ulp apart.
        assert.ok(d < (variant === "dalle" ? 5e-3 : 1e-4), `${variant} error ${w}/${i}: ${d}`);
      }
    }
    sim.dispose();
    reference.dispose();
  }
});

Deno.test("unequal weights: Σ updates + Σ_w e_w = Σ_t Σ_w a_w·g_w (error feedback, sum formulation)", async () => {
  const weights = [0.5, 0.3, 0.2];
  const sim = await SimulatedAllReduce.create(powerSgd({ rank: 2 }), SHAPES, {
    workers: 3,
    weights,
  });
  const sumOut = SHAPES.map((s) => tf.zeros(s));
  const sumIn = SHAPES.map((s) => tf.zeros(s));
  for (let t = 0; t < 4; t++) {
    const grads = randomGrads(SHAPES, 3, t);
    const { grads: out } = sim.step(grads);
    SHAPES.forEach((_, i) => {
      const [a, b] = [sumOut[i], sumIn[i]];
      sumOut[i] = a.add(out[i]);
      sumIn[i] = tf.tidy(() => b.add(tf.addN(grads.map((g, w) => g[i].mul(weights[w])))));
      tf.dispose([a, b]);
    });
    tf.dispose([...grads.flat(), ...out]);
  }
  const state = sim.state();
  for (const i of [0, 1]) {
    const errors = tf.tidy(() =>
      fromMatrix(
        tf.addN(state.shards.map((s) => tf.tensor(s[`error/param${i}`]).reshape(toMatrixShape(i)))),
        SHAPES[i],
      )
    );
    const lhs = sumOut[i].add(errors);
    assert.ok(relDiff(lhs, sumIn[i]) < 1e-5, `param ${i}`);
    tf.dispose([errors, lhs]);
  }
  tf.dispose([...sumOut, ...sumIn]);
  sim.dispose();
});

function toMatrixShape(i: number): [number, number] {
  const [entry] = planCompression([SHAPES[i]], 1, 0);
  return [entry.n, entry.m];
}

Deno.test("16-bit payloads: exactly half the bytes of 32-bit, values are the float32 values' half-roundings", async () => {
  const grads = randomGrads(SHAPES, 1, 0)[0];
  const context = { shapes: SHAPES, names: SHAPES.map((_, i) => `p${i}`), shard: 0, shards: 2 };
  const payloads = [32, 16].map((bits) => {
    const spec = powerSgd({ rank: 2, bits: bits as 32 | 16 });
    const shard = createShardReducer(spec.config, context);
    const payload = shard.begin(grads, null);
    shard.dispose();
    return payload;
  });
  const [p32, p16] = payloads;
  assert.equal(p16.length, p32.length);
  p32.forEach((entry, i) => {
    assert.ok(entry instanceof Float32Array && p16[i] instanceof Uint16Array);
    assert.equal(p16[i].byteLength * 2, entry.byteLength);
    const halves = decodeValues(p16[i]);
    entry.forEach((v, k) => assert.equal(halves[k], f16round(v), `entry ${i}[${k}]`));
  });
  // A whole run: every round's payloads are halves.
  const stats = [];
  for (const bits of [32, 16] as const) {
    const sim = await SimulatedAllReduce.create(powerSgd({ rank: 2, bits }), SHAPES, {
      workers: 2,
    });
    for (let t = 0; t < 2; t++) {
      const g = randomGrads(SHAPES, 2, t);
      tf.dispose([...sim.step(g).grads, ...g.flat()]);
    }
    stats.push(sim.stats());
    sim.dispose();
  }
  assert.equal(stats[1].elementsSent, stats[0].elementsSent);
  assert.equal(stats[1].bytesSent * 2, stats[0].bytesSent);
  const plan = planCompression(SHAPES, 2);
  assert.equal(stats[0].elementsSent, 2 * plan.reduce((a, e) => a + e.elementsSent, 0));
  tf.dispose(grads);
});

Deno.test("mean reducer through the simulation: the weighted sum; 16 bits send half the bytes, rounded", async () => {
  const shapes = [[5, 3], [7]];
  const weights = [0.25, 0.75];
  const grads = randomGrads(shapes, 2, 3);
  for (const bits of [32, 16] as const) {
    const sim = await SimulatedAllReduce.create(meanReducer({ bits }), shapes, {
      workers: 2,
      weights,
    });
    const { grads: out, bytesSent, elementsSent, rounds } = sim.step(grads);
    assert.deepEqual([rounds, elementsSent, bytesSent], [1, 22, (22 * bits) / 8]);
    const send = bits === 16 ? f16round : Math.fround;
    out.forEach((g, i) => {
      const [a, b] = tf.tidy(() => [0, 1].map((w) => grads[w][i].mul(weights[w]).dataSync()));
      g.dataSync().forEach((v, k) => assert.equal(v, Math.fround(send(a[k]) + send(b[k]))));
    });
    tf.dispose(out);
    sim.dispose();
  }
  tf.dispose(grads.flat());
});

const RESUMABLE: Record<string, ReducerSpec> = {
  "vogels 32-bit": powerSgd({ rank: 2, seed: 1 }),
  "dalle 16-bit": powerSgd({ rank: 2, variant: "dalle", bits: 16, seed: 1 }),
  "fresh Q": { ...powerSgd({ rank: 2 }), config: { ...powerSgdSettings({ rank: 2 }), q: "fresh" } },
  // Doubling scales overflow PowerSGD's 16-bit P within the run: resumption across skips.
  "gradScale(vogels 16-bit)": gradScale(powerSgd({ rank: 2, bits: 16 }), {
    blocks: ["a", "a", "b", "b"],
    initScale: 2 ** 11,
    minScale: 1,
    growthFactor: 2,
    backoffCooldownSteps: 2,
  }),
};

Deno.test("state()/restore() mid-run continues bitwise identically (both variants, 16-bit, fresh Q, gradScale)", async () => {
  for (const [name, spec] of Object.entries(RESUMABLE)) {
    const run = async (resumeAt: number | null) => {
      let sim = await SimulatedAllReduce.create(spec, SHAPES, { workers: 2 });
      const outs: (number[] | string)[] = [];
      for (let t = 0; t < 6; t++) {
        if (t === resumeAt) {
          const state = structuredClone(sim.state()); // as a checkpoint would
          sim.dispose();
          sim = await SimulatedAllReduce.create(spec, SHAPES, { workers: 2 });
          sim.restore(state);
        }
        const grads = randomGrads(SHAPES, 2, t);
        const r = sim.step(grads);
        outs.push(r.grads.flatMap((g) => Array.from(g.dataSync())));
        if (r.skip) outs.push(r.skip);
        tf.dispose([...grads.flat(), ...r.grads]);
      }
      sim.dispose();
      return outs;
    };
    const [resumed, straight] = [await run(3), await run(null)];
    assert.deepEqual(resumed, straight, name);
    if (name.startsWith("gradScale")) assert.ok(straight.some((o) => typeof o === "string"));
  }
});

Deno.test("rank checks: RangeError naming the rank, the largest allowed rank and the parameter", async () => {
  assert.throws(() => powerSgd({ rank: 0 }), /rank must be a positive integer, got 0/);
  assert.throws(() => powerSgd({ rank: 1.5 }), RangeError);
  assert.throws(() => powerSgd({ rank: 2, variant: "torch" as "dalle" }), RangeError);
  const context = { shapes: [[64, 64], [8, 16], [64]], names: ["big", "small", "bias"] };
  const ctx = { ...context, shard: -1, shards: 2 };
  // 64 × 64 is compressed up to rank 15 at minCompressionRate 2 (128·r·2 < 4096).
  createCoordinator(powerSgd({ rank: 15 }).config, ctx).dispose();
  for (const create of [createCoordinator, createShardReducer]) {
    assert.throws(
      () => create(powerSgd({ rank: 16 }).config, ctx),
      (e: Error) =>
        e instanceof RangeError && /rank 16/.test(e.message) && /is 15/.test(e.message) &&
        /"big"/.test(e.message),
    );
  }
  // Without the rate, a matrix allows its smaller side.
  const forced = powerSgd({ rank: 65, minCompressionRate: 0 }).config;
  assert.throws(() => createCoordinator(forced, ctx), /rank 65 .* is 64, by "big"/);
  await assert.rejects(
    SimulatedAllReduce.create(powerSgd({ rank: 4 }), [[5], [3]], { workers: 2 }),
    /no gradient is a matrix/,
  );
  await assert.rejects(
    SimulatedAllReduce.create(powerSgd({ rank: 1 }), [[2, 2]], { workers: 1 }),
    /no matrix is worth compressing even at rank 1.*"param0"/,
  );
});

Deno.test("gradScale over powerSgd: an overflowing block skips the step, backs off, leaves PowerSGD's state as it was", async () => {
  const spec = gradScale(powerSgd({ rank: 2, bits: 16 }), { blocks: ["a", "a", "b", "b"] });
  const sim = await SimulatedAllReduce.create(spec, SHAPES, { workers: 2 });
  const first = randomGrads(SHAPES, 2, 0, 1e-3);
  tf.dispose([...sim.step(first).grads, ...first.flat()]);
  const before = sim.state();
  // Block b's bias is huge on worker 1: ∞ after scaling to 16 bits.
  const grads = randomGrads(SHAPES, 2, 1, 1e-3);
  const huge = grads[1][2];
  grads[1][2] = tf.fill([20], 1e6);
  huge.dispose();
  const r = sim.step(grads);
  assert.match(
    r.skip ?? "",
    /^non-finite 16-bit gradients in block "b" \(scale 16395\.4 → 11593\.3\)$/,
  );
  assert.equal(r.rounds, 4, "three PowerSGD rounds and the discard");
  assert.equal(r.metrics.grad_scale_skipped, 1);
  const after = sim.state();
  assert.deepEqual(after.shards, before.shards, "error buffers and Q as before the step");
  const scales = (k: string) => after.coordinator[k];
  assert.ok(scales("grad_scale/scales")[0] > scales("grad_scale/scales")[3], "a grew, b fell");
  tf.dispose([...r.grads, ...grads.flat()]);
  sim.dispose();
});

Deno.test("leak-free: tensor count flat over steps, back to the start after dispose", async () => {
  const start = tf.memory().numTensors;
  for (const spec of Object.values(RESUMABLE)) {
    const sim = await SimulatedAllReduce.create(spec, SHAPES, { workers: 2 });
    const grads = randomGrads(SHAPES, 2, 0);
    tf.dispose(sim.step(grads).grads);
    const afterFirst = tf.memory().numTensors;
    for (let t = 0; t < 3; t++) tf.dispose(sim.step(grads).grads);
    assert.equal(tf.memory().numTensors, afterFirst, spec.label);
    sim.dispose();
    tf.dispose(grads.flat());
    assert.equal(tf.memory().numTensors, start, spec.label);
  }
});

Deno.test("protocol misuse is a RangeError: rounds out of order, wrong payload sizes", () => {
  const spec = powerSgd({ rank: 2 });
  const ctx = { shapes: [[24, 20]], names: ["w"], shard: 0, shards: 1 };
  const shard = createShardReducer(spec.config, ctx);
  const coordinator = createCoordinator(spec.config, { ...ctx, shard: -1 });
  assert.throws(() => shard.round(1, [new Float32Array(48)]), /without a step in flight/);
  assert.throws(() => coordinator.combine(1, [[]]), /expected round 0/);
  assert.throws(() => coordinator.combine(0, [[], []]), /payloads of 1 shards/);
  assert.throws(() => coordinator.combine(0, [[new Float32Array(3)]]), RangeError);
  const g = tf.zeros([20, 24]);
  assert.throws(() => shard.begin([g], null), /has shape \[20,24\], expected \[24,20\]/);
  const grads = [tf.randomNormal([24, 20])];
  const p0 = shard.begin(grads, null);
  const b = coordinator.combine(0, [p0]);
  assert.ok("broadcast" in b);
  assert.throws(() => shard.round(1, [new Float32Array(5)]), /P̂ of "w" of 48 values/);
  tf.dispose([g, ...grads]);
  shard.dispose();
  coordinator.dispose();
});
