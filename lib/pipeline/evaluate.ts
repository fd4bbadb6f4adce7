/**
 * Judged generation: draw N candidates per caption, score them with the pipeline's reranker, read
 * them once with a judge, and from that one pass compute what reranking buys (paper §2.6, Figure
 * 9c): the judge's agreement with the caption when keeping the reranker's best of the first N
 * draws, when keeping a random one of them, and when any of them would do (the oracle).
 *
 * @module
 */
import type { tf } from "../backend/mod.ts";
import {
  type AttributeAgreement,
  attributeAgreement,
  parseCaption,
  type Scene,
  sceneMatches,
} from "../data/mod.ts";
import type { Pipeline } from "./pipeline.ts";
import { type Interval, interval95 } from "../io/mod.ts";

/** What judging needs of a judge (lib/judge's fits): it reads scenes from images. */
export interface SceneReader {
  /** Reads the scene (shape, colour, size) of each image. */
  read(images: tf.Tensor4D): Scene[];
}

/** One caption's candidates, in draw order. */
export interface JudgedCaption {
  /** The caption the images were drawn for. */
  caption: string;
  /** Reranker score of each draw (NaN without a reranker). */
  scores: number[];
  /** What the judge read from each draw. */
  scenes: Scene[];
  /** Whether each draw shows everything the caption says. */
  agrees: boolean[];
  /** The draws as images, best first (only for the first `keepImages` captions; caller disposes). */
  images?: tf.Tensor4D;
  /** Which draw each of `images` is, best first. */
  order?: number[];
}

/** Options of {@link judgeCandidates}. */
export interface JudgeCandidatesOptions {
  /** Draws per caption. */
  n: number;
  /** Seed of the first caption's draws (caption i uses seed + i). @default 0 */
  seed?: number;
  /** Softmax temperature. @default 1 */
  temperature?: number;
  /** Keep the images of the first this many captions (e.g. for a grid). @default 0 */
  keepImages?: number;
  /** Called after each caption with the number done and the total. */
  onCaption?: (done: number, total: number) => void;
}

/**
 * Draws `n` candidates per caption, scores them with the reranker and reads them with the judge.
 *
 * @param pipeline The pipeline (its reranker scores; without one, scores are NaN).
 * @param judge Reads scenes from images.
 * @param captions The captions.
 * @param options Draws, seed, temperature, progress.
 * @returns One entry per caption.
 */
export async function judgeCandidates(
  pipeline: Pipeline,
  judge: SceneReader,
  captions: readonly string[],
  options: JudgeCandidatesOptions,
): Promise<JudgedCaption[]> {
  const out: JudgedCaption[] = [];
  const seed = options.seed ?? 0;
  for (const [i, caption] of captions.entries()) {
    const meaning = parseCaption(caption);
    const generated = await pipeline.generate(caption, {
      n: options.n,
      k: options.n,
      seed: seed + i,
      temperature: options.temperature,
    });
    const read = judge.read(generated.images);
    const keep = i < (options.keepImages ?? 0);
    if (!keep) generated.images.dispose();
    // Back to draw order: generate returns the candidates best first.
    const scores = new Array<number>(options.n), scenes = new Array<Scene>(options.n);
    generated.order.forEach((draw, j) => {
      scores[draw] = generated.scores[j];
      scenes[draw] = read[j];
    });
    out.push({
      caption,
      scores,
      scenes,
      agrees: scenes.map((s) => sceneMatches(meaning, s)),
      ...(keep ? { images: generated.images, order: generated.order } : {}),
    });
    options.onCaption?.(i + 1, captions.length);
  }
  return out;
}

/** The draw the reranker keeps among the first `n` (highest score; the earliest on ties). */
export function bestOfFirst(judged: JudgedCaption, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (judged.scores[i] > judged.scores[best]) best = i;
  return best;
}

/** Agreement at one N, over captions. */
export interface RerankPoint {
  /** Candidates per caption. */
  n: number;
  /** The reranker's best of the first n agrees. */
  reranked: Interval;
  /** A draw picked at random among the first n agrees (its expectation per caption). */
  random: Interval;
  /** Any of the first n agrees. */
  oracle: Interval;
}

/**
 * Agreement against N for reranked, random and oracle picks, from one set of judged draws (the
 * first N draws of each caption stand for a run with N candidates).
 *
 * @param judged Judged captions, each with at least max(ns) draws.
 * @param ns The Ns.
 * @returns One point per N.
 */
export function rerankCurve(
  judged: readonly JudgedCaption[],
  ns: readonly number[],
): RerankPoint[] {
  return ns.map((n) => {
    for (const j of judged) {
      if (j.agrees.length < n) {
        throw new RangeError(`"${j.caption}" has ${j.agrees.length} draws, fewer than N = ${n}`);
      }
    }
    const first = (j: JudgedCaption) => j.agrees.slice(0, n);
    return {
      n,
      reranked: interval95(judged.map((j) => (j.agrees[bestOfFirst(j, n)] ? 1 : 0))),
      random: interval95(judged.map((j) => first(j).filter(Boolean).length / n)),
      oracle: interval95(judged.map((j) => (first(j).some(Boolean) ? 1 : 0))),
    };
  });
}

/**
 * Per-attribute agreement of one kept draw per caption: the reranker's best of the first `n`, or
 * (with `reranked` false) the first draw, which is what a pipeline without reranking returns.
 *
 * @param judged Judged captions.
 * @param n Candidates the reranker chooses from.
 * @param reranked Keep the reranker's best (true) or the first draw (false).
 * @returns The attributes' agreement rates.
 */
export function keptAttributes(
  judged: readonly JudgedCaption[],
  n: number,
  reranked: boolean,
): AttributeAgreement {
  const kept = judged.map((j) => j.scenes[reranked ? bestOfFirst(j, n) : 0]);
  return attributeAgreement(judged.map((j) => parseCaption(j.caption)), kept);
}
