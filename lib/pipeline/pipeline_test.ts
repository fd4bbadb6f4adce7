import assert from "node:assert/strict";
import { join } from "node:path";
import { canTrace, initBackend, tf, traceTotals } from "../backend/mod.ts";
import { createDvae } from "../dvae/mod.ts";
import { createPrior } from "../prior/mod.ts";
import { createReranker } from "../rerank/mod.ts";
import { BpeTokenizer } from "../tokenizer/mod.ts";
import {
  MANIFEST_FILE,
  MANIFEST_VERSION,
  Pipeline,
  PipelineManifestError,
  sha256Hex,
} from "./mod.ts";

await initBackend();

const CAPTIONS = ["a red circle", "a blue square", "a green star left of a red circle"];

/** Untrained parts that fit: 8×8 images on a 4×4 grid of 16 codes. */
function parts(withReranker = true) {
  const tokenizer = BpeTokenizer.train(CAPTIONS, { vocabSize: 268 });
  const textLen = 24;
  const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8, seed: 1 });
  const prior = createPrior({
    textLen,
    textVocab: tokenizer.vocabSize,
    padId: tokenizer.padId,
    imageGrid: dvae.gridSize,
    imageVocab: 16,
    dModel: 16,
    layers: 2,
    heads: 2,
    seed: 2,
  });
  const reranker = withReranker
    ? createReranker({
      textLen,
      textVocab: tokenizer.vocabSize,
      padId: tokenizer.padId,
      imageSize: 8,
      imageChannels: [8, 8],
      textWidth: 16,
      embedDim: 16,
      seed: 3,
    })
    : null;
  return new Pipeline(tokenizer, dvae, prior, reranker);
}

Deno.test("generate: the k best of n, sorted by the reranker's score; leak-free", async () => {
  const pipeline = parts();
  const before = tf.memory().numTensors;
  const out = await pipeline.generate(CAPTIONS[2], { n: 6, k: 3, seed: 4 });
  assert.deepEqual(out.images.shape, [3, 8, 8, 3]);
  assert.equal(out.drawn, 6);
  assert.equal(out.tokens.length, 3 * 16);
  for (let i = 1; i < 3; i++) assert.ok(out.scores[i - 1] >= out.scores[i], `${out.scores}`);
  const all = await pipeline.generate(CAPTIONS[2], { n: 6, k: 6, seed: 4 });
  assert.deepEqual(all.order.slice(0, 3), out.order, "the same draws, the same ranking");
  assert.deepEqual(all.scores.slice(0, 3), out.scores);
  assert.deepEqual([...all.order].sort(), [0, 1, 2, 3, 4, 5]);
  tf.dispose([out.images, all.images]);
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(() => pipeline.generate(CAPTIONS[0], { n: 2, k: 3 }), /k must be/);
  await assert.rejects(() => pipeline.generate("  "), /non-empty string/);
  pipeline.dispose();
  const plain = parts(false);
  await assert.rejects(() => plain.generate(CAPTIONS[0], { n: 4, k: 1 }), /has no reranker/);
  const unranked = await plain.generate(CAPTIONS[0], { n: 2 });
  assert.deepEqual(unranked.order, [0, 1]);
  assert.ok(unranked.scores.every(Number.isNaN));
  unranked.images.dispose();
  plain.dispose();
});

