/**
 * Bad input gets a clear, typed error and writes nothing: one table of every kind of bad input
 * (images, token ids, captions, checkpoints of another configuration, damaged files, schedule
 * horizons, backend names), each row with the error class it must throw (exactly that class, not
 * a subclass or parent), a pattern its message must match, and a run in a fresh output folder
 * (also the working directory) that must still be empty afterwards, beside an input folder that
 * must hold exactly what the row put there. No row may leak a tensor, and a failed load must
 * leave the model as it was.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultWorkers, initBackend, tf } from "../lib/backend/mod.ts";
import { CheckpointMismatchError, CorruptFileError } from "../lib/io/errors.ts";
import {
  cosine,
  decodeSafetensors,
  linear,
  loadCheckpoint,
  loadWeights,
  saveCheckpoint,
  scaleSteps,
  warmupCosine,
} from "../lib/nn/mod.ts";
import { dvaeObjective, loadDvae, trainDvae, type TrainDvaeOptions } from "../lib/dvae/mod.ts";
import { createPrior, loadPrior, type SampleOptions, trainPrior } from "../lib/prior/mod.ts";
import { createReranker, rerankData, trainReranker } from "../lib/rerank/mod.ts";
import { powerSgd } from "../lib/powersgd/mod.ts";
import { BpeTokenizer } from "../lib/tokenizer/mod.ts";
import { loadFashionMnist, loadImageFolder, makeShapes, parseCaption } from "../lib/data/mod.ts";
import { parseFlags, RunLog, RunMismatchError, UsageError } from "../lib/log/mod.ts";
// plan.ts alone: the rank check, without the reducer's worker machinery.
import { checkRank } from "../lib/powersgd/plan.ts";
import {
  type Fixtures,
  makeFixtures,
  patchBytes,
  PRIOR,
  safetensorsBytes,
  saveGreyDvae,
  smallTokenizer,
  tokens,
  writeFashionMnist,
} from "./_bad_input_fixtures.ts";
import { flipLastBit, linkPriorOut, savePipeline, swapPrior } from "./_bad_pipeline_fixtures.ts";
import { Pipeline, PipelineManifestError } from "../lib/pipeline/mod.ts";

await initBackend();

/** What a row's run gets: its folders, the shared models, and a list of things to free. */
interface Context extends Fixtures {
  /** Output root and working directory: must be empty afterwards. */
  out: string;
  /** Where `setup` put the row's input files. */
  input: string;
  /** Frees `x` after the run (tensors, caches). */
  own<T extends { dispose(): void }>(x: T): T;
}

/** One bad input. */
interface Row {
  name: string;
  /** Writes the row's input files into `input`. */
  setup?: (input: string) => Promise<void>;
  run: (ctx: Context) => unknown;
  error: new (...args: never[]) => Error;
  message: RegExp;
  /** Checks after the error (e.g. that the model is unchanged). */
  after?: (ctx: Context) => void;
}

/** Two steps of a small reranker on 8 scenes of `split`, checkpointing into the row's folder. */
async function trainSmallReranker(
  c: Context,
  split: "train" | "zero-shot",
  options: { lr?: number } = {},
) {
  const set = await makeShapes({ count: 8, seed: 3, split, cache: false });
  const data = rerankData({ ...set, tokenizer: c.tokenizer });
  const model = c.own(createReranker({ textLen: data.textLen, textVocab: data.textVocab }));
  return trainReranker(model, data, {
    steps: 2,
    batchSize: 4,
    workers: 1,
    ...options,
    checkpointPath: join(c.out, "checkpoint.safetensors"),
  });
}

const image = (shape: number[], value = 0.5, dtype: "float32" | "int32" = "float32") =>
  tf.fill<tf.Rank>(shape, value, dtype) as tf.Tensor4D;

/** A prior batch of 4 rows for PRIOR, every id valid but `image[row, position] = id`. */
function priorBatch(bad?: { image: [number, number, number] }) {
  const rows = 4, n2 = PRIOR.imageGrid ** 2;
  const text = Int32Array.from({ length: rows * PRIOR.textLen }, (_, i) => i % 20);
  const image = Int32Array.from({ length: rows * n2 }, (_, i) => i % 100);
  if (bad) image[bad.image[0] * n2 + bad.image[1]] = bad.image[2];
  return { text, image };
}

/** Every parameter of the dVAE, copied: a failed load must leave them all as they were. */
let dvaeBefore: Float32Array[] = [];

