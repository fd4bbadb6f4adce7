/**
 * Near-miss captions: a true caption changed in exactly one respect so that it becomes false of
 * its scene: one object's colour, shape or (named) size, the relation flipped ("left of" ↔
 * "right of", "above" ↔ "below"), or the two objects swapped. They are the hard negatives of
 * NegCLIP (Yuksekgonul et al. 2023): batch negatives almost always differ in colour, so a
 * contrastive model can score well while ignoring shape, size and order; a near miss differs in
 * nothing else.
 *
 * A near miss keeps the caption's phrasing ("there is …", "… is above …") so that only the named
 * word (or the order of the two noun phrases) changes; the article follows the new first word
 * ("a red" → "an orange"). A relation flip and a swap say the same thing of the scene ("B left of
 * A" is "A right of B"); they differ in what the text encoder must read: a word, or the order.
 *
 * @module
 */
import { drawInt, type RandomSource } from "../io/mod.ts";
import {
  type CaptionMeaning,
  type CaptionObject,
  COLOURS,
  isZeroShotPair,
  parseCaption,
  type Relation,
  type Scene,
  sceneMatches,
  SHAPES,
  type Size,
} from "./captions.ts";

/** The kinds of near miss, in the order results list them. */
export const NEAR_MISS_KINDS = ["colour", "shape", "size", "relation", "swap"] as const;

/** One of `NEAR_MISS_KINDS`. */
export type NearMissKind = typeof NEAR_MISS_KINDS[number];

/** A caption one change away from a true one, and false of its scene. */
export interface NearMiss {
  /** What was changed. */
  kind: NearMissKind;
  /** The near-miss caption (lowercase, the original's phrasing). */
  caption: string;
  /** Caption-order index of the object changed (colour, shape, size); null for relation, swap. */
  object: number | null;
  /** The words replaced: a colour, shape, size or relation; for a swap the first noun phrase. */
  from: string;
  /** The words put in their place; for a swap the second noun phrase (now first). */
  to: string;
}

/** Options of {@link nearMisses} and the draws built on it. */
export interface NearMissOptions {
  /**
   * Leave out near misses that name a held-out colour–shape pair (`ZERO_SHOT_PAIRS`): set it
   * whenever the near misses may train a model, so training never sees a held-out composition.
   * @default false
   */
  avoidZeroShot?: boolean;
}

const FLIPPED: Readonly<Record<Relation, Relation>> = {
  "left of": "right of",
  "right of": "left of",
  "above": "below",
  "below": "above",
};
const OTHER_SIZE: Readonly<Record<Size, Size>> = { small: "large", large: "small" };

/** How a caption is phrased, so that a near miss can be phrased the same way. */
interface Phrasing {
  prefix: "" | "there is " | "a picture of ";
  /** "A is left of B" rather than "[prefix] A left of B". */
  isForm: boolean;
}

/** The text parseCaption reads: trimmed, lowercase, single spaces, no final full stop. */
function normalise(caption: string): string {
  return caption.trim().toLowerCase().replace(/\s+/g, " ").replace(/\.$/, "");
}

function phrasingOf(text: string, meaning: CaptionMeaning): Phrasing {
  // Only two-object captions have the "is" form, and it takes no prefix (see captions.ts).
  if (meaning.objects.length === 2 && / is (left of|right of|above|below) /.test(text)) {
    return { prefix: "", isForm: true };
  }
  const prefix = text.startsWith("there is ")
    ? "there is "
    : text.startsWith("a picture of ")
    ? "a picture of "
    : "";
  return { prefix, isForm: false };
}

function nounPhrase(object: CaptionObject): string {
  const words = [...(object.size ? [object.size] : []), object.colour, object.shape];
  return [/^[aeiou]/.test(words[0]) ? "an" : "a", ...words].join(" ");
}

function render(meaning: CaptionMeaning, phrasing: Phrasing): string {
  const [a, b] = meaning.objects.map(nounPhrase);
  if (b === undefined) return phrasing.prefix + a;
  return phrasing.isForm
    ? `${a} is ${meaning.relation} ${b}`
    : `${phrasing.prefix}${a} ${meaning.relation} ${b}`;
}

