/**
 * The shapes world's vocabulary and the small grammar its captions come from.
 *
 * A scene holds one or two objects; each has a colour, a shape and a size; two objects stand in a
 * relation ("a red circle left of a blue square": the first-mentioned object is left of the
 * second). Captions are generated from a scene (`captionFor`) and read back (`parseCaption`) with
 * the same grammar, so the judge can check any caption the toolkit produces:
 *
 * ```
 * caption  := prefix? object                      prefix := "there is " | "a picture of "
 *           | prefix? object relation object
 *           | object "is" relation object
 * object   := ("a" | "an") size? colour shape
 * relation := "left of" | "right of" | "above" | "below"
 * ```
 *
 * Sizes are optional in captions (about half the objects mention theirs); a caption that leaves
 * the size out is true of either size.
 *
 * @module
 */
import { drawInt, type RandomSource } from "../io/mod.ts";

/** Object colours, in label order (the judge's colour classes). */
export const COLOURS = ["red", "orange", "yellow", "green", "blue", "purple"] as const;
/** Object shapes, in label order. */
export const SHAPES = ["circle", "square", "triangle", "star", "cross"] as const;
/** Object sizes, in label order. */
export const SIZES = ["small", "large"] as const;
/** Relations between the first-mentioned object and the second. */
export const RELATIONS = ["left of", "right of", "above", "below"] as const;

/** One of `COLOURS`. */
export type Colour = typeof COLOURS[number];
/** One of `SHAPES`. */
export type Shape = typeof SHAPES[number];
/** One of `SIZES`. */
export type Size = typeof SIZES[number];
/** One of `RELATIONS`. */
export type Relation = typeof RELATIONS[number];

/**
 * The held-out colour–shape compositions: no object of the "train" or "test" split (image or
 * caption) is one of these; every "zero-shot" scene has at least one. Each colour and each shape
 * still appears in training with the other partners, so a model that composes attributes can
 * draw them.
 */
export const ZERO_SHOT_PAIRS: readonly (readonly [Colour, Shape])[] = [
  ["green", "triangle"],
  ["purple", "star"],
  ["orange", "circle"],
  ["blue", "square"],
];

/** One object of a scene. */
export interface ShapeObject {
  /** Its colour. */
  colour: Colour;
  /** Its shape. */
  shape: Shape;
  /** Its size. */
  size: Size;
}

/** What a scene shows: one object, or two objects and how the first stands to the second. */
export interface Scene {
  /** One or two objects, in caption order. */
  objects: ShapeObject[];
  /** `objects[0]` relation `objects[1]`; null for one object. */
  relation: Relation | null;
}

/** An object as a caption names it: the size may be left out. */
export interface CaptionObject {
  /** Its colour. */
  colour: Colour;
  /** Its shape. */
  shape: Shape;
  /** Its size, or null when the caption does not say. */
  size: Size | null;
}

/** What a caption says: the objects it names, in order, and their relation. */
export interface CaptionMeaning {
  /** One or two objects, in caption order. */
  objects: CaptionObject[];
  /** Relation of the first object to the second; null for one object. */
  relation: Relation | null;
}

/** Options for `captionFor`. */
export interface CaptionOptions {
  /** Probability that an object's size is mentioned. @default 0.5 */
  sizeProbability?: number;
}

/**
 * Whether a colour–shape composition is held out for the zero-shot split.
 *
 * @param colour The colour.
 * @param shape The shape.
 * @returns true for a pair in `ZERO_SHOT_PAIRS`.
 * @example
 * ```ts
 * import { isZeroShotPair } from "./captions.ts";
 * console.log(isZeroShotPair("green", "triangle"), isZeroShotPair("red", "triangle")); // true false
 * ```
 */
export function isZeroShotPair(colour: Colour, shape: Shape): boolean {
  return ZERO_SHOT_PAIRS.some(([c, s]) => c === colour && s === shape);
}

const ONE_OBJECT_TEMPLATES = ["{a}", "there is {a}", "a picture of {a}"];
const TWO_OBJECT_TEMPLATES = [
  "{a} {rel} {b}",
  "there is {a} {rel} {b}",
  "a picture of {a} {rel} {b}",
  "{a} is {rel} {b}",
];

function nounPhrase(object: CaptionObject): string {
  const words = [...(object.size ? [object.size] : []), object.colour, object.shape];
  const article = /^[aeiou]/.test(words[0]) ? "an" : "a";
  return [article, ...words].join(" ");
}

