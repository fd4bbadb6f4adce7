/**
 * prior_shapes.ts's reranker trained in a second process beside the prior is the reranker it
 * trains in its own process: the same data, seeds and steps give the same weights.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../lib/backend/mod.ts";
import { makeShapes } from "../lib/data/mod.ts";
import { createDvae, saveDvae } from "../lib/dvae/mod.ts";
import { RERANKER_RECIPE } from "../lib/pipeline/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import {
  type RerankerJob,
  startRerankerBeside,
  trainShapesReranker,
} from "../experiments/_shapes_reranker.ts";

const backend = await initBackend();

Deno.test("a reranker trained beside the prior equals the one trained in process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const train = await makeShapes({ count: 64, seed: 3, split: "train" });
    const tokenizer = BpeTokenizer.train(train.captions, { vocabSize: 320, allowSmaller: true });
    const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 32, seed: 1 });
    const job: RerankerJob = {
      dvae: join(dir, "dvae.safetensors"),
      tokenizer: join(dir, "tokenizer.json"),
      trainCount: 64,
      trainSeed: 3,
      recipe: { ...RERANKER_RECIPE, nearMisses: 2 },
      steps: 3,
      seed: 5,
      workers: 1,
      compile: true,
      backend,
      out: join(dir, "reranker.safetensors"),
    };
    await saveDvae(job.dvae, dvae);
    await tokenizer.save(job.tokenizer);
    const beside = await startRerankerBeside(job, join(dir, "job.json"));
    const here = await trainShapesReranker(job, train, tokenizer, dvae);
    const there = await beside.result();
    const weights = (r: typeof here) => r.parameters().map((p) => p.dataSync() as Float32Array);
    const [a, b] = [weights(here), weights(there)];
    assert.equal(a.length, b.length);
    let worst = 0;
    a.forEach((w, i) => w.forEach((v, j) => worst = Math.max(worst, Math.abs(v - b[i][j]))));
    assert.ok(worst <= 1e-6, `largest weight difference ${worst}`);
    // The negative control: another seed's reranker is told apart by the same comparison.
    const other = await trainShapesReranker({ ...job, seed: 6 }, train, tokenizer, dvae);
    const c = weights(other);
    let apart = 0;
    a.forEach((w, i) => w.forEach((v, j) => apart = Math.max(apart, Math.abs(v - c[i][j]))));
    assert.ok(apart > 1e-3, `another seed differs by only ${apart}`);
    other.dispose();
    // Its files are gone once loaded (the pipeline saves its own copy); the job stays.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "dvae.safetensors",
      "job.json",
    ]);
    // A process that fails says so.
    const broken = await startRerankerBeside(
      { ...job, dvae: join(dir, "missing.safetensors") },
      join(dir, "broken.json"),
    );
    await assert.rejects(() => broken.result(), /reranker's process failed/);
    here.dispose();
    there.dispose();
    dvae.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