/** The meaning with object `k` replaced by `change` applied to it. */
function withObject(
  meaning: CaptionMeaning,
  k: number,
  change: Partial<CaptionObject>,
): CaptionMeaning {
  return {
    relation: meaning.relation,
    objects: meaning.objects.map((o, i) => (i === k ? { ...o, ...change } : o)),
  };
}

/** Every one-change edit of a kind, before the checks (fixed order). */
function edits(meaning: CaptionMeaning, kind: NearMissKind) {
  const out: { meaning: CaptionMeaning; object: number | null; from: string; to: string }[] = [];
  const { objects, relation } = meaning;
  objects.forEach((o, k) => {
    if (kind === "colour") {
      for (const colour of COLOURS) {
        if (colour !== o.colour) {
          out.push({
            meaning: withObject(meaning, k, { colour }),
            object: k,
            from: o.colour,
            to: colour,
          });
        }
      }
    } else if (kind === "shape") {
      for (const shape of SHAPES) {
        if (shape !== o.shape) {
          out.push({
            meaning: withObject(meaning, k, { shape }),
            object: k,
            from: o.shape,
            to: shape,
          });
        }
      }
    } else if (kind === "size" && o.size !== null) {
      const size = OTHER_SIZE[o.size];
      out.push({ meaning: withObject(meaning, k, { size }), object: k, from: o.size, to: size });
    }
  });
  if (objects.length === 2 && relation !== null) {
    if (kind === "relation") {
      const flipped = FLIPPED[relation];
      out.push({
        meaning: { objects, relation: flipped },
        object: null,
        from: relation,
        to: flipped,
      });
    } else if (kind === "swap") {
      out.push({
        meaning: { objects: [objects[1], objects[0]], relation },
        object: null,
        from: nounPhrase(objects[0]),
        to: nounPhrase(objects[1]),
      });
    }
  }
  return out;
}

/**
 * Every near miss of one kind for a caption of a scene, in a fixed order (objects in caption
 * order, then `COLOURS` / `SHAPES` order). Each parses with `parseCaption`, is false of the scene
 * (`sceneMatches` false) and differs from the caption only in the named attribute of one object,
 * the relation word, or the order of the two objects. Sizes are changed only where the caption
 * names them; one-object captions have no relation or swap near misses.
 *
 * @param caption A caption of the grammar, true of `scene`.
 * @param scene What the image shows.
 * @param kind Which change.
 * @param options See {@link NearMissOptions}.
 * @returns The near misses (empty when the caption has none of this kind).
 * @throws {SyntaxError} A caption outside the grammar.
 * @throws {RangeError} A caption that is not true of its scene (a near miss of it means nothing;
 *   usually captions and scenes out of step).
 * @example
 * ```ts
 * import { nearMisses, type Scene } from "./mod.ts";
 * const scene: Scene = {
 *   objects: [{ colour: "red", shape: "circle", size: "small" }, { colour: "blue", shape: "star", size: "large" }],
 *   relation: "left of",
 * };
 * console.log(nearMisses("there is a red circle left of a blue star", scene, "relation")[0].caption);
 * // "there is a red circle right of a blue star"
 * console.log(nearMisses("a red circle left of a blue star", scene, "shape").length); // 8
 * ```
 */
export function nearMisses(
  caption: string,
  scene: Scene,
  kind: NearMissKind,
  options: NearMissOptions = {},
): NearMiss[] {
  if (!NEAR_MISS_KINDS.includes(kind)) {
    throw new TypeError(`unknown near-miss kind ${kind}; kinds: ${NEAR_MISS_KINDS.join(", ")}`);
  }
  const meaning = parseCaption(caption);
  if (!sceneMatches(meaning, scene)) {
    throw new RangeError(
      `"${caption}" is not true of its scene (${JSON.stringify(scene)}): near misses are built ` +
        `from true captions (are captions and scenes in the same order?)`,
    );
  }
  const text = normalise(caption);
  const phrasing = phrasingOf(text, meaning);
  const out: NearMiss[] = [];
  for (const edit of edits(meaning, kind)) {
    if (sceneMatches(edit.meaning, scene)) continue; // e.g. swapping two objects alike
    if (
      options.avoidZeroShot && edit.meaning.objects.some((o) => isZeroShotPair(o.colour, o.shape))
    ) {
      continue;
    }
    const near = render(edit.meaning, phrasing);
    if (near === text) continue;
    out.push({ kind, caption: near, object: edit.object, from: edit.from, to: edit.to });
  }
  return out;
}

