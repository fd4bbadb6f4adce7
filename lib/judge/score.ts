/**
 * Scores over what the judge read: pure functions of captions (or true scenes) and the scenes
 * `ShapesJudge.read` returned, so a batch is read once and scored as many ways as needed.
 *
 * @module
 */
import {
  type AttributeAgreement,
  attributeAgreement,
  type CaptionMeaning,
  parseCaption,
  type Scene,
  sceneMatches,
} from "../data/mod.ts";

/** A caption of the shapes grammar, as text or already parsed. */
export type CaptionLike = string | CaptionMeaning;

/**
 * Per-attribute accuracy of the judge on scenes with known attributes: the rates of
 * `attributeAgreement` (a scene names every size, so `size` is over all objects; `relation` is 1
 * when no scene has two objects).
 */
export interface JudgeAccuracy extends Omit<AttributeAgreement, "pairs"> {
  /** Images scored. */
  images: number;
}

/**
 * Whether each image shows its caption: colours and shapes, the relation when there are two
 * objects, and sizes where the caption names them (`sceneMatches`).
 *
 * @param captions One caption per image (text is parsed; a caption outside the grammar throws a
 *   SyntaxError).
 * @param read What the judge read from the images (`judge.read(images)`).
 * @returns `result[i]`: does image i show caption i.
 * @throws {RangeError} A caption count other than the scene count.
 * @example
 * ```ts
 * import { agreement } from "./mod.ts";
 * import type { Scene } from "../data/mod.ts";
 * const read: Scene[] = [{ objects: [{ colour: "red", shape: "star", size: "large" }], relation: null }];
 * console.log(agreement(["a red star"], read), agreement(["a small red star"], read)); // [true] [false]
 * ```
 */
export function agreement(captions: readonly CaptionLike[], read: readonly Scene[]): boolean[] {
  const meanings = paired("agreement", captions, read);
  return meanings.map((m, i) => sceneMatches(m, read[i]));
}

/**
 * Per-attribute agreement of captions with what the judge read (`attributeAgreement`): colour,
 * shape, size, count and relation rates beside the whole-scene one, which equals the rate of
 * `agreement`.
 *
 * @param captions One caption per image.
 * @param read What the judge read from the images.
 * @returns The rates.
 * @throws {RangeError} A caption count other than the scene count.
 * @example
 * ```ts
 * import { captionAgreement } from "./mod.ts";
 * import type { Scene } from "../data/mod.ts";
 * const seen: Scene = { objects: [{ colour: "red", shape: "circle", size: "large" }], relation: null };
 * const rates = captionAgreement(["a red star", "a red circle"], [seen, seen]);
 * console.log(rates.colour, rates.shape, rates.scenes); // 1 0.5 0.5
 * ```
 */
export function captionAgreement(
  captions: readonly CaptionLike[],
  read: readonly Scene[],
): AttributeAgreement {
  return attributeAgreement(paired("captionAgreement", captions, read), read);
}

/**
 * The judge's accuracy against scenes whose attributes are known (a rendered set's
 * `attributes`).
 *
 * @param truth What the images show (any object order).
 * @param read What the judge read from them.
 * @returns Per-attribute and per-scene accuracy.
 * @throws {RangeError} A scene count other than the read count.
 * @example
 * ```ts
 * import { createShapesJudge, judgeAccuracy } from "./mod.ts";
 * import { makeShapes } from "../data/mod.ts";
 * const judge = await createShapesJudge();
 * const set = await makeShapes({ count: 200, split: "zero-shot", seed: 9, cache: false });
 * console.log(judgeAccuracy(set.attributes, judge.read(set.images)).attributes); // ≈ 0.99
 * judge.dispose();
 * ```
 */
export function judgeAccuracy(truth: readonly Scene[], read: readonly Scene[]): JudgeAccuracy {
  if (truth.length !== read.length) {
    throw new RangeError(`judgeAccuracy got ${truth.length} scenes for ${read.length} read`);
  }
  // A scene is a caption that names every size, so the caption matcher scores it.
  const { pairs, ...rates } = attributeAgreement(truth, read);
  return {
    ...rates,
    images: pairs,
    relation: Number.isNaN(rates.relation) ? 1 : rates.relation,
  };
}

/** Captions parsed, once their count is checked against the scenes read. */
function paired(
  name: string,
  captions: readonly CaptionLike[],
  read: readonly Scene[],
): CaptionMeaning[] {
  if (captions.length !== read.length) {
    throw new RangeError(`${name} got ${captions.length} captions for ${read.length} scenes read`);
  }
  return captions.map((c) => (typeof c === "string" ? parseCaption(c) : c));
}