/**
 * A caption for a scene in plain lowercase English, phrasing and size mentions drawn from `rng`.
 *
 * @param scene The scene (objects in the order the caption names them).
 * @param rng Any source of uniform draws in [0, 1) (lib/nn's `Rng` works).
 * @param options See `CaptionOptions`.
 * @returns e.g. "a small red circle above a blue square" or "there is an orange star".
 * @example
 * ```ts
 * import { captionFor, type Scene } from "./captions.ts";
 * const rng = { next: () => 0 }; // always the first phrasing, always mention the size
 * const scene: Scene = {
 *   objects: [{ colour: "red", shape: "circle", size: "small" }, { colour: "blue", shape: "square", size: "large" }],
 *   relation: "above",
 * };
 * console.log(captionFor(scene, rng)); // "a small red circle above a large blue square"
 * ```
 */
export function captionFor(scene: Scene, rng: RandomSource, options: CaptionOptions = {}): string {
  const sizeProbability = options.sizeProbability ?? 0.5;
  checkScene(scene);
  const phrases = scene.objects.map((o) =>
    nounPhrase({ ...o, size: rng.next() < sizeProbability ? o.size : null })
  );
  if (scene.objects.length === 1) {
    const template = ONE_OBJECT_TEMPLATES[drawInt(rng, ONE_OBJECT_TEMPLATES.length)];
    return template.replace("{a}", phrases[0]);
  }
  const template = TWO_OBJECT_TEMPLATES[drawInt(rng, TWO_OBJECT_TEMPLATES.length)];
  return template.replace("{a}", phrases[0]).replace("{rel}", scene.relation!).replace(
    "{b}",
    phrases[1],
  );
}

function checkScene(scene: Scene): void {
  const n = scene.objects.length;
  if (n !== 1 && n !== 2) throw new RangeError(`a scene has 1 or 2 objects, got ${n}`);
  if ((n === 2) !== (scene.relation !== null)) {
    throw new RangeError(
      `a scene with ${n} object(s) needs relation ${
        n === 2 ? "set" : "null"
      }, got ${scene.relation}`,
    );
  }
}

const RELATION_PATTERN = RELATIONS.join("|");
const OBJECT_PATTERN = `an? (?:(${SIZES.join("|")}) )?(${COLOURS.join("|")}) (${SHAPES.join("|")})`;
const PREFIX_PATTERN = "(?:there is |a picture of )?";
const ONE_OBJECT_RE = new RegExp(`^${PREFIX_PATTERN}${OBJECT_PATTERN}$`);
const TWO_OBJECT_RE = new RegExp(
  `^(?:${PREFIX_PATTERN}${OBJECT_PATTERN} (${RELATION_PATTERN}) ${OBJECT_PATTERN}` +
    `|${OBJECT_PATTERN} is (${RELATION_PATTERN}) ${OBJECT_PATTERN})$`,
);

/**
 * Reads a caption of the shapes grammar back into what it says. Case, surrounding spaces,
 * repeated spaces and a final full stop are ignored; "a" and "an" are interchangeable.
 *
 * @param caption A caption such as `captionFor` makes.
 * @returns The objects it names (in order, size null when not mentioned) and their relation.
 * @throws {SyntaxError} When the caption is empty or not a sentence of the grammar (the message
 *   quotes it).
 * @throws {TypeError} When it is not a string.
 * @example
 * ```ts
 * import { parseCaption } from "./captions.ts";
 * const meaning = parseCaption("there is a green star below a large red cross");
 * console.log(meaning.relation, meaning.objects[1].size); // "below" "large"
 * ```
 */
export function parseCaption(caption: string): CaptionMeaning {
  if (typeof caption !== "string") {
    throw new TypeError(
      `a caption must be a string, got ${caption === null ? "null" : typeof caption}`,
    );
  }
  if (caption.trim() === "") {
    throw new SyntaxError(
      `not a caption of the shapes grammar: the caption is empty (${JSON.stringify(caption)})`,
    );
  }
  const text = caption.trim().toLowerCase().replace(/\s+/g, " ").replace(/\.$/, "");
  const one = ONE_OBJECT_RE.exec(text);
  if (one) {
    return { objects: [captionObject(one[1], one[2], one[3])], relation: null };
  }
  const two = TWO_OBJECT_RE.exec(text);
  if (two) {
    // Alternatives of the regexp: groups 1–7 for "[prefix] A rel B", 8–14 for "A is rel B".
    const g = two[2] !== undefined ? two.slice(1, 8) : two.slice(8, 15);
    return {
      objects: [captionObject(g[0], g[1], g[2]), captionObject(g[4], g[5], g[6])],
      relation: g[3] as Relation,
    };
  }
  throw new SyntaxError(
    `not a caption of the shapes grammar: "${caption}" (expected e.g. "a red circle", ` +
      `"there is a small blue star", "a red circle left of a large green square"; colours: ` +
      `${COLOURS.join(", ")}; shapes: ${SHAPES.join(", ")}; relations: ${RELATIONS.join(", ")})`,
  );
}

