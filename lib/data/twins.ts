/**
 * Near-miss twins: for each captioned scene, a second scene rendered from one of its near-miss
 * captions (lib/data's `drawNearMiss`: one colour, shape or named size changed, the relation
 * flipped or the objects swapped), captioned by that near miss. The twin's caption is true of the
 * twin and false of the original, and the original's caption is false of the twin, so a batch
 * holding both gives a contrastive model a hard negative on each side: a caption must pick its
 * own image over one that differs in a single respect (what reranking asks: one caption, many
 * candidate images), and an image must pick its caption over one that differs in a single word.
 *
 * Twins of training scenes never hold a held-out colour–shape pair (`avoidZeroShot`).
 *
 * @module
 */
import { Rng, streamSeed } from "../io/mod.ts";
import { parseCaption, type Scene, sceneMatches } from "./captions.ts";
import { drawNearMiss, NEAR_MISS_KINDS, type NearMiss, type NearMissKind } from "./near_miss.ts";
import { renderScenes, type ShapesDataset } from "./shapes.ts";

/** Options of {@link withNearMissTwins}. */
export interface TwinOptions {
  /** Seed of the kinds and near misses drawn, and of the twins' layouts. @default 0 */
  seed?: number;
  /** Kinds a twin may change, drawn uniformly among those a caption has. @default all */
  kinds?: readonly NearMissKind[];
}

/** What {@link withNearMissTwins} returns. */
export interface Twinned extends ShapesDataset {
  /** Per row: what changed from its twin (null for the originals, at even rows). */
  twinKinds: (NearMissKind | null)[];
}

/**
 * The scene a near-miss caption describes, sizes it leaves unnamed taken from the scene it was
 * made from (a swap carries each object's size with it).
 *
 * @param scene The original scene.
 * @param near A near miss of a caption true of `scene`.
 * @returns A scene the near miss is true of.
 */
export function nearMissScene(scene: Scene, near: NearMiss): Scene {
  const meaning = parseCaption(near.caption);
  const swapped = near.kind === "swap";
  return {
    relation: meaning.relation,
    objects: meaning.objects.map((o, i) => ({
      colour: o.colour,
      shape: o.shape,
      size: o.size ?? scene.objects[swapped ? 1 - i : i].size,
    })),
  };
}

/**
 * The set with a near-miss twin after each scene: row 2i is scene i, row 2i + 1 its twin. A
 * scene whose caption has no near miss of any allowed kind keeps a copy of itself as its twin
 * (kind null), so rows still come in pairs; the count is small (it needs a caption with one
 * object and only the kinds relation or swap).
 *
 * @param set Captioned scenes (the "train" split, for training).
 * @param options Seed and kinds.
 * @returns 2 × count rows, interleaved, split and seed as the set's.
 * @throws {RangeError} An unknown kind, or a caption that is not true of its scene.
 * @example
 * ```ts
 * import { makeShapes, withNearMissTwins } from "./mod.ts";
 * const set = await makeShapes({ count: 4, seed: 0, split: "train", cache: false });
 * const twins = await withNearMissTwins(set, { seed: 0 });
 * console.log(twins.images.count, twins.captions[0] === set.captions[0]); // 8 true
 * ```
 */
export async function withNearMissTwins(
  set: ShapesDataset,
  options: TwinOptions = {},
): Promise<Twinned> {
  const seed = options.seed ?? 0;
  const kinds = options.kinds ?? NEAR_MISS_KINDS;
  const unknown = kinds.find((k) => !NEAR_MISS_KINDS.includes(k));
  if (unknown !== undefined || kinds.length === 0) {
    throw new RangeError(
      `twin kinds must be some of ${NEAR_MISS_KINDS.join(", ")}, got ${kinds.join(", ")}`,
    );
  }
  const n = set.images.count;
  const twinScenes: Scene[] = [];
  const twinCaptions: string[] = [];
  const twinKinds: (NearMissKind | null)[] = [];
  for (let i = 0; i < n; i++) {
    const rng = new Rng(streamSeed("near-miss-twin", seed, i));
    // The kinds in a seeded order; the first that this caption has gives the twin.
    const order = rng.shuffle([...kinds]);
    let near: NearMiss | null = null;
    for (const kind of order) {
      near = drawNearMiss(set.captions[i], set.attributes[i], kind, rng, { avoidZeroShot: true });
      if (near) break;
    }
    const scene = near ? nearMissScene(set.attributes[i], near) : set.attributes[i];
    if (near && sceneMatches(parseCaption(set.captions[i]), scene)) {
      // drawNearMiss promises a caption false of the original; its scene must differ too.
      throw new RangeError(`twin of "${set.captions[i]}" still matches it: "${near.caption}"`);
    }
    twinScenes.push(scene);
    twinCaptions.push(near ? near.caption : set.captions[i]);
    twinKinds.push(near ? near.kind : null);
  }
  const size = set.images.height;
  // The layouts' own stream, so twins never copy their originals' jitter.
  const layoutSeed = streamSeed("near-miss-twin-layout", seed);
  const rendered = await renderScenes(twinScenes, { size, seed: layoutSeed });
  const pixels = size * size * 3;
  const data = new Uint8Array(2 * n * pixels);
  const captions: string[] = [];
  const attributes: Scene[] = [];
  const kindsOut: (NearMissKind | null)[] = [];
  for (let i = 0; i < n; i++) {
    data.set(set.images.data.subarray(i * pixels, (i + 1) * pixels), 2 * i * pixels);
    data.set(rendered.data.subarray(i * pixels, (i + 1) * pixels), (2 * i + 1) * pixels);
    captions.push(set.captions[i], twinCaptions[i]);
    attributes.push(set.attributes[i], twinScenes[i]);
    kindsOut.push(null, twinKinds[i]);
  }
  return {
    images: { data, count: 2 * n, height: size, width: size, channels: 3 },
    captions,
    attributes,
    split: set.split,
    seed: set.seed,
    twinKinds: kindsOut,
  };
}
