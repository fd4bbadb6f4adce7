/**
 * Training the judge's network through lib/nn's trainer (one process): seeded batches of
 * train-split scenes, degraded in the task module (`_task.ts`), AdamW with a cosine step size.
 *
 * @module
 */
import { cosine, shardSlices, train, type TrainSpec } from "../nn/mod.ts";
import { batchIndicesAt, imagesToTensor, makeShapes } from "../data/mod.ts";
import { HEAD_NAMES, type JudgeConfig, JudgeNet, labelsOf } from "./_net.ts";
import type { JudgeShard, JudgeStepOptions } from "./_task.ts";
import { lossProgress } from "./_progress.ts";

/**
 * Trains a fresh judge network (about 100 s of CPU; 1–3 minutes on a busy 2-core machine).
 *
 * @param config How to build and train it.
 * @param onProgress Receives a line every 250 steps.
 * @returns The trained network.
 */
export async function trainJudgeNet(
  config: JudgeConfig,
  onProgress: (message: string) => void,
): Promise<JudgeNet> {
  // Its clock starts here, so the seconds in its lines count the data's making too.
  const onStep = lossProgress("judge", config.steps, 250, onProgress);
  const data = await makeShapes({
    count: config.trainCount,
    seed: config.trainSeed,
    split: "train",
  });
  const labels = labelsOf(data.attributes);
  const net = new JudgeNet(config);
  onProgress(
    `judge: training on ${config.trainCount} train-split scenes for ${config.steps} steps`,
  );
  const spec: TrainSpec<number[], JudgeShard> = {
    name: "judge",
    model: net,
    taskUrl: new URL("./_task.ts", import.meta.url).href,
    config,
    batchAt: (step) =>
      batchIndicesAt(config.trainCount, { batchSize: config.batchSize, seed: config.seed }, step),
    split: (indices, count) =>
      shardSlices(indices, count).map((part) => {
        const images = imagesToTensor(data.images, part);
        const shard: JudgeShard = {
          images: images.dataSync() as Float32Array,
          count: part.length,
          labels: Object.fromEntries(
            HEAD_NAMES.map((h) => [h, Int32Array.from(part, (i) => labels[h][i])]),
          ),
          regions: Int32Array.from(part, (i) => labels.region[i]),
        };
        images.dispose();
        return shard;
      }),
    unit: "images",
    size: (indices) => indices.length,
    stepOptions: (): JudgeStepOptions => ({
      blurFraction: config.blurFraction,
      noiseStd: config.noiseStd,
    }),
    metrics: (values) => ({ loss: values.reduce((sum, v) => sum + v.loss[0], 0) }),
  };
  const run = await train(spec, {
    steps: config.steps,
    seed: config.seed,
    lr: cosine(config.lr, config.lr * 0.02, config.steps),
    adamw: { weightDecay: config.weightDecay },
    workers: 1,
    onStep,
  });
  run.dispose();
  return net;
}