/**
 * One near miss of a kind, drawn uniformly from {@link nearMisses} with one draw of `rng`
 * (none when there is nothing to draw from).
 *
 * @param caption A caption of the grammar, true of `scene`.
 * @param scene What the image shows.
 * @param kind Which change.
 * @param rng Any source of uniform draws (lib/io's `Rng`).
 * @param options See {@link NearMissOptions}.
 * @returns The near miss, or null when the caption has none of this kind.
 * @throws {SyntaxError | RangeError} As {@link nearMisses}.
 * @example
 * ```ts
 * import { drawNearMiss, type Scene } from "./mod.ts";
 * import { Rng } from "../io/mod.ts";
 * const scene: Scene = { objects: [{ colour: "red", shape: "circle", size: "small" }], relation: null };
 * console.log(drawNearMiss("a small red circle", scene, "size", new Rng(0))?.caption); // "a large red circle"
 * console.log(drawNearMiss("a red circle", scene, "swap", new Rng(0))); // null
 * ```
 */
export function drawNearMiss(
  caption: string,
  scene: Scene,
  kind: NearMissKind,
  rng: RandomSource,
  options: NearMissOptions = {},
): NearMiss | null {
  const all = nearMisses(caption, scene, kind, options);
  return all.length === 0 ? null : all[drawInt(rng, all.length)];
}

/**
 * `count` near misses of a caption, spread over the kinds it has: the kinds are shuffled, then
 * taken in turn, each giving a near miss of its kind not drawn yet (repeats only once a kind has
 * run out). So K = 5 gives a two-object caption one of each kind, and shape and relation are as
 * frequent as colour, whatever the number of candidates of each.
 *
 * @param caption A caption of the grammar, true of `scene`.
 * @param scene What the image shows.
 * @param count How many, an integer ≥ 0.
 * @param rng Any source of uniform draws (lib/io's `Rng`).
 * @param options See {@link NearMissOptions}.
 * @returns `count` near misses, or none when the caption has no near miss at all.
 * @throws {SyntaxError | RangeError} As {@link nearMisses}; a count that is not an integer ≥ 0.
 * @example
 * ```ts
 * import { drawNearMisses, type Scene } from "./mod.ts";
 * import { Rng } from "../io/mod.ts";
 * const scene: Scene = {
 *   objects: [{ colour: "red", shape: "circle", size: "small" }, { colour: "blue", shape: "star", size: "large" }],
 *   relation: "above",
 * };
 * const near = drawNearMisses("a red circle above a blue star", scene, 4, new Rng(1), { avoidZeroShot: true });
 * console.log(new Set(near.map((n) => n.kind)).size); // 4: four kinds, one each
 * ```
 */
export function drawNearMisses(
  caption: string,
  scene: Scene,
  count: number,
  rng: RandomSource,
  options: NearMissOptions = {},
): NearMiss[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`drawNearMisses needs a count that is an integer ≥ 0, got ${count}`);
  }
  const pools = NEAR_MISS_KINDS.map((kind) => nearMisses(caption, scene, kind, options))
    .filter((pool) => pool.length > 0);
  if (pools.length === 0) return [];
  // Fisher–Yates over the kinds, then round robin.
  for (let i = pools.length - 1; i > 0; i--) {
    const j = drawInt(rng, i + 1);
    [pools[i], pools[j]] = [pools[j], pools[i]];
  }
  const left = pools.map((pool) => [...pool]);
  const out: NearMiss[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % pools.length;
    if (left[k].length === 0) left[k] = [...pools[k]];
    out.push(left[k].splice(drawInt(rng, left[k].length), 1)[0]);
  }
  return out;
}