function captionObject(size: string | undefined, colour: string, shape: string): CaptionObject {
  return { colour: colour as Colour, shape: shape as Shape, size: (size ?? null) as Size | null };
}

/**
 * The same scene described with the first object left of or above the second: "A right of B"
 * becomes "B left of A", "A below B" becomes "B above A". Images show no caption order, so this
 * canonical order (left/top object first) is how the judge names the objects it sees.
 *
 * @param scene A scene or a caption's meaning.
 * @returns An equivalent one whose relation is "left of", "above" or null.
 * @example
 * ```ts
 * import { canonicalScene } from "./captions.ts";
 * const s = canonicalScene({
 *   objects: [{ colour: "red", shape: "star", size: "small" }, { colour: "blue", shape: "cross", size: "large" }],
 *   relation: "below",
 * });
 * console.log(s.relation, s.objects[0].colour); // "above" "blue"
 * ```
 */
export function canonicalScene<T extends Scene | CaptionMeaning>(scene: T): T {
  if (scene.relation === "right of" || scene.relation === "below") {
    return {
      ...scene,
      objects: [scene.objects[1], scene.objects[0]],
      relation: scene.relation === "right of" ? "left of" : "above",
    };
  }
  return scene;
}

/**
 * Whether a scene is what a caption says: same number of objects, same relation (in canonical
 * order), same colours and shapes, and the same sizes where the caption names them.
 *
 * @param meaning What the caption says (`parseCaption`).
 * @param scene What the image shows (e.g. the judge's prediction).
 * @returns true when every attribute the caption mentions matches.
 * @example
 * ```ts
 * import { parseCaption, type Scene, sceneMatches } from "./captions.ts";
 * const scene: Scene = {
 *   objects: [{ colour: "blue", shape: "cross", size: "large" }, { colour: "red", shape: "star", size: "small" }],
 *   relation: "above",
 * };
 * console.log(sceneMatches(parseCaption("a red star below a blue cross"), scene)); // true
 * ```
 */
export function sceneMatches(meaning: CaptionMeaning, scene: Scene): boolean {
  const a = canonicalScene(meaning), b = canonicalScene(scene);
  if (a.objects.length !== b.objects.length || a.relation !== b.relation) return false;
  return a.objects.every((o, i) => {
    const seen = b.objects[i];
    return o.colour === seen.colour && o.shape === seen.shape &&
      (o.size === null || o.size === seen.size);
  });
}

/**
 * Which of a caption's attributes a scene shows, one by one. Named objects are paired with seen
 * objects the way that matches most attributes (ties keep canonical order), so a right colour
 * counts even when the layout or the object count is wrong; a named object with no partner is
 * wrong on every attribute.
 */
export interface AttributeMatches {
  /** Same number of objects. */
  count: boolean;
  /** Two-object captions: two objects seen, in the named relation and pairing; else null. */
  relation: boolean | null;
  /** Per named object (caption order): colour right. */
  colour: boolean[];
  /** Per named object: shape right. */
  shape: boolean[];
  /** Per named object: size right, or null where the caption does not name it. */
  size: (boolean | null)[];
}

/**
 * Matches a caption against a scene attribute by attribute. Every field true (sizes null or
 * true) exactly when `sceneMatches` is true; the parts say where a near miss went wrong.
 *
 * @param meaning What the caption says (`parseCaption`).
 * @param scene What the image shows.
 * @returns Per-attribute matches.
 * @example
 * ```ts
 * import { attributeMatches, parseCaption, type Scene } from "./captions.ts";
 * const scene: Scene = { objects: [{ colour: "red", shape: "circle", size: "large" }], relation: null };
 * const m = attributeMatches(parseCaption("a red star"), scene);
 * console.log(m.count, m.colour, m.shape); // true [true] [false]
 * ```
 */
