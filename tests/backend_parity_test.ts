/**
 * Backend parity of one training step: the dVAE's and the prior's loss and gradients, computed by
 * the very functions their trainers call (the gradient tasks lib/dvae/_grad_task.ts and
 * lib/prior/_grad_task.ts, as one shard holding the whole batch), must agree between `wasm` and `tensorflow` to a relative 1e-4 per
 * tensor (max |a − b| / max |b|, b from tensorflow).
 *
 * Both backends start from the same weights (copied value by value from the first model built) and
 * the same inputs; the step's randomness (Gumbel noise, dropout masks) comes from seeded
 * `tf.randomUniform`, which tfjs-core draws in JavaScript, so it is backend independent too. The
 * `cpu` backend computes the same step as a referee, so that a failure says which backend is off:
 * always for the prior, and for the dVAE (whose cpu convolutions take ~30 s here) only when wasm
 * and tensorflow disagree. A gradient table per parameter group is printed.
 *
 * The tensorflow half is skipped, with its reason printed, where that backend cannot start.
 *
 * @module
 */
import assert from "node:assert/strict";
import { initBackend, tf } from "../lib/backend/mod.ts";
import { Rng } from "../lib/io/mod.ts";
import type { Module } from "../lib/nn/mod.ts";
import { createDvae, type DvaeConfig } from "../lib/dvae/model.ts";
import * as dvaeTask from "../lib/dvae/_grad_task.ts";
import { createPrior } from "../lib/prior/model.ts";
import type { PriorConfig } from "../lib/prior/config.ts";
import * as priorTask from "../lib/prior/_grad_task.ts";

/** Where tensorflow cannot start, why (the test that needs it is ignored and says so). */
const tensorflowMissing: string | null = await initBackend("tensorflow").then(
  () => null,
  (err: Error) => err.message,
);
if (tensorflowMissing) console.warn(`backend parity: tensorflow skipped: ${tensorflowMissing}`);

const TOLERANCE = 1e-4;

/** A model's weights by name, as plain arrays. */
type Weights = Map<string, Float32Array>;

/** One step's figures on one backend: the loss parts and every gradient by parameter name. */
interface Step {
  parts: Float32Array;
  grads: Map<string, Float32Array>;
}

function readWeights(model: Module): Weights {
  return new Map(
    model.namedParameters().map(([name, v]) => [name, Float32Array.from(v.dataSync())]),
  );
}

