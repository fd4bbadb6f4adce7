import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { Rng } from "../io/mod.ts";
import {
  createPrior,
  type PickOptions,
  pickTokens,
  type Prior,
  type PriorConfig,
  type SampleOptions,
} from "./mod.ts";

/** Whether the tensorflow backend (tfjs-node) starts here; its tests are skipped where not. */
const HAS_TENSORFLOW = await initBackend("tensorflow").then(() => true, () => false);
await initBackend("wasm");

const T = 4, n = 4, V = 16;
const CONFIG: PriorConfig = {
  textLen: T,
  textVocab: 24,
  imageGrid: n,
  imageVocab: V,
  dModel: 16,
  layers: 5, // row, column, row, row, conv
  heads: 2,
  convKernel: 3,
  seed: 7,
};
const CAPTIONS = [new Int32Array([3, 9, 22, 22]), new Int32Array([5, 1, 17, 22])]; // 22 = pad

/** Full-forward image logits (B, n², V) of the sampled streams. */
function fullLogits(
  prior: Prior,
  texts: Int32Array[],
  count: number,
  tokens: Int32Array,
): number[][][] {
  const batch = texts.length * count;
  const text = new Int32Array(batch * T);
  for (let b = 0; b < batch; b++) text.set(texts[Math.floor(b / count)], b * T);
  const textT = tf.tensor2d(text, [batch, T], "int32");
  const imageT = tf.tensor2d(tokens, [batch, n * n], "int32");
  const { textLogits, imageLogits } = prior.forward(textT, imageT);
  const out = imageLogits.arraySync();
  tf.dispose([textT, imageT, textLogits, imageLogits]);
  return out;
}