export function attributeMatches(meaning: CaptionMeaning, scene: Scene): AttributeMatches {
  const named = canonicalScene(meaning), seen = canonicalScene(scene);
  const match = (o: CaptionObject, s: ShapeObject | undefined) => ({
    colour: s !== undefined && o.colour === s.colour,
    shape: s !== undefined && o.shape === s.shape,
    size: o.size === null ? null : s !== undefined && o.size === s.size,
  });
  const score = (m: ReturnType<typeof match>) =>
    Number(m.colour) + Number(m.shape) + Number(m.size === true);
  // Assignments of named objects (canonical order) to seen objects; at most two of each.
  const orders: (number | undefined)[][] = named.objects.length === 1
    ? seen.objects.map((_, k) => [k])
    : seen.objects.length === 1
    ? [[0, undefined], [undefined, 0]]
    : [[0, 1], [1, 0]];
  let best: { order: (number | undefined)[]; matches: ReturnType<typeof match>[] } | null = null;
  let bestScore = -1;
  for (const order of orders) {
    const matches = named.objects.map((o, i) => {
      const k = order[i];
      return match(o, k === undefined ? undefined : seen.objects[k]);
    });
    const total = matches.reduce((sum, m) => sum + score(m), 0);
    if (total > bestScore) [best, bestScore] = [{ order, matches }, total];
  }
  const { order, matches } = best!;
  // Report in caption order: canonicalScene swapped the objects for "right of" and "below".
  const swapped = named.objects.length === 2 && meaning.relation !== named.relation;
  const inCaptionOrder = swapped ? [matches[1], matches[0]] : matches;
  return {
    count: named.objects.length === seen.objects.length,
    relation: named.relation === null
      ? null
      : seen.relation === named.relation && order[0] === 0 && order[1] === 1,
    colour: inCaptionOrder.map((m) => m.colour),
    shape: inCaptionOrder.map((m) => m.shape),
    size: inCaptionOrder.map((m) => m.size),
  };
}

/** How often samples show each attribute their captions name (rates in [0, 1]). */
export interface AttributeAgreement {
  /** Caption–image pairs scored. */
  pairs: number;
  /** Every attribute right (`sceneMatches`). */
  scenes: number;
  /** Fraction of all attribute checks right (count, relation, each colour, shape, named size). */
  attributes: number;
  /** Object count right. */
  count: number;
  /** Relation right, over two-object captions (NaN when there are none). */
  relation: number;
  /** Colour right, over named objects. */
  colour: number;
  /** Shape right, over named objects. */
  shape: number;
  /** Size right, over objects whose size is named (NaN when none is). */
  size: number;
}

/**
 * Per-attribute agreement of many caption–scene pairs: where whole-scene agreement is low, this
 * says whether colours, shapes, sizes, counts or layouts are what the samples miss.
 *
 * @param meanings What each caption says.
 * @param scenes What each image shows (same length).
 * @returns The rates.
 * @example
 * ```ts
 * import { attributeAgreement, parseCaption, type Scene } from "./captions.ts";
 * const scene: Scene = { objects: [{ colour: "red", shape: "circle", size: "large" }], relation: null };
 * const rates = attributeAgreement(["a red star", "a red circle"].map(parseCaption), [scene, scene]);
 * console.log(rates.colour, rates.shape, rates.scenes); // 1 0.5 0.5
 * ```
 */
export function attributeAgreement(
  meanings: readonly CaptionMeaning[],
  scenes: readonly Scene[],
): AttributeAgreement {
  if (meanings.length !== scenes.length) {
    throw new RangeError(
      `attributeAgreement got ${meanings.length} captions for ${scenes.length} scenes`,
    );
  }
  const tally = {
    scenes: 0,
    attributes: [0, 0],
    count: 0,
    relation: [0, 0],
    colour: [0, 0],
    shape: [0, 0],
    size: [0, 0],
  };
  const add = (slot: number[], ok: boolean | null) => {
    if (ok === null) return;
    slot[0] += Number(ok);
    slot[1]++;
  };
  meanings.forEach((meaning, i) => {
    const m = attributeMatches(meaning, scenes[i]);
    tally.scenes += Number(sceneMatches(meaning, scenes[i]));
    tally.count += Number(m.count);
    for (const ok of [m.count, m.relation, ...m.colour, ...m.shape, ...m.size]) {
      add(tally.attributes, ok);
    }
    add(tally.relation, m.relation);
    m.colour.forEach((ok) => add(tally.colour, ok));
    m.shape.forEach((ok) => add(tally.shape, ok));
    m.size.forEach((ok) => add(tally.size, ok));
  });
  const n = meanings.length;
  const ratio = ([right, total]: number[]) => (total === 0 ? NaN : right / total);
  return {
    pairs: n,
    scenes: n === 0 ? NaN : tally.scenes / n,
    attributes: ratio(tally.attributes),
    count: n === 0 ? NaN : tally.count / n,
    relation: ratio(tally.relation),
    colour: ratio(tally.colour),
    shape: ratio(tally.shape),
    size: ratio(tally.size),
  };
}