const ROWS: Row[] = [
  // --- Images -------------------------------------------------------------------------------------
  {
    name: "dVAE: images of the wrong size and channel count",
    run: (c) => c.dvae.encode(c.own(image([2, 28, 28, 1]))),
    error: RangeError,
    message: /^dVAE expects images of 32×32×3, got 28×28×1$/,
  },
  {
    name: "dVAE: one image without its batch axis",
    run: (c) => c.dvae.reconstruct(c.own(image([32, 32, 3])) as unknown as tf.Tensor4D),
    error: RangeError,
    message: /^dVAE expects a batch of images \(B, 32, 32, 3\), got shape \[32,32,3\]$/,
  },
  {
    name: "dVAE: int32 images",
    run: (c) => c.dvae.encode(c.own(image([1, 32, 32, 3], 1, "int32"))),
    error: TypeError,
    message: /^dVAE expects float32 images in \[0, 1\], got int32 \(bytes\? divide by 255\)$/,
  },
  {
    name: "dVAE objective: bytes 0…255 passed as floats",
    run: (c) => dvaeObjective(c.dvae, c.own(image([2, 32, 32, 3], 255))),
    error: RangeError,
    message: /^dVAE expects pixel values in \[0, 1\], got values in \[255, 255\] \(bytes\? /,
  },
  {
    name: "dVAE: NaN pixels",
    run: (c) => c.dvae.encode(c.own(image([1, 32, 32, 3], NaN))),
    error: RangeError,
    message: /^dVAE expects pixel values in \[0, 1\], got NaN values$/,
  },
  {
    name: "dVAE decode: a token id outside the codebook",
    run: (c) => {
      const ids = new Int32Array(2 * 64).fill(3);
      ids[64 + 2 * 8 + 5] = 600;
      return c.dvae.decode(c.own(tf.tensor3d(ids, [2, 8, 8], "int32")));
    },
    error: RangeError,
    message: /^dVAE: token id 600 at batch row 1, cell \(2, 5\) is outside \[0, 16\)$/,
  },
  {
    name: "judge: images of the wrong size and channel count",
    run: (c) => c.judge.read(c.own(image([3, 28, 28, 1]))),
    error: RangeError,
    message: /^the judge reads 32×32×3 images, got 28×28×1$/,
  },
  {
    name: "judge: bytes 0…255 passed as floats",
    run: (c) => c.judge.read(c.own(image([1, 32, 32, 3], 200))),
    error: RangeError,
    message: /^the judge reads float32 pixels in \[0, 1\], got values in \[200, 200\] \(bytes\?/,
  },
  {
    name: "judge: a batch whose bytes do not match its shape",
    run: (c) =>
      c.judge.read({ data: new Uint8Array(100), count: 2, height: 32, width: 32, channels: 3 }),
    error: RangeError,
    message: /^the judge got an ImageBatch of 2 images of 32×32×3 \(6144 bytes\) holding 100/,
  },
  {
    name: "trainDvae: data of the wrong size, with a checkpoint path",
    run: (c) =>
      trainDvae(c.dvae, c.own(image([8, 28, 28, 1])), {
        steps: 2,
        workers: 1,
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      }),
    error: RangeError,
    message: /^dVAE data: expected images \(N, 32, 32, 3\), got \(8,28,28,1\)$/,
  },
  {
    name: "trainPrior: an image token id outside the codebook, with a checkpoint path",
    run: (c) =>
      trainPrior(c.prior, [priorBatch({ image: [3, 17, 9000] })], {
        steps: 2,
        workers: 1,
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      }),
    error: RangeError,
    message: /^prior: image token id 9000 at batch row 3, position 17 is outside \[0, 8192\)$/,
  },
  {
    name: "trainPrior: a PowerSGD rank larger than the prior's matrices allow",
    run: (c) =>
      trainPrior(c.prior, [priorBatch()], {
        steps: 2,
        workers: 1,
        reducer: powerSgd({ rank: 64 }),
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      }),
    error: RangeError,
    message:
      /^powerSgd rank 64 is larger than the gradients allow: the largest rank at which a matrix is compressed is 7, by "imageEmbedding.weight" \(8192 × 16 matrix view, minCompressionRate 2\)$/,
  },
  {
    name: "trainReranker: zero-shot scenes (held-out compositions), with a checkpoint path",
    run: (c) => trainSmallReranker(c, "zero-shot"),
    error: RangeError,
    message:
      /^the reranker trains on a "train" split only \(never test, zero-shot or generated images\), got split "zero-shot"$/,
  },
  {
    name: "trainPrior --resume: a checkpoint of a prior of another width",
    setup: async (input) => {
      const wide = createPrior({ ...PRIOR, dModel: 32 });
      await saveCheckpoint(join(input, "checkpoint.safetensors"), {
        model: wide,
        step: 1,
        config: { model: wide.config },
      });
      wide.dispose();
    },
    run: (c) =>
      trainPrior(c.prior, [priorBatch()], {
        steps: 2,
        workers: 1,
        checkpointPath: join(c.input, "checkpoint.safetensors"),
        resume: true,
      }),
    error: CheckpointMismatchError,
    message:
      /checkpoint\.safetensors does not match the model \(saved from another configuration\?\): "model\.textPosition" is \[4,32\] in the file but the model expects \[4,16\]/,
  },
  // --- Token ids ----------------------------------------------------------------------------------
  {
    name: "prior loss: an image token id outside the codebook",
    run: (c) => c.prior.loss(c.own(tokens(4, 4)), c.own(tokens(4, 25, [3, 17, 9000]))),
    error: RangeError,
    message: /^prior: image token id 9000 at batch row 3, position 17 is outside \[0, 8192\)$/,
  },
  {
    name: "prior forward: a text token id outside the vocabulary",
    run: (c) => c.prior.forward(c.own(tokens(2, 4, [0, 2, 24])), c.own(tokens(2, 25))),
    error: RangeError,
    message: /^prior: text token id 24 at batch row 0, position 2 is outside \[0, 24\)$/,
  },
  {
    name: "prior forward: a negative image id",
    run: (c) => c.prior.forward(c.own(tokens(1, 4)), c.own(tokens(1, 25, [0, 0, -1]))),
    error: RangeError,
    message: /^prior: image token id -1 at batch row 0, position 0 is outside \[0, 8192\)$/,
  },
  {
    name: "prior loss: captions of the wrong length",
    run: (c) => c.prior.loss(c.own(tokens(1, 3)), c.own(tokens(1, 25))),
    error: RangeError,
    message: /^prior: text must have shape \[B,4\], got \[1,3\]$/,
  },
  {
    name: "prior loss: float ids",
    run: (c) => c.prior.loss(c.own(tf.zeros([1, 4])) as tf.Tensor2D, c.own(tokens(1, 25))),
    error: TypeError,
    message: /^prior: text must be int32, got float32$/,
  },
  {
    name: "prior extend: a sampled id outside the codebook after a primed prefill",
    run: (c) => {
      const cache = c.own(c.prior.emptyCache(1));
      c.own(c.prior.extend(cache, { text: c.own(tokens(1, 4)), image: c.own(tokens(1, 3)) }));
      return c.prior.extend(cache, { image: c.own(tokens(1, 1, [0, 0, 8192])) });
    },
    error: RangeError,
    message: /^prior: image token id 8192 at batch row 0, position 3 is outside \[0, 8192\)$/,
  },
  {
    name: "prior sample: caption ids outside the vocabulary",
    run: (c) => c.prior.sample({ text: [new Int32Array(4), Int32Array.of(1, 2, 3, 99)] }),
    error: RangeError,
    message: /^prior\.sample: text id at caption 1, position 3 must be in \[0, 24\), got 99$/,
  },
  {
    name: "tokenizer decode: an id outside the vocabulary",
    run: (c) => c.tokenizer.decode([97, 9999]),
    error: RangeError,
    message:
      /^tokenizer: token id 9999 at position 1 is not an id of this vocabulary: expected an integer in \[0, 266\)$/,
  },
  // --- Captions -----------------------------------------------------------------------------------
  {
    name: "tokenizer encodeBatch: an empty caption",
    run: (c) => c.tokenizer.encodeBatch(["a red star", "  "], { textLen: 8 }),
    error: RangeError,
    message: /^tokenizer: caption 1 is empty \(" {2}"\); a caption needs at least one token/,
  },
  {
    name: "tokenizer encodeBatch: a caption that is not a string",
    run: (c) => c.tokenizer.encodeBatch(["a red star", 7 as unknown as string]),
    error: TypeError,
    message: /^tokenizer: caption 1 must be a string, got number$/,
  },
  {
    name: "shapes grammar: an empty caption",
    run: () => parseCaption(""),
    error: SyntaxError,
    message: /^not a caption of the shapes grammar: the caption is empty \(""\)$/,
  },
  // --- Checkpoints of another configuration -----------------------------------------------------
  {
    name: "loadWeights: a dVAE saved for grey images into an RGB dVAE",
    setup: (input) => saveGreyDvae(join(input, "grey.safetensors")),
    run: (c) => loadWeights(join(c.input, "grey.safetensors"), c.dvae),
    error: CheckpointMismatchError,
    message:
      /grey\.safetensors does not match the model \(saved from another configuration\?\): "encoder\.input\.weight" is \[7,7,1,8\] in the file but the model expects \[7,7,3,8\]; "decoder\.output\.weight" is \[1,1,8,2\] in the file but the model expects \[1,1,8,6\]; "decoder\.output\.bias" is \[2\] in the file but the model expects \[6\]$/,
    after: (c) =>
      c.dvae.parameters().forEach((p, i) =>
        assert.deepEqual(p.dataSync(), dvaeBefore[i], "a failed load changed the dVAE")
      ),
  },
  {
    name: "loadCheckpoint: a prior of another width",
    setup: async (input) => {
      const wide = createPrior({ ...PRIOR, dModel: 32 });
      await saveCheckpoint(join(input, "wide.safetensors"), { model: wide, step: 3 });
      wide.dispose();
    },
    run: (c) => loadCheckpoint(join(c.input, "wide.safetensors"), { model: c.prior }),
    error: CheckpointMismatchError,
    message: /"model\.textPosition" is \[4,32\] in the file but the model expects \[4,16\]/,
  },
  // --- Truncated or corrupt files -----------------------------------------------------------------
  {
    name: "safetensors: shorter than its 8-byte header length",
    run: () => decodeSafetensors(new Uint8Array(5), "w.safetensors"),
    error: CorruptFileError,
    message:
      /^w\.safetensors is not a valid safetensors file: only 5 bytes, shorter than the 8-byte/,
  },
  {
    name: "safetensors: header length beyond the file",
    run: () => decodeSafetensors(safetensorsBytes("{}", 0, 1_000_000), "w.safetensors"),
    error: CorruptFileError,
    message: /header claims 1000000 bytes but the file has 2 after the length \(truncated\?\)$/,
  },
  {
    name: "safetensors: a header that is not JSON",
    run: () => decodeSafetensors(safetensorsBytes('{"w": {"dtype', 0), "w.safetensors"),
    error: CorruptFileError,
    message: /^w\.safetensors is not a valid safetensors file: header is not JSON/,
  },
  {
    name: "safetensors: offsets beyond the data",
    run: () =>
      decodeSafetensors(
        safetensorsBytes('{"w":{"dtype":"F32","shape":[512],"data_offsets":[0,2048]}}', 1024),
        "w.safetensors",
      ),
    error: CorruptFileError,
    message: /tensor "w" spans bytes \[0, 2048\) but the data section has 1024 \(truncated\?\)$/,
  },
  {
    name: "loadDvae: a file cut short",
    setup: async (input) => {
      const path = join(input, "dvae.safetensors");
      await saveGreyDvae(path);
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, bytes.subarray(0, bytes.length - 100));
    },
    run: (c) => loadDvae(join(c.input, "dvae.safetensors")),
    error: CorruptFileError,
    message:
      /dvae\.safetensors is not a valid safetensors file: tensor ".*" spans bytes .*truncated/,
  },
  {
    name: "loadPrior: a dVAE file (no prior configuration)",
    setup: (input) => saveGreyDvae(join(input, "dvae.safetensors")),
    run: (c) => loadPrior(join(c.input, "dvae.safetensors")),
    error: CorruptFileError,
    message: /dvae\.safetensors is not a valid prior file: it holds no prior configuration/,
  },
  {
    name: "loadDvae: a stored configuration with a negative image size",
    setup: async (input) => {
      const path = join(input, "bad.safetensors");
      await saveGreyDvae(path);
      // Same length, so the header still parses: only the stored configuration is wrong.
      await patchBytes(path, String.raw`\"imageSize\":32`, String.raw`\"imageSize\":-2`);
    },
    run: (c) => loadDvae(join(c.input, "bad.safetensors")),
    error: CorruptFileError,
    message:
      /bad\.safetensors is not a valid dVAE file: its stored configuration is not usable \(dVAE imageSize must be a positive integer, got -2\)$/,
  },
  {
    name: "tokenizer: a saved file cut short",
    setup: async (input) => {
      const path = join(input, "tokenizer.json");
      await new BpeTokenizer([[97, 98], [256, 99]]).save(path);
      await Deno.writeTextFile(path, (await Deno.readTextFile(path)).slice(0, 40));
    },
    run: (c) => BpeTokenizer.load(join(c.input, "tokenizer.json")),
    error: CorruptFileError,
    message:
      /tokenizer\.json is not a valid tokenizer file: not valid JSON, truncated or corrupt\?/,
  },
  {
    name: "tokenizer: a saved file with a merge of ids that do not exist",
    setup: (input) =>
      Deno.writeTextFile(
        join(input, "tokenizer.json"),
        JSON.stringify({ ...new BpeTokenizer([[97, 98]]).toJSON(), merges: [97, 4000] }),
      ),
    run: (c) => BpeTokenizer.load(join(c.input, "tokenizer.json")),
    error: CorruptFileError,
    message: /tokenizer file: merge 0 must join two existing ids in \[0, 256\), got \[97, 4000\]$/,
  },
  {
    name: "Fashion-MNIST: an images file cut short",
    setup: (input) => writeFashionMnist(input, 6, "cut"),
    run: (c) => loadFashionMnist({ split: "test", dir: c.input }),
    error: CorruptFileError,
    message:
      /t10k-images-idx3-ubyte\.gz is not a valid Fashion-MNIST \.gz file: not a complete gzip/,
  },
  {
    name: "Fashion-MNIST: fewer labels than images",
    setup: (input) => writeFashionMnist(input, 6, "labels"),
    run: (c) => loadFashionMnist({ split: "test", dir: c.input }),
    error: CorruptFileError,
    message:
      /t10k-labels-idx1-ubyte\.gz is not a valid label file for Fashion-MNIST test: 5 labels but 6 images/,
  },
  // Pipeline parts (issue 22) -------------------------------------------------------------------
  // A shared pipeline folder must not make Pipeline.load read outside it, nor accept a part whose
  // bytes are not the ones saved. The messages are anchored: nothing of a file's bytes fits.
  {
    name: "Pipeline.load: a part path out of the folder (../../../etc/hostname)",
    setup: (input) =>
      savePipeline(join(input, "p"), (m) => (m.parts.tokenizer.file = "../../../etc/hostname")),
    run: (c) => Pipeline.load(join(c.input, "p")),
    error: PipelineManifestError,
    message:
      /^\S+\/p is not a usable pipeline: pipeline\.json names its tokenizer file "\.\.\/\.\.\/\.\.\/etc\/hostname", which is not a plain file name inside the folder \(parts are files beside pipeline\.json, like "prior\.safetensors"; no paths\)$/,
  },
  {
    name: "Pipeline.load: an absolute part path",
    setup: (input) => savePipeline(join(input, "p"), (m) => (m.parts.dvae.file = "/etc/hostname")),
    run: (c) => Pipeline.load(join(c.input, "p")),
    error: PipelineManifestError,
    message:
      /^\S+\/p is not a usable pipeline: pipeline\.json names its dvae file "\/etc\/hostname", which is not a plain file name inside the folder/,
  },
  {
    name: "Pipeline.load: a part that is a link out of the folder",
    setup: async (input) => {
      await savePipeline(join(input, "p"));
      await linkPriorOut(join(input, "p"), join(input, "prior.safetensors"));
    },
    run: (c) => Pipeline.load(join(c.input, "p")),
    error: PipelineManifestError,
    message:
      /^\S+\/p is not a usable pipeline: its prior file \S+\/p\/prior\.safetensors is a link out of the folder$/,
  },
  {
    name: "Pipeline.load: a part swapped for another of the same configuration",
    setup: async (input) => {
      await savePipeline(join(input, "p"));
      await swapPrior(join(input, "p"));
    },
    run: (c) => Pipeline.load(join(c.input, "p")),
    error: CorruptFileError,
    message:
      /^\S+\/p\/prior\.safetensors is not a valid pipeline prior: its SHA-256 is [0-9a-f]{12}… but pipeline\.json records [0-9a-f]{12}…: it was changed or swapped after the pipeline was saved \(restore the file saved with it, or save the pipeline again\)$/,
  },
  {
    name: "Pipeline.load: a part whose bytes changed (one bit of one weight)",
    setup: async (input) => {
      await savePipeline(join(input, "p"));
      await flipLastBit(join(input, "p", "dvae.safetensors"));
    },
    run: (c) => Pipeline.load(join(c.input, "p")),
    error: CorruptFileError,
    message:
      /^\S+\/p\/dvae\.safetensors is not a valid pipeline dvae: its SHA-256 is [0-9a-f]{12}… but pipeline\.json records [0-9a-f]{12}…: it was changed or swapped/,
  },
  {
    name: "Pipeline.generate: a misspelt option (temprature) would draw at the default",
    setup: (input) => savePipeline(join(input, "p")),
    run: async (c) => {
      const pipeline = c.own(await Pipeline.load(join(c.input, "p")));
      return pipeline.generate("a red circle", { n: 2, temprature: 0.5 } as never);
    },
    error: TypeError,
    message:
      /^Pipeline\.generate: unknown option "temprature" \(did you mean "temperature"\?\); known options: n, k, temperature, topK, topP, seed, compile, onProgress$/,
  },
  // --- Schedule horizons --------------------------------------------------------------------------
  {
    name: "cosine schedule: a horizon of 0",
    run: () => cosine(1, 0.1, 0),
    error: RangeError,
    message: /^cosine schedule: the horizon \(steps\) must be a finite number > 0, got 0$/,
  },
  {
    name: "linear schedule: a negative horizon",
    run: () => linear(0, 1, -5),
    error: RangeError,
    message: /^linear schedule: the horizon \(steps\) must be a finite number > 0, got -5$/,
  },
  {
    name: "cosine schedule: an infinite horizon",
    run: () => cosine(1, 0.1, Infinity),
    error: RangeError,
    message: /horizon \(steps\) must be a finite number > 0, got Infinity$/,
  },
  {
    name: "cosine schedule: a NaN endpoint",
    run: () => cosine(NaN, 0.1, 10),
    error: RangeError,
    message: /^cosine schedule: endpoints must be finite, got NaN → 0\.1$/,
  },
  {
    name: "warmupCosine: warm-up longer than the run",
    run: () => warmupCosine(1e-3, 200, 100),
    error: RangeError,
    message: /^warmupCosine schedule: warm-up must be in \[0, total = 100\], got 200$/,
  },
  {
    name: "warmupCosine: a run of 0 steps",
    run: () => warmupCosine(1e-3, 0, 0),
    error: RangeError,
    message: /^warmupCosine schedule: the horizon \(steps\) must be a finite number > 0, got 0$/,
  },
  {
    name: "scaleSteps: a paper total of 0",
    run: () => scaleSteps(5_000, 0, 2_000),
    error: RangeError,
    message: /^scaleSteps: paperTotal must be a finite number > 0, got 0$/,
  },
  // Bad settings (issue 22) -----------------------------------------------------------------------
  // Each ran silently: a negative step size ascends once the warm-up (0 at step 0) is over, a
  // misspelt key trains or samples with the default, a tokenizer smaller than asked for moves the
  // pad id, an empty folder is a dataset of 0 images. Now each is an error before any work.
  {
    name: "trainPrior: a negative lr (its warm-up would hide it at step 0)",
    run: (c) =>
      trainPrior(c.prior, [priorBatch()], {
        steps: 2,
        workers: 1,
        lr: -4.5e-4,
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      }),
    error: RangeError,
    message: /^AdamW lr must be a finite number > 0, got -0\.00045$/,
  },
  {
    name: "trainPrior: a zero lr",
    run: (c) => trainPrior(c.prior, [priorBatch()], { steps: 2, workers: 1, lr: 0 }),
    error: RangeError,
    message: /^AdamW lr must be a finite number > 0, got 0$/,
  },
  {
    name: "trainReranker: a negative lr, with a checkpoint path",
    run: (c) => trainSmallReranker(c, "train", { lr: -1e-3 }),
    error: RangeError,
    message: /^AdamW lr must be a finite number > 0, got -0\.001$/,
  },
  {
    name: "trainDvae: an lr schedule that goes negative after its warm-up",
    run: (c) =>
      trainDvae(c.dvae, c.own(image([8, 32, 32, 3])), {
        steps: 2,
        workers: 1,
        lr: warmupCosine(-1e-3, 1, 2),
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      }),
    error: RangeError,
    message:
      /^lr must be a finite number ≥ 0 at every step, got -0\.001 at step 1 \(warmup 1 then cosine -0\.001→-0\.0001 by 2\)$/,
  },
  {
    name: "trainPrior: an EMA decay of 1 (the average would never move)",
    run: (c) => trainPrior(c.prior, [priorBatch()], { steps: 2, workers: 1, emaDecay: 1 }),
    error: RangeError,
    message: /^AdamW emaDecay must be in \[0, 1\), got 1$/,
  },
  {
    name: "trainPrior: a negative weight decay",
    run: (c) => trainPrior(c.prior, [priorBatch()], { steps: 2, workers: 1, weightDecay: -0.1 }),
    error: RangeError,
    message: /^AdamW weightDecay must be a finite number ≥ 0, got -0\.1$/,
  },
  {
    name: "trainPrior: an eps of 0",
    run: (c) => trainPrior(c.prior, [priorBatch()], { steps: 2, workers: 1, eps: 0 }),
    error: RangeError,
    message: /^AdamW eps must be a finite number > 0, got 0$/,
  },
  {
    name: "trainDvae: a misspelt option (bta for beta), with a checkpoint path",
    run: (c) =>
      trainDvae(c.dvae, c.own(image([8, 32, 32, 3])), {
        steps: 2,
        workers: 1,
        bta: 2,
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      } as TrainDvaeOptions),
    error: TypeError,
    message:
      /^trainDvae: unknown option "bta" \(did you mean "beta"\?\); known options: steps, batchSize, beta, tau, lr, .*, onStep$/,
  },
  {
    name: "trainDvae: a batch size larger than the data",
    run: (c) =>
      trainDvae(c.dvae, c.own(image([8, 32, 32, 3])), {
        steps: 2,
        workers: 1,
        batchSize: 64,
        checkpointPath: join(c.out, "checkpoint.safetensors"),
      }),
    error: RangeError,
    message: /^trainDvae: batch size 64 > 8 images in the data; pass batchSize ≤ 8$/,
  },
  {
    name: "prior.sample: a misspelt option (temprature)",
    run: (c) => c.prior.sample({ text: new Int32Array(4), temprature: 0.5 } as SampleOptions),
    error: TypeError,
    message:
      /^prior\.sample: unknown option "temprature" \(did you mean "temperature"\?\); known options: text, count, temperature, topK, topP, seed, prime, kvCache, returnLogits, onProgress$/,
  },
  {
    name: "BpeTokenizer.train: one string instead of a list",
    run: () => BpeTokenizer.train("a red star" as unknown as string[], { vocabSize: 258 }),
    error: TypeError,
    message:
      /^BpeTokenizer\.train: texts must be an array of strings, got a string \(wrap one text in \[ \]\)$/,
  },
  {
    name: "BpeTokenizer.train: an empty list",
    run: () => BpeTokenizer.train([], { vocabSize: 258 }),
    error: RangeError,
    message: /^BpeTokenizer\.train: texts must hold at least one text, got an empty array$/,
  },
  {
    name: "BpeTokenizer.train: a vocabulary the texts cannot reach",
    run: () =>
      BpeTokenizer.train(["a red star", "a blue square", "a red square"], { vocabSize: 300 }),
    error: RangeError,
    message:
      /^BpeTokenizer\.train: vocabSize 300 is not reachable from these 3 texts, which give at most 266 \(no further pair occurs minFrequency = 2 times\); pass vocabSize ≤ 266, more text, a lower minFrequency, or allowSmaller: true$/,
  },
  {
    name: "loadImageFolder: a folder without images",
    setup: (input) => Deno.writeTextFile(join(input, "notes.txt"), "not an image"),
    run: (c) => loadImageFolder(c.input),
    error: RangeError,
    message:
      /^loadImageFolder: no images in \S+ \(looked for \.png, \.jpg, \.jpeg, \.webp files; pass recursive: true to read subfolders\)$/,
  },
  {
    name: "loadImageFolder: an unknown fit",
    run: (c) => loadImageFolder(c.input, { fit: "crop" as "cover" }),
    error: RangeError,
    message: /^loadImageFolder: fit must be one of "cover", "contain", "fill", got "crop"$/,
  },
  {
    name: "loadImageFolder: a background that is not a colour",
    run: (c) => loadImageFolder(c.input, { background: "#12" }),
    error: RangeError,
    message:
      /^loadImageFolder: background must be a CSS colour \(e\.g\. "#ffffff", "white", "rgb\(0, 0, 0\)"\), got "#12"$/,
  },
  // --- Names --------------------------------------------------------------------------------------
  {
    name: "initBackend: an unknown backend",
    run: () => initBackend("tpu" as "cpu"),
    error: RangeError,
    message: /^unknown backend "tpu": expected one of auto, tensorflow, webgpu, wasm, cpu$/,
  },
  {
    name: "defaultWorkers: an unknown backend",
    run: () => defaultWorkers("gpu"),
    error: RangeError,
    message: /^unknown backend "gpu": expected one of tensorflow, webgpu, wasm, cpu$/,
  },
  {
    name: "flags: an unknown flag name",
    run: () => parseFlags({ steps: 100, lr: 1e-3 }, ["--stpes=5"]),
    error: UsageError,
    message: /^unknown flag --stpes; known: steps, lr, backend$/,
  },
  // --- Rows of other pieces (lib/log, lib/powersgd) -------------------------------------------
  {
    name: "--resume at a run of another experiment",
    setup: async (input) => {
      const run = await RunLog.create({ experiment: "prior_shapes", root: input, printEvery: 0 });
      await run.flush();
    },
    run: async (c) => {
      const [dir] = await listing(join(c.input, "prior_shapes"));
      return RunLog.resume(dir, { experiment: "dvae_train", fromStep: 0 });
    },
    error: RunMismatchError,
    message: /^--resume=.*prior_shapes\/[^/]+ is a run of "prior_shapes", not of "dvae_train"$/,
  },
  {
    name: "powerSgd: a rank larger than the gradient matrices allow",
    run: () => checkRank(32, [[64, 64], [64]], ["w", "b"]),
    error: RangeError,
    message:
      /^powerSgd rank 32 is larger than the gradients allow: the largest rank at which a matrix is compressed is 15, by "w" \(64 × 64 matrix view, minCompressionRate 2\)$/,
  },
];

/** Every path under `dir`, sorted. */
async function listing(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    found.push(path);
    if (entry.isDirectory) found.push(...await listing(path));
  }
  return found.sort();
}

