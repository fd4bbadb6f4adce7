/**
 * The parts of experiments/prior_shapes.ts that are not its question: the prior's batches, the
 * choice of evaluation captions, the judge's agreement per caption with 95% intervals (the
 * summary's columns), and its two grids (draws per caption, completions).
 *
 * @module
 */
import { tf } from "../lib/backend/mod.ts";
import { agreement, captionAgreement, type ShapesJudge } from "../lib/judge/mod.ts";
import type { MetricsRow } from "../lib/log/mod.ts";
import {
  bestOfFirst,
  drawGrid,
  type DrawRow,
  type JudgedCaption,
  type Pipeline,
} from "../lib/pipeline/mod.ts";
import { interval95 } from "../lib/io/mod.ts";

/**
 * The indices of the first `count` distinct captions of a set.
 *
 * @param captions The set's captions.
 * @param count How many.
 * @returns Indices, one per distinct caption.
 */
export function distinctCaptions(captions: readonly string[], count: number): number[] {
  const seen = new Set<string>();
  const picks: number[] = [];
  captions.forEach((c, i) => {
    if (picks.length < count && !seen.has(c)) {
      seen.add(c);
      picks.push(i);
    }
  });
  return picks;
}

/** The per-attribute columns of the summary, and the attributes some captions do not name. */
const ATTRIBUTES = ["colour", "shape", "size", "count", "relation"] as const;
const SOMETIMES_NAMED = new Set<string>(["size", "relation"]);

/**
 * A rate over captions as the summary's columns `name`, `name_low` and `name_high`: the mean of
 * one value per caption and its 95% interval (lib/pipeline's `interval95`: Wilson's for 0/1
 * values). The caption is the unit because draws of one caption are correlated; a caption whose
 * value is undefined (NaN: a size or relation it does not name) is left out, and with
 * `countColumn` the number kept is written as `name_captions`.
 *
 * @param name The rate's column, e.g. "judge_agreement".
 * @param perCaption One value in [0, 1] per caption (NaN where undefined).
 * @param countColumn Also write `name_captions`. @default false
 * @returns The columns.
 * @example
 * ```ts
 * import { intervalColumns } from "./_prior_shapes.ts";
 * const row = intervalColumns("reranked_agreement", [1, 0, 0, 1]);
 * console.log(row.reranked_agreement, Number(row.reranked_agreement_low) < 0.5); // 0.5 true
 * ```
 */
export function intervalColumns(
  name: string,
  perCaption: readonly number[],
  countColumn = false,
): MetricsRow {
  const known = perCaption.filter((v) => Number.isFinite(v));
  const { mean, low, high } = interval95(known);
  const row: MetricsRow = { [name]: mean, [`${name}_low`]: low, [`${name}_high`]: high };
  if (countColumn) row[`${name}_captions`] = known.length;
  return row;
}

/**
 * The judge's agreement columns of a set of judged captions: every draw (`judge_agreement`: per
 * caption, the fraction of its draws the judge accepts), the reranker's best draw
 * (`reranked_agreement`, NaN without a reranker), each attribute, and draws read against the next
 * caption's text (`mismatched_caption_agreement`, the chance baseline); each with its 95% interval
 * over captions (see {@link intervalColumns}).
 *
 * @param judged The judged captions, all with the same number of draws.
 * @param reranked Whether the pipeline has a reranker (its scores pick the best draw).
 * @returns The columns, `captions` and `draws_per_caption` first.
 */
export function judgedColumns(judged: readonly JudgedCaption[], reranked: boolean): MetricsRow {
  const S = judged[0]?.agrees.length ?? 0;
  const rate = (flags: readonly boolean[]) => flags.filter(Boolean).length / flags.length;
  const parts = judged.map((j) => captionAgreement(j.scenes.map(() => j.caption), j.scenes));
  const shifted = (c: number) => judged[(c + 1) % judged.length].caption;
  return {
    captions: judged.length,
    draws_per_caption: S,
    ...intervalColumns("judge_agreement", judged.map((j) => rate(j.agrees))),
    ...intervalColumns(
      "reranked_agreement",
      judged.map((j) => (reranked ? Number(j.agrees[bestOfFirst(j, S)]) : NaN)),
    ),
    ...attributeColumns(parts),
    ...intervalColumns(
      "mismatched_caption_agreement",
      judged.map((j, c) => rate(agreement(j.scenes.map(() => shifted(c)), j.scenes))),
    ),
  };
}