function topIndices(row: ArrayLike<number>, k: number): Set<number> {
  return new Set(
    Array.from(row, (v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, k).map((e) => e[1]),
  );
}

for (const kvCache of ["concat", "preallocated"] as const) {
  Deno.test(`KV-cached sampling (${kvCache}) gives the full forward pass's logits at every step (1e-4)`, async () => {
    const prior = createPrior(CONFIG);
    for (const prime of [undefined, new Int32Array([4, 8, 15, 11, 2])]) {
      const count = 3;
      const result = await prior.sample({
        text: CAPTIONS,
        count,
        seed: 2,
        prime,
        kvCache,
        returnLogits: true,
      });
      const k = prime?.length ?? 0;
      assert.equal(result.primeLength, k);
      assert.equal(result.logits!.length, n * n - k);
      const full = fullLogits(prior, CAPTIONS, count, result.tokens);
      let worst = 0;
      for (let a = k; a < n * n; a++) {
        const cached = result.logits![a - k];
        for (let b = 0; b < result.batch; b++) {
          for (let v = 0; v < V; v++) {
            worst = Math.max(worst, Math.abs(cached[b * V + v] - full[b][a][v]));
          }
        }
      }
      assert.ok(worst < 1e-4, `max |cached − full| = ${worst}`);
      if (prime) {
        for (let b = 0; b < result.batch; b++) {
          assert.deepEqual(
            Array.from(result.tokens.subarray(b * n * n, b * n * n + k)),
            Array.from(prime),
          );
        }
      }
    }
    prior.dispose();
  });
}

Deno.test("temperature 0 takes the argmax at every step, and small temperatures approach it", async () => {
  const prior = createPrior(CONFIG);
  const greedy = await prior.sample({
    text: CAPTIONS,
    count: 2,
    temperature: 0,
    returnLogits: true,
  });
  for (let a = 0; a < n * n; a++) {
    for (let b = 0; b < greedy.batch; b++) {
      const row = greedy.logits![a].subarray(b * V, (b + 1) * V);
      const best = row.indexOf(Math.max(...row));
      assert.equal(greedy.tokens[b * n * n + a], best, `row ${b} position ${a}`);
    }
  }
  const cold = await prior.sample({ text: CAPTIONS, count: 2, temperature: 1e-4, seed: 9 });
  assert.deepEqual(cold.tokens, greedy.tokens);
  const warm = await prior.sample({ text: CAPTIONS, count: 2, temperature: 1, seed: 9 });
  assert.notDeepEqual(warm.tokens, greedy.tokens);
  prior.dispose();
});

Deno.test("top-k never draws outside the k best (hot sampling without it does)", async () => {
  const prior = createPrior(CONFIG);
  const outside = async (topK: number | undefined) => {
    const r = await prior.sample({
      text: CAPTIONS,
      count: 8,
      temperature: 3,
      topK,
      seed: 4,
      returnLogits: true,
    });
    let count = 0;
    for (let a = 0; a < n * n; a++) {
      for (let b = 0; b < r.batch; b++) {
        const best = topIndices(r.logits![a].subarray(b * V, (b + 1) * V), 3);
        if (!best.has(r.tokens[b * n * n + a])) count++;
      }
    }
    return count;
  };
  assert.equal(await outside(3), 0);
  assert.ok((await outside(undefined)) > 50); // hot sampling strays, so the check can fail
  prior.dispose();
});

Deno.test("top-p draws only from the smallest set of best tokens whose mass reaches p", () => {
  const logits = tf.tensor2d([[Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]]);
  const tiled = tf.tile(logits, [400, 1]) as tf.Tensor2D;
  const seen = (topP: number) => {
    const drawn = pickTokens(tiled, { topP, seed: 1 });
    const ids = new Set(drawn.dataSync());
    drawn.dispose();
    return [...ids].sort();
  };
  assert.deepEqual(seen(0.45), [0]); // 0.5 alone reaches 0.45
  assert.deepEqual(seen(0.7), [0, 1]); // 0.5 + 0.3
  assert.deepEqual(seen(0.9), [0, 1, 2]);
  assert.deepEqual(seen(1), [0, 1, 2, 3]);
  tf.dispose([logits, tiled]);
});

Deno.test("the same seed gives the same samples; another seed other samples", async () => {
  const prior = createPrior(CONFIG);
  const a = await prior.sample({ text: CAPTIONS[0], count: 4, seed: 5 });
  const b = await prior.sample({ text: CAPTIONS[0], count: 4, seed: 5 });
  const c = await prior.sample({ text: CAPTIONS[0], count: 4, seed: 6 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
  // Samples of one caption differ from each other (the batch is not one sample repeated).
  assert.notDeepEqual(a.tokens.subarray(0, n * n), a.tokens.subarray(n * n, 2 * n * n));
  prior.dispose();
});

Deno.test("sampling leaks no tensors and rejects bad options with what came", async () => {
  const prior = createPrior(CONFIG);
  const before = tf.memory().numTensors;
  for (const kvCache of ["concat", "preallocated"] as const) {
    await prior.sample({
      text: CAPTIONS,
      count: 2,
      topK: 4,
      topP: 0.9,
      kvCache,
      prime: new Int32Array([1, 2]),
    });
  }
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(() => prior.sample({ text: new Int32Array(3) }), /textLen = 4 ids, got 3/);
  await assert.rejects(
    () => prior.sample({ text: CAPTIONS[0], prime: new Int32Array(16) }),
    /length < 16, got 16/,
  );
  await assert.rejects(
    () => prior.sample({ text: CAPTIONS[0], topK: 17 }),
    /topK must be an integer in \[1, 16\], got 17/,
  );
  await assert.rejects(() => prior.sample({ text: CAPTIONS[0], temperature: -1 }), /temperature/);
  await assert.rejects(
    () => prior.sample({ text: new Int32Array([0, 0, 0, 99]) }),
    /\[0, 24\), got 99/,
  );
  // A misspelt option would sample at the default temperature without a word.
  await assert.rejects(
    () => prior.sample({ text: CAPTIONS[0], temprature: 0.5 } as SampleOptions),
    (e: Error) =>
      e.constructor === TypeError &&
      e.message ===
        'prior.sample: unknown option "temprature" (did you mean "temperature"?); known ' +
          "options: text, count, temperature, topK, topP, seed, prime, kvCache, returnLogits, " +
          "onProgress",
  );
  const logits = tf.zeros([1, 16]) as tf.Tensor2D;
  assert.throws(
    () => pickTokens(logits, { top_k: 3 } as PickOptions),
    /pickTokens: unknown option "top_k" \(did you mean "topK"\?\); known options: temperature, topK, topP, seed$/,
  );
  logits.dispose();
  assert.equal(tf.memory().numTensors, before);
  prior.dispose();
});

type SamplerBackend = "wasm" | "cpu" | "tensorflow";

/** Options drawn with on every backend: plain sampling, and filtered sampling of a completion. */
const REPRODUCED: Omit<SampleOptions, "text">[] = [
  { count: 4, seed: 11 },
  { count: 3, seed: 12, temperature: 1.5, topK: 6, topP: 0.8, prime: new Int32Array([4, 8, 15]) },
];

/** The tokens of every REPRODUCED run, twice each, on a backend (then back on wasm). */
async function sampleOn(backend: SamplerBackend): Promise<Int32Array[][]> {
  await initBackend(backend);
  try {
    const prior = createPrior(CONFIG); // seeded: the same weights on every backend
    const runs: Int32Array[][] = [];
    for (const options of REPRODUCED) {
      const twice: Int32Array[] = [];
      for (let i = 0; i < 2; i++) {
        twice.push((await prior.sample({ text: CAPTIONS, ...options })).tokens);
      }
      runs.push(twice);
    }
    prior.dispose();
    return runs;
  } finally {
    await initBackend("wasm");
  }
}

for (const backend of ["wasm", "cpu", "tensorflow"] as const) {
  Deno.test({
    name: `on ${backend}, the same seed draws the same tokens twice`,
    ignore: backend === "tensorflow" && !HAS_TENSORFLOW,
    fn: async () => {
      for (const [first, second] of await sampleOn(backend)) assert.deepEqual(second, first);
    },
  });
}

for (const backend of ["cpu", "tensorflow"] as const) {
  Deno.test({
    name: `the same seed draws the same tokens on wasm and ${backend}`,
    ignore: backend === "tensorflow" && !HAS_TENSORFLOW,
    fn: async () => {
      const reference = await sampleOn("wasm");
      const other = await sampleOn(backend);
      reference.forEach(([tokens], i) => assert.deepEqual(other[i][0], tokens, `options ${i}`));
    },
  });
}

/** P(0..3) of the fixed distribution of the draw checks. */
const FOUR_WAY = [0.5, 0.3, 0.15, 0.05];

/** Draws `rows` tokens from FOUR_WAY with pickTokens, on the current backend. */
function drawFourWay(rows: number, seed: number): Int32Array {
  const logits = tf.tile(tf.tensor2d([FOUR_WAY.map(Math.log)]), [rows, 1]) as tf.Tensor2D;
  const drawn = pickTokens(logits, { seed });
  const ids = drawn.dataSync() as Int32Array;
  tf.dispose([logits, drawn]);
  return ids;
}

Deno.test("draws follow the distribution (chi-square) and invert its CDF at the toolkit Rng's uniforms", async () => {
  const rows = 4000;
  const backends: SamplerBackend[] = HAS_TENSORFLOW
    ? ["wasm", "cpu", "tensorflow"]
    : ["wasm", "cpu"];
  try {
    for (const backend of backends) {
      await initBackend(backend);
      const ids = drawFourWay(rows, 3);
      const counts = [0, 0, 0, 0];
      for (const id of ids) counts[id]++;
      // Pearson's statistic, 3 degrees of freedom: P(χ² > 16.27) = 0.001 for a correct sampler.
      const chi2 = FOUR_WAY.reduce((s, p, k) => s + (counts[k] - rows * p) ** 2 / (rows * p), 0);
      assert.ok(chi2 < 16.27, `${backend}: counts ${counts}, χ² = ${chi2.toFixed(2)}`);
      // Row b inverts the CDF at the b-th uniform of new Rng(seed), away from float ties.
      const rng = new Rng(3);
      const cdf = [0.5, 0.8, 0.95, 1];
      for (let b = 0; b < rows; b++) {
        const u = rng.next();
        if (cdf.some((c) => Math.abs(u - c) < 1e-5)) continue;
        assert.equal(ids[b], cdf.findIndex((c) => u < c), `${backend}: row ${b}, u = ${u}`);
      }
      assert.notDeepEqual(drawFourWay(rows, 4), ids, `${backend}: another seed, other draws`);
    }
  } finally {
    await initBackend("wasm");
  }
});
