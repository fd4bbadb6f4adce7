import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import { CheckpointMismatchError, CorruptFileError } from "../io/mod.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  Linear,
  loadWeights,
  saveWeights,
} from "../nn/mod.ts";
import { createReranker, loadReranker, type RerankerConfig, saveReranker } from "./mod.ts";

await initBackend();

const TINY: RerankerConfig = {
  textLen: 5,
  textVocab: 30,
  textWidth: 8,
  textLayers: 1,
  textHeads: 2,
  imageSize: 8,
  imageChannels: [4],
  embedDim: 8,
  seed: 2,
};

Deno.test("saveReranker / loadReranker: the same embeddings and metadata; into a model of the same config", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rerank.safetensors`;
  const model = createReranker(TINY);
  model.logitScale.assign(tf.scalar(3.5));
  await saveReranker(path, model, { tokenizer: "tok.json" });
  const { model: loaded, metadata } = await loadReranker(path);
  assert.equal(metadata.tokenizer, "tok.json");
  assert.deepEqual(loaded.config, model.config);
  assert.equal(loaded.scale(), model.scale());
  const ids = tf.tensor2d([[1, 2, 29, 28, 28]], [1, 5], "int32");
  const pics = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const [a, b] = [model, loaded].map((m) => m.score(ids, pics));
  assert.deepEqual(a.dataSync(), b.dataSync());
  // Another seed is the same configuration: only the initial weights differ.
  const other = createReranker({ ...TINY, seed: 9 });
  const { model: filled } = await loadReranker(path, { into: other });
  assert.equal(filled, other);
  const c = other.score(ids, pics);
  assert.deepEqual(c.dataSync(), a.dataSync());
  tf.dispose([ids, pics, a, b, c]);
  [model, loaded, other].forEach((m) => m.dispose());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadReranker: another configuration, no configuration, no file: clear errors, model unchanged", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rerank.safetensors`;
  const model = createReranker(TINY);
  await saveReranker(path, model);
  const wider = createReranker({ ...TINY, embedDim: 16 });
  const before = wider.parameters().map((p) => p.dataSync().slice());
  await assert.rejects(
    () => loadReranker(path, { into: wider }),
    (err: Error) => {
      assert.ok(err instanceof CheckpointMismatchError, err.name);
      assert.match(err.message, /another configuration: embedDim is 8 in the file but 16/);
      return true;
    },
  );
  const padded = createReranker({ ...TINY, padId: 3 }); // same shapes, another meaning
  await assert.rejects(
    () => loadReranker(path, { into: padded }),
    /padId is 28 in the file but 3 in the model/,
  );
  wider.parameters().forEach((p, i) => assert.deepEqual(p.dataSync(), before[i]));
  const plain = new Linear(2, 2);
  await saveWeights(`${dir}/plain.safetensors`, plain);
  await assert.rejects(
    () => loadReranker(`${dir}/plain.safetensors`),
    (err: Error) =>
      err instanceof CorruptFileError && /no reranker configuration/.test(err.message),
  );
  await assert.rejects(() => loadReranker(`${dir}/none.safetensors`), /no reranker at .*none/);
  [model, wider, padded, plain].forEach((m) => m.dispose());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadReranker reads files written before the text blocks were lib/nn's TransformerBlock", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = createReranker(TINY);
    const path = `${dir}/rerank.safetensors`;
    await saveReranker(path, model);
    // The same file as the old code wrote it: text.block0.qkv.*, not text.block0.attention.qkv.*.
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path), path);
    const legacy = [...tensors].map(([name, t]) =>
      [name.replace(/^(text\.block\d+)\.attention\.(qkv|proj)\./, "$1.$2."), t] as const
    );
    assert.ok(legacy.some(([name]) => name === "text.block0.qkv.weight"));
    const old = `${dir}/old.safetensors`;
    const held = legacy.map(([n, t]) => [n, tf.tensor(t.data, t.shape)] as [string, tf.Tensor]);
    await Deno.writeFile(old, encodeSafetensors(held, metadata));
    tf.dispose(held.map(([, t]) => t));
    const { model: loaded } = await loadReranker(old);
    const ids = tf.tensor2d([[1, 2, 29, 28, 28]], [1, 5], "int32");
    const pics = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    const [a, b] = [model, loaded].map((m) => m.score(ids, pics));
    assert.deepEqual(a.dataSync(), b.dataSync());
    // Negative control: without the mapping the old names are a mismatch, not silently skipped.
    await assert.rejects(() => loadWeights(old, createReranker(TINY)), CheckpointMismatchError);
    tf.dispose([ids, pics, a, b]);
    model.dispose();
    loaded.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