/** Per attribute, `<attribute>_agreement` over captions (see {@link intervalColumns}). */
function attributeColumns(parts: readonly Record<(typeof ATTRIBUTES)[number], number>[]) {
  return Object.assign(
    {},
    ...ATTRIBUTES.map((a) =>
      intervalColumns(`${a}_agreement`, parts.map((p) => p[a]), SOMETIMES_NAMED.has(a))
    ),
  ) as MetricsRow;
}

/**
 * Per caption, the real image, then its draws best first, labelled with their reranker scores
 * and ✓ where the judge agrees.
 *
 * @param real The captions' real images.
 * @param judged The judged draws (the first `rows` with their images kept).
 * @param rows Captions shown.
 * @returns The PNG.
 */
export async function sampleGrid(
  real: tf.Tensor4D,
  judged: JudgedCaption[],
  rows: number,
): Promise<Uint8Array> {
  const shown = judged.slice(0, rows).filter((j) => j.images);
  const cells = shown.map((j, c) => ({ j, real: real.slice(c, 1) as tf.Tensor4D }));
  try {
    return await drawGrid(
      cells.map(({ j, real }) => ({
        lead: [{ image: real, label: j.caption }],
        draws: j.images!,
        scores: j.order!.map((draw) => j.scores[draw]),
        agrees: j.order!.map((draw) => j.agrees[draw]),
      })),
      { labelLines: 4 },
    );
  } finally {
    tf.dispose(cells.map((c) => c.real));
  }
}

/**
 * Completions of test images from their top half (paper §3.3 primes 15 of 32 rows): per image,
 * the original, then the pipeline's completions best first; and their judged agreement, with 95%
 * intervals over images.
 *
 * @param pipeline The pipeline.
 * @param judge The judge.
 * @param real Test images, one per caption.
 * @param captions Their captions.
 * @param cfg How many images, completions each, temperature and seed.
 * @returns The PNG and a summary row.
 */
export async function completionGrid(
  pipeline: Pipeline,
  judge: ShapesJudge,
  real: tf.Tensor4D,
  captions: string[],
  cfg: { completionImages: number; completions: number; temperatures: number[]; seed: number },
): Promise<{ png: Uint8Array; row: MetricsRow }> {
  const count = Math.min(cfg.completionImages, captions.length);
  const rows = pipeline.prior.config.imageGrid / 2;
  const drawn: DrawRow[] = [];
  const perImage: ReturnType<typeof captionAgreement>[] = [];
  for (let k = 0; k < count; k++) {
    const image = real.slice(k, 1) as tf.Tensor4D;
    const done = await pipeline.complete(captions[k], image, rows, {
      n: cfg.completions,
      k: cfg.completions,
      temperature: cfg.temperatures[0],
      seed: cfg.seed + 202 + k,
    });
    const scenes = judge.read(done.images);
    const agrees = agreement(scenes.map(() => captions[k]), scenes);
    perImage.push(captionAgreement(scenes.map(() => captions[k]), scenes));
    drawn.push({ lead: [{ image, label: captions[k] }], draws: done.images, agrees });
  }
  const png = await drawGrid(drawn, { labelLines: 4 });
  tf.dispose(drawn.flatMap((r) => [r.draws, ...r.lead!.map((l) => l.image)]));
  return {
    png,
    row: {
      split: "test (bottom half completed)",
      temperature: cfg.temperatures[0],
      captions: count,
      draws_per_caption: cfg.completions,
      // Each image's completions are correlated: the image (with its caption) is the unit.
      ...intervalColumns("judge_agreement", perImage.map((p) => p.scenes)),
      ...attributeColumns(perImage),
    },
  };
}
