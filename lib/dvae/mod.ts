/**
 * Stage one of DALL-E: a discrete VAE that turns an image into a grid of tokens from a K-entry
 * codebook, trained on the evidence lower bound with a Gumbel-softmax relaxation.
 *
 * - `createDvae` builds the model (defaults: the PyTorch peer's benchmark model); `encode` /
 *   `decode` are the token interface the prior uses.
 * - `dvaeObjective` is loss = NLL + β·KL per pixel dimension, with `logitLaplaceNll`,
 *   `klToUniform`, `gumbelSoftmax`, `mapPixels` / `unmapPixels` as its parts. Two optional terms
 *   that are not in the paper make short runs work: a weight on KL(q̄ ‖ uniform) of the batch's
 *   average posterior (`marginalKlToUniform`: even codebook use without taxing information) and
 *   a mutual-information bonus (`infoWeight`: confident, informative codes from the start).
 * - `trainDvae` trains with AdamW + EMA and the paper's schedules (`paperDvaeSchedules`), on one
 *   core or, with `workers`, with each batch split over several processes; `evaluateDvae` gives
 *   the held-out true ELB, MSE and codebook usage; `saveDvae` / `loadDvae`.
 *
 * @example
 * ```ts
 * import { createDvae, evaluateDvae, trainDvae } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const dvae = createDvae({ hidden: 8, groups: 2, vocabSize: 16, imageSize: 8 });
 * const images = tf.randomUniform([8, 8, 8, 3], 0, 1, "float32", 0) as tf.Tensor4D;
 * const run = await trainDvae(dvae, images, { steps: 10, lr: 1e-3 });
 * const figures = await run.withEma(() => evaluateDvae(dvae, images));
 * console.log(figures.elbBitsPerDim, figures.perplexity);
 * run.dispose(); images.dispose(); dvae.dispose();
 * ```
 *
 * @module
 */
export { createDvae, Dvae, DVAE_DEFAULTS } from "./model.ts";
export type { DvaeConfig, Reconstruction } from "./model.ts";
export {
  dequantize,
  dvaeObjective,
  gaussianNll,
  gumbelNoise,
  gumbelSoftmax,
  klToUniform,
  logitLaplaceNll,
  mapPixels,
  marginalKlToUniform,
  MSE_STD,
  PIXEL_EPS,
  reconstructionNll,
  unmapPixels,
} from "./objective.ts";
export type { DvaeObjective, DvaeObjectiveOptions } from "./objective.ts";
export { codebookUsage } from "./codebook.ts";
export type { CodebookUsage } from "./codebook.ts";
export { PAPER_DVAE_UPDATES, paperDvaeSchedules, tauSchedule } from "./schedules.ts";
export type { DvaeSchedules, PaperScheduleOptions, TauScheduleKind } from "./schedules.ts";
export { trainDvae } from "./train.ts";
export type { DvaeData, DvaeTrainResult, TrainDvaeOptions } from "./train.ts";
export { evaluateDvae } from "./evaluate.ts";
export type { DvaeEvalData, DvaeEvaluation } from "./evaluate.ts";
export { DVAE_CONFIG_KEY, loadDvae, saveDvae } from "./io.ts";