Deno.test("save → load gives the same generations for a seed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pipeline = parts();
    await pipeline.save(dir, { note: "test" });
    const manifest = JSON.parse(await Deno.readTextFile(join(dir, MANIFEST_FILE)));
    assert.equal(manifest.version, MANIFEST_VERSION);
    assert.deepEqual(Object.keys(manifest.parts), ["tokenizer", "dvae", "prior", "reranker"]);
    for (const part of Object.values(manifest.parts) as { file: string; sha256: string }[]) {
      assert.ok(!part.file.includes("/"), `${part.file}: a plain name beside the manifest`);
      assert.equal(part.sha256, await sha256Hex(await Deno.readFile(join(dir, part.file))));
    }
    const loaded = await Pipeline.load(dir);
    for (const p of [pipeline, loaded]) assert.ok(p.reranker);
    const [a, b] = [
      await pipeline.generate(CAPTIONS[1], { n: 4, k: 2, seed: 9, temperature: 0.8 }),
      await loaded.generate(CAPTIONS[1], { n: 4, k: 2, seed: 9, temperature: 0.8 }),
    ];
    assert.deepEqual(b.tokens, a.tokens);
    assert.deepEqual(b.scores, a.scores);
    assert.deepEqual(b.images.dataSync(), a.images.dataSync());
    tf.dispose([a.images, b.images]);
    pipeline.dispose();
    loaded.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("complete keeps the image's top rows and draws the rest", async () => {
  const pipeline = parts();
  const image = tf.randomUniform([1, 8, 8, 3], 0, 1, "float32", 5) as tf.Tensor4D;
  const top = tf.tidy(() => pipeline.dvae.encode(image)).dataSync().slice(0, 2 * 4);
  const out = await pipeline.complete(CAPTIONS[0], image, 2, { n: 3, k: 2, seed: 1 });
  for (let j = 0; j < 2; j++) assert.deepEqual(out.tokens.slice(j * 16, j * 16 + 8), top);
  await assert.rejects(() => pipeline.complete(CAPTIONS[0], image, 4), /rows must be/);
  tf.dispose([image, out.images]);
  pipeline.dispose();
});

Deno.test("a mismatched manifest or part is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => Pipeline.load(dir),
      PipelineManifestError,
      `has no ${MANIFEST_FILE}`,
    );
    const pipeline = parts();
    await pipeline.save(dir);
    pipeline.dispose();
    const path = join(dir, MANIFEST_FILE);
    const manifest = JSON.parse(await Deno.readTextFile(path));
    const edit = async (change: (m: typeof manifest) => void) => {
      const copy = structuredClone(manifest);
      change(copy);
      await Deno.writeTextFile(path, JSON.stringify(copy));
    };
    await edit((m) => (m.parts.prior.config.dModel = 32));
    await assert.rejects(
      () => Pipeline.load(dir),
      (err: Error) =>
        err instanceof PipelineManifestError &&
        /its prior \(.*prior\.safetensors\) does not match the manifest: dModel is 32 in the manifest, 16 in the file/
          .test(err.message),
    );
    await edit((m) => (m.version = 3));
    await assert.rejects(() => Pipeline.load(dir), /has version 3; this toolkit reads version 2/);
    await edit((m) => (m.parts.dvae.file = "elsewhere.safetensors"));
    await assert.rejects(
      () => Pipeline.load(dir),
      PipelineManifestError,
      `its dvae file ${join(dir, "elsewhere.safetensors")} is missing`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const { tokenizer, dvae, prior, reranker } = parts();
  const wide = createPrior({ ...prior.config, imageVocab: 32 });
  assert.throws(
    () => new Pipeline(tokenizer, dvae, wide),
    /the prior's image vocabulary is 32 but the dVAE has 16 codes/,
  );
  [dvae, prior, wide, reranker!].forEach((m) => m.dispose());
});

Deno.test("a manifest written before a reranker field existed loads as its default; a differing value does not", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pipeline = parts();
    await pipeline.save(dir);
    pipeline.dispose();
    const path = join(dir, MANIFEST_FILE);
    const manifest = JSON.parse(await Deno.readTextFile(path));
    assert.equal(manifest.parts.reranker.config.imageStageDepth, 0);
    delete manifest.parts.reranker.config.imageStageDepth;
    await Deno.writeTextFile(path, JSON.stringify(manifest));
    (await Pipeline.load(dir)).dispose();
    manifest.parts.reranker.config.imageStageDepth = 1;
    await Deno.writeTextFile(path, JSON.stringify(manifest));
    await assert.rejects(
      () => Pipeline.load(dir),
      (err: Error) => err instanceof PipelineManifestError && /imageStageDepth/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate and complete draw the same candidates compiled and eager", async () => {
  const pipeline = parts();
  const image = tf.randomUniform([1, 8, 8, 3], 0, 1, "float32", 6) as tf.Tensor4D;
  const draws = async (compile?: boolean) => [
    await pipeline.generate(CAPTIONS[2], { n: 5, k: 5, seed: 3, compile }),
    await pipeline.complete(CAPTIONS[0], image, 1, { n: 3, k: 3, seed: 8, compile }),
  ];
  const eager = await draws(false);
  const before = traceTotals();
  const compiled = await draws(true);
  // Where the backend traces, the compiled draws did run as calls of a traced graph.
  if (canTrace()) assert.ok(traceTotals().compiled > before.compiled);
  const byDefault = await draws();
  for (const i of [0, 1]) {
    assert.deepEqual(compiled[i].tokens, eager[i].tokens);
    assert.deepEqual(compiled[i].order, eager[i].order);
    assert.deepEqual(byDefault[i].tokens, eager[i].tokens);
  }
  tf.dispose([image, ...[...eager, ...compiled, ...byDefault].map((g) => g.images)]);
  pipeline.dispose();
});
