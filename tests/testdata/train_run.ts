/**
 * For `resume_test.ts`: a small training run of the dVAE or the prior, written to a run folder
 * with a checkpoint every few steps and a metrics row flushed at every step, that can be resumed
 * (`--resume=RUN_DIR`) and can be made to stop inside a checkpoint write (`--pauseRenameAt=STEP`:
 * the temp file is written, then the process waits before the rename, so the test can kill it
 * there). Prints the run folder as its first line.
 *
 * @module
 */
import { initBackend, tf } from "../../lib/backend/mod.ts";
import { createDvae, trainDvae } from "../../lib/dvae/mod.ts";
import { parseFlags, RunLog } from "../../lib/log/mod.ts";
import { checkpointStep, cosine, Rng } from "../../lib/nn/mod.ts";
import { powerSgd } from "../../lib/powersgd/mod.ts";
import { createPrior, trainPrior } from "../../lib/prior/mod.ts";

const cfg = parseFlags({
  model: "dvae",
  root: "",
  steps: 12,
  every: 2,
  resume: "",
  pauseRenameAt: -1,
  workers: 1,
  /** "mean", or "powersgd" (rank 2, 16-bit: error feedback and warm Q live in the workers). */
  reducer: "mean",
});
await initBackend(cfg.backend);

if (cfg.pauseRenameAt >= 0) {
  // Test-only: hold the checkpoint of step `pauseRenameAt` between its write and its rename.
  const rename = Deno.rename;
  let writes = 0;
  (Deno as unknown as { rename: typeof Deno.rename }).rename = async (from, to) => {
    if (
      String(to).endsWith("checkpoint.safetensors") && ++writes * cfg.every === cfg.pauseRenameAt
    ) {
      await Deno.writeTextFile(`${cfg.root}/paused`, String(from));
      await new Promise(() => setInterval(() => {}, 1000)); // until killed
    }
    return rename(from, to);
  };
}

const experiment = `resume_${cfg.model}`;
const checkpoint = (dir: string) => `${dir}/checkpoint.safetensors`;
let log: RunLog;
if (cfg.resume) {
  const fromStep = await checkpointStep(checkpoint(cfg.resume)).catch(() => 0);
  log = await RunLog.resume(cfg.resume, { experiment, fromStep, printEvery: 0, flushEvery: 1 });
} else {
  log = await RunLog.create({
    experiment,
    root: cfg.root,
    config: cfg,
    printEvery: 0,
    flushEvery: 1,
  });
}
console.log(log.dir);
const common = {
  steps: cfg.steps,
  seed: 5,
  workers: cfg.workers,
  log,
  checkpointEvery: cfg.every,
  resume: true,
  reducer: cfg.reducer === "powersgd"
    ? powerSgd({ rank: 2, bits: 16, minCompressionRate: 1 })
    : undefined,
};

if (cfg.model === "dvae") {
  const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8, seed: 2 });
  const images = tf.randomUniform([24, 8, 8, 3], 0, 1, "float32", 4) as tf.Tensor4D;
  const run = await trainDvae(dvae, images, {
    ...common,
    batchSize: 6,
    lr: cosine(3e-3, 1e-4, cfg.steps),
    beta: cosine(0, 1, cfg.steps),
    tau: cosine(1, 0.5, cfg.steps),
    emaDecay: 0.9,
    dequantize: true,
  });
  run.dispose();
} else {
  const prior = createPrior({
    textLen: 6,
    textVocab: 16,
    imageGrid: 2,
    imageVocab: 8,
    dModel: 16,
    layers: 2,
    heads: 2,
    dropout: 0.1,
    seed: 2,
  });
  const rng = new Rng(9);
  const batches = Array.from({ length: 5 }, () => ({
    text: Int32Array.from({ length: 4 * 6 }, () => rng.int(16)),
    image: Int32Array.from({ length: 4 * 4 }, () => rng.int(8)),
  }));
  const run = await trainPrior(prior, batches, { ...common, lr: 1e-2, emaDecay: 0.9 });
  run.dispose();
}