/** Overwrites a model's weights with `weights` (same names and sizes). */
function writeWeights(model: Module, weights: Weights): void {
  for (const [name, v] of model.namedParameters()) {
    const values = weights.get(name);
    assert.ok(values && values.length === v.size, `weight ${name} missing or resized`);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
}

/**
 * Builds a model on the current backend with `weights` (or its own seeded ones, returned), runs
 * one step, and checks that the step leaves no tensor behind.
 */
function stepOn<M extends Module>(
  build: () => M,
  weights: Weights | null,
  step: (model: M) => { grads: tf.Tensor[]; parts: Float32Array },
): { step: Step; weights: Weights } {
  const model = build();
  if (weights) writeWeights(model, weights);
  const before = tf.memory().numTensors;
  const names = model.namedParameters().map(([name]) => name);
  const { grads, parts } = step(model);
  const out = new Map(names.map((name, i) => [name, Float32Array.from(grads[i].dataSync())]));
  tf.dispose(grads);
  assert.equal(tf.memory().numTensors, before, `${tf.getBackend()}: the step leaks tensors`);
  const used = weights ?? readWeights(model);
  model.dispose();
  return { step: { parts, grads: out }, weights: used };
}

/** max |a − b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num === 0 ? 0 : num / Math.max(den, 1e-30);
}

/** A parameter's group: its name with layer indices folded, e.g. `blocks.*.ln1.gain`. */
function groupOf(name: string): string {
  return name.replace(/\d+/g, "*");
}

/** Worst relative error per parameter group of `got` against `ref`, and the worst overall. */
function compare(got: Step, ref: Step): { groups: Map<string, number>; worst: [string, number] } {
  const groups = new Map<string, number>();
  let worst: [string, number] = ["", 0];
  for (const [name, r] of ref.grads) {
    const g = got.grads.get(name)!;
    const e = relErr(g, r);
    const key = groupOf(name);
    groups.set(key, Math.max(groups.get(key) ?? 0, e));
    if (e >= worst[1]) worst = [name, e];
  }
  return { groups, worst };
}

/**
 * Runs `step` on wasm and tensorflow from one set of weights, prints the worst relative error per
 * parameter group, and asserts wasm ≈ tensorflow within {@link TOLERANCE}. The cpu backend runs
 * the step too, as a referee, always when `cpuReferee` is "always" and otherwise only when the two
 * disagree: a failure then names the backend the referee sides with.
 */
async function checkParity<M extends Module>(
  label: string,
  build: () => M,
  step: (model: M) => { grads: tf.Tensor[]; parts: Float32Array },
  cpuReferee: "always" | "on-failure",
): Promise<void> {
  const ms: Record<string, number> = {};
  const timed = async <T>(name: "wasm" | "tensorflow" | "cpu", run: () => T): Promise<T> => {
    await initBackend(name);
    const t0 = performance.now();
    const out = run();
    ms[name] = Math.round(performance.now() - t0);
    return out;
  };
  const first = await timed("wasm", () => stepOn(build, null, step));
  const wasm = first.step;
  const tensorflow = (await timed("tensorflow", () => stepOn(build, first.weights, step))).step;
  const wasmVsTf = compare(wasm, tensorflow);
  const agree = wasmVsTf.worst[1] < TOLERANCE && relErr(wasm.parts, tensorflow.parts) < TOLERANCE;
  const cpu = cpuReferee === "always" || !agree
    ? (await timed("cpu", () => stepOn(build, first.weights, step))).step
    : null;
  await initBackend("wasm");

  const cpuVsTf = cpu ? compare(cpu, tensorflow) : null;
  const fmt = (x: number) => x.toExponential(1);
  const rows = [...wasmVsTf.groups].map(([g, e]) =>
    `| ${g} | ${fmt(e)} |${cpuVsTf ? ` ${fmt(cpuVsTf.groups.get(g)!)} |` : ""}`
  );
  console.log(
    [
      `\n${label}: loss parts wasm [${Array.from(wasm.parts, fmt)}], ` +
      `tensorflow [${Array.from(tensorflow.parts, fmt)}]`,
      `| parameter group | wasm vs tensorflow |${cpuVsTf ? " cpu vs tensorflow |" : ""}`,
      `|---|---|${cpuVsTf ? "---|" : ""}`,
      ...rows,
      `worst wasm vs tensorflow: ${wasmVsTf.worst[0]} ${fmt(wasmVsTf.worst[1])}; ` +
      `step time (ms, with model set-up): ${JSON.stringify(ms)}`,
    ].join("\n"),
  );
  const partsErr = relErr(wasm.parts, tensorflow.parts);
  assert.ok(partsErr < TOLERANCE, `${label}: loss parts differ by ${fmt(partsErr)}`);
  for (const [name, r] of tensorflow.grads) {
    const e = relErr(wasm.grads.get(name)!, r);
    if (e < TOLERANCE) continue;
    const referee = cpu
      ? `; cpu differs from tensorflow by ${fmt(relErr(cpu.grads.get(name)!, r))} and from ` +
        `wasm by ${fmt(relErr(cpu.grads.get(name)!, wasm.grads.get(name)!))}`
      : "";
    assert.fail(
      `${label}: gradient of ${name} differs by ${fmt(e)} between wasm and tensorflow${referee}`,
    );
  }
  if (cpu) {
    // The referee must side with both, or the agreement above proves little.
    const cpuVsWasm = compare(cpu, wasm).worst;
    assert.ok(cpuVsWasm[1] < TOLERANCE, `${label}: cpu vs wasm: ${cpuVsWasm}`);
  }
}

const DVAE: Partial<DvaeConfig> = {
  imageSize: 32,
  channels: 3,
  hidden: 16,
  groups: 3,
  blocksPerGroup: 1,
  vocabSize: 32,
  decoderInitWidth: 32,
  seed: 11,
};

Deno.test({
  name: "one dVAE step gives the same loss and gradients on wasm and tensorflow (rel 1e-4)",
  ignore: tensorflowMissing !== null,
  fn: async () => {
    const rng = new Rng(5);
    const shape: [number, number, number, number] = [4, 32, 32, 3];
    const pixels = Float32Array.from({ length: 4 * 32 * 32 * 3 }, () => rng.next());
    const shard: dvaeTask.ImageShard = { images: pixels, shape };
    const options = {
      beta: 6.6,
      tau: 1,
      seed: 1234,
      straightThrough: false,
      marginalKlWeight: 0.1,
      infoWeight: 0.1,
      dequantize: false,
      shard: 0,
      shards: 1,
      totals: dvaeTask.targets(shard),
    };
    await checkParity("dVAE", () => createDvae(DVAE), (model) => {
      const { grads, values } = dvaeTask.gradients(model, model.parameters(), shard, options);
      return { grads, parts: values.parts as Float32Array };
    }, "on-failure"); // cpu convs take ~30 s here: only to referee a disagreement
  },
});

const PRIOR: PriorConfig = {
  textLen: 8,
  textVocab: 40,
  imageGrid: 4,
  imageVocab: 32,
  dModel: 32,
  layers: 4, // paper schedule: row, column (transposed, with gathers), row, conv
  heads: 4,
  convKernel: 3,
  dropout: 0.1,
  seed: 7,
};

Deno.test({
  name: "one prior step gives the same loss and gradients on wasm and tensorflow (rel 1e-4)",
  ignore: tensorflowMissing !== null,
  fn: async () => {
    const rng = new Rng(9);
    const rows = 3, T = PRIOR.textLen, n2 = PRIOR.imageGrid ** 2;
    const pad = PRIOR.textVocab - 2;
    // Captions of different lengths, padded: pad embeddings and pad targets are exercised.
    const text = Int32Array.from(
      { length: rows * T },
      (_, i) => (i % T < 3 + Math.floor(i / T) * 2 ? rng.int(pad) : pad),
    );
    const image = Int32Array.from({ length: rows * n2 }, () => rng.int(PRIOR.imageVocab));
    const shard: priorTask.TokenShard = {
      text,
      image,
      rows,
      textLen: T,
      imageTokens: n2,
      padId: pad,
      countPadTargets: true,
    };
    const options = { seed: 321, shard: 0, shards: 1, totals: priorTask.targets(shard) };
    await checkParity("prior", () => createPrior(PRIOR), (prior) => {
      const { grads, values } = priorTask.gradients(prior, prior.parameters(), shard, options);
      return { grads, parts: values.parts as Float32Array };
    }, "always");
  },
});
