/**
 * The near-miss table every reranker experiment writes (rerank_train, rerank_n_sweep, zero_shot,
 * prior_shapes and so the main job's report): for rendered scenes of each split, how often the
 * reranker prefers the true caption to the same caption with one change (lib/rerank's
 * `nearMissAccuracy`), per kind, with 95% Wilson intervals; and, given the pipeline's dVAE, the
 * same for those scenes passed through it, the kind of image the reranker ranks among draws.
 *
 * @module
 */
import { tf } from "../lib/backend/mod.ts";
import { captionFor, makeShapes, type ShapesDataset, type ShapesSplit } from "../lib/data/mod.ts";
import { Rng, streamSeed } from "../lib/io/mod.ts";
import { type ImageCodec, type JudgedCaption, throughCodec } from "../lib/pipeline/mod.ts";
import {
  nearMissAccuracy,
  type NearMissResult,
  type Reranker,
  rerankerScorer,
  type RerankTokenizer,
} from "../lib/rerank/mod.ts";

/** One row of near_miss.csv: a split, the images' kind and a kind of near miss. */
export interface NearMissRow {
  split: string;
  /** "rendered" scenes, or "through the dVAE" (decode(encode(scene))). */
  images_of: string;
  kind: string;
  images: number;
  without: number;
  correct: number;
  ties: number;
  accuracy: number;
  ci_low: number;
  ci_high: number;
  chance: number;
  [key: string]: string | number;
}

/** lib/rerank's results as near_miss.csv rows. */
function rowsOf(split: string, imagesOf: string, results: NearMissResult[]): NearMissRow[] {
  return results.map((r) => ({
    split,
    images_of: imagesOf,
    kind: r.kind,
    images: r.images,
    without: r.without,
    correct: r.correct,
    ties: r.ties,
    accuracy: r.accuracy,
    ci_low: r.low,
    ci_high: r.high,
    chance: 0.5,
  }));
}

/** A split's evaluated scenes: a set and how many of its first images to use. */
export interface NearMissSet {
  split: string;
  set: ShapesDataset;
  count: number;
}

/**
 * Near-miss rows of a reranker for each set's first `count` scenes, rendered and (with `codec`)
 * through the dVAE.
 *
 * @param reranker The reranker.
 * @param tokenizer Its tokenizer.
 * @param sets The sets, in the order the rows list them.
 * @param o `seed` of the near-miss draws; `codec`, the pipeline's dVAE, or null.
 * @returns The rows.
 */
export function nearMissRows(
  reranker: Reranker,
  tokenizer: RerankTokenizer,
  sets: readonly NearMissSet[],
  o: { seed: number; codec?: ImageCodec | null },
): NearMissRow[] {
  const out: NearMissRow[] = [];
  for (const { split, set, count } of sets) {
    const n = Math.min(count, set.images.count);
    const pixels = set.images.height * set.images.width * 3;
    const rendered = { ...set.images, count: n, data: set.images.data.subarray(0, n * pixels) };
    const kinds: [string, typeof rendered][] = [["rendered", rendered]];
    if (o.codec) {
      kinds.push(["through the dVAE", throughCodec(o.codec, rendered, { fraction: 1 }).images]);
    }
    const scenes = { captions: set.captions.slice(0, n), scenes: set.attributes.slice(0, n) };
    for (const [imagesOf, images] of kinds) {
      const scorer = rerankerScorer(reranker, tokenizer, images);
      out.push(...rowsOf(split, imagesOf, nearMissAccuracy(scorer, scenes, { seed: o.seed })));
    }
  }
  return out;
}

/** The test and zero-shot scenes the judged experiments score near misses on. */
export const NEAR_MISS_EVAL = {
  /** Rendered scenes per split (each kind's rate rests on those that have such a near miss). */
  count: 400,
  /** Seed of the scenes (rerank_train's evaluation seed). */
  seed: 1,
};

/**
 * Near-miss rows of a pipeline's reranker on fresh test and zero-shot scenes
 * ({@link NEAR_MISS_EVAL}), rendered and through the pipeline's dVAE.
 *
 * @param reranker The reranker.
 * @param tokenizer The pipeline's tokenizer.
 * @param codec The pipeline's dVAE.
 * @param count Scenes per split. @default NEAR_MISS_EVAL.count
 * @returns The rows.
 */
export async function heldOutNearMissRows(
  reranker: Reranker,
  tokenizer: RerankTokenizer,
  codec: ImageCodec,
  count = NEAR_MISS_EVAL.count,
): Promise<NearMissRow[]> {
  const splits: ShapesSplit[] = ["test", "zero-shot"];
  const sets: NearMissSet[] = [];
  for (const split of splits) {
    sets.push({ split, set: await makeShapes({ count, seed: NEAR_MISS_EVAL.seed, split }), count });
  }
  return nearMissRows(reranker, tokenizer, sets, { seed: 0, codec });
}

/**
 * Near-miss rows on the pipeline's own draws, as the judge reads them: each draw is captioned
 * with what the judge sees in it (every size named), and the reranker must prefer that caption
 * to the same caption with one change. Where the two readers agree on rendered scenes but not
 * here, the draws themselves are ambiguous (a blob the judge calls a star and the reranker a
 * circle), and that bounds what reranking can find by the judge's measure.
 *
 * @param reranker The reranker.
 * @param tokenizer Its tokenizer.
 * @param split The split's name for the rows.
 * @param judged Judged captions with their draws kept (`images`, best first, and `order`);
 *   captions without kept images are skipped.
 * @param seed Seed of the captions' phrasing and of the near misses.
 * @returns The rows (images_of "draws, as the judge reads them").
 */
export function drawNearMissRows(
  reranker: Reranker,
  tokenizer: RerankTokenizer,
  split: string,
  judged: readonly JudgedCaption[],
  seed: number,
): NearMissRow[] {
  const kept = judged.filter((j) => j.images && j.order);
  if (kept.length === 0) return [];
  const images = tf.concat(kept.map((j) => j.images!), 0) as tf.Tensor4D;
  try {
    const scenes = kept.flatMap((j) => j.order!.map((draw) => j.scenes[draw]));
    const rng = new Rng(streamSeed("draw-near-miss", seed));
    const captions = scenes.map((scene) => captionFor(scene, rng, { sizeProbability: 1 }));
    const scorer = rerankerScorer(reranker, tokenizer, images);
    const results = nearMissAccuracy(scorer, { captions, scenes }, { seed });
    return rowsOf(split, "draws, as the judge reads them", results);
  } finally {
    images.dispose();
  }
}

/**
 * Prints near-miss rows as one line per split and kind of image: each kind's preference and
 * interval.
 *
 * @param experiment The caller's name.
 * @param rows The rows.
 */
export function printNearMiss(experiment: string, rows: readonly NearMissRow[]): void {
  const groups = new Map<string, NearMissRow[]>();
  for (const r of rows) {
    const key = `${r.split}, ${r.images_of}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const pct = (x: number) => Number.isNaN(x) ? "—" : `${(100 * x).toFixed(0)}`;
  for (const [key, group] of groups) {
    console.log(
      `[${experiment}] near misses (${key}): ` +
        group.map((r) => `${r.kind} ${pct(r.accuracy)}% [${pct(r.ci_low)}, ${pct(r.ci_high)}]`)
          .join(" · "),
    );
  }
}