Deno.test("bad input gets a clear, typed error and writes nothing", async (t) => {
  const fixtures = makeFixtures();
  dvaeBefore = fixtures.dvae.parameters().map((p) => p.dataSync().slice() as Float32Array);
  const cwd = Deno.cwd();
  try {
    for (const row of ROWS) {
      await t.step(row.name, async () => {
        const out = await Deno.makeTempDir({ prefix: "bad_input_out_" });
        const input = await Deno.makeTempDir({ prefix: "bad_input_in_" });
        const owned: { dispose(): void }[] = [];
        const tensorsBefore = tf.memory().numTensors;
        try {
          await row.setup?.(input);
          const inputs = await listing(input);
          const ctx: Context = { ...fixtures, out, input, own: (x) => (owned.push(x), x) };
          Deno.chdir(out);
          let caught: unknown = null;
          try {
            await row.run(ctx);
          } catch (err) {
            caught = err;
          } finally {
            Deno.chdir(cwd);
          }
          assert.ok(caught !== null, "no error was thrown");
          const err = caught as Error;
          assert.equal(err.constructor, row.error, `wrong class: ${err.constructor.name}: ${err}`);
          assert.match(err.message, row.message);
          row.after?.(ctx);
          assert.deepEqual(await listing(out), [], "the run wrote into its output folder");
          assert.deepEqual(await listing(input), inputs, "the run wrote beside its input");
        } finally {
          owned.reverse().forEach((x) => x.dispose());
          await Deno.remove(out, { recursive: true });
          await Deno.remove(input, { recursive: true });
        }
        assert.equal(tf.memory().numTensors, tensorsBefore, "the row leaked tensors");
      });
    }
  } finally {
    fixtures.dispose();
  }
});

Deno.test("over-long captions are truncated explicitly: listed, reported, never silent", () => {
  const tokenizer = smallTokenizer();
  const long = "a red star a blue square a red square a red star";
  const reports: string[] = [];
  const textLen = tokenizer.encode("a red star").length;
  const { truncated, lengths } = tokenizer.encodeBatch(["a red star", long], {
    textLen,
    onTruncate: (cut) => cut.forEach((c) => reports.push(`${c.row}:${c.tokens}→${c.kept}`)),
  });
  assert.deepEqual(truncated, [1]);
  assert.equal(lengths[1], textLen);
  assert.deepEqual(reports, [`1:${tokenizer.encode(long).length}→${textLen}`]);
  const warn = console.warn;
  const warned: string[] = [];
  console.warn = (message: string) => warned.push(message);
  try {
    tokenizer.encodeBatch([long], { textLen });
  } finally {
    console.warn = warn;
  }
  assert.equal(warned.length, 1);
  assert.ok(warned[0].includes(long), warned[0]);
});
