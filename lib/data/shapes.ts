/**
 * Captioned shapes: small scenes of one or two coloured shapes, rendered from SVG by sharp, with
 * captions from the grammar in `captions.ts` and a zero-shot split of held-out compositions.
 *
 * Image i of a set is drawn from its own random stream, seeded by (seed, split, i): its scene,
 * caption, and layout (position, size and rotation jitter) do not depend on how many images were
 * asked for, so the first 10 of a 1,000-image set are the 10-image set.
 *
 * Layout: one object sits near the centre; two objects each sit in their own half of the canvas
 * (left/right halves for "left of"/"right of", top/bottom for "above"/"below"), so the relation is
 * never ambiguous. Shapes keep sharp's antialiasing (realistic edges); their interiors are flat
 * colours from a palette chosen to stay far apart, so colours remain classifiable.
 *
 * @module
 */
import { loadSharp } from "./_sharp.ts";
import { join } from "node:path";
import { mixSeed, Mulberry32, readFileOrNull, writeFileAtomic } from "../io/mod.ts";
import { defaultCacheDir } from "./_cache.ts";
import {
  captionFor,
  type Colour,
  COLOURS,
  isZeroShotPair,
  RELATIONS,
  type Scene,
  type Shape,
  type ShapeObject,
  SHAPES,
  SIZES,
  ZERO_SHOT_PAIRS,
} from "./captions.ts";
import type { CaptionedImages, ImageBatch } from "./image_batch.ts";

/**
 * Bumped whenever sampling, layout or rendering changes, so caches of older sets are not reused.
 * Part of every cache key. Sampling draws from lib/io's frozen `Mulberry32.data` stream (not the
 * general `Rng`), so the sets stay the same unless this version changes.
 */
export const SHAPES_GENERATOR_VERSION = 2;

/** Which split: "train" and "test" share a distribution; "zero-shot" holds the held-out pairs. */
export type ShapesSplit = "train" | "test" | "zero-shot";

/** The splits, in the order their seed streams are numbered. */
export const SHAPES_SPLITS: readonly ShapesSplit[] = ["train", "test", "zero-shot"];

/**
 * Fill colours of the palette (sRGB hex). Every colour has the same smallest channel (30), so
 * "ink" = 255 − min(R, G, B) is the same for all of them, on antialiased edges too (mixing with
 * white scales every channel's distance from 255 alike): a shape reader that looks at ink alone
 * is blind to colour by construction.
 */
export const COLOUR_HEX: Readonly<Record<Colour, string>> = {
  red: "#dc1e1e", // (220, 30, 30)
  orange: "#f58c1e", // (245, 140, 30)
  yellow: "#ebcd1e", // (235, 205, 30)
  green: "#1ea03c", // (30, 160, 60)
  blue: "#1e5ae6", // (30, 90, 230)
  purple: "#911ebe", // (145, 30, 190)
};

/** The smallest channel of every palette colour (see `COLOUR_HEX`). */
export const PALETTE_MIN_CHANNEL = 30;

/** Background colour of every scene. */
export const BACKGROUND_HEX = "#ffffff";

/** Options for `makeShapes`. */
export interface ShapesOptions {
  /** Number of images. */
  count: number;
  /** Seed of the set; the same seed gives byte-identical images and captions. @default 0 */
  seed?: number;
  /** Side of the square images in pixels. @default 32 */
  size?: number;
  /** Which split. @default "train" */
  split?: ShapesSplit;
  /** Read and write the cache (a second call with the same options is a file read). @default true */
  cache?: boolean;
  /** Cache folder. @default "<repo>/data/cache" */
  cacheDir?: string;
  /** Probability that a scene has two objects rather than one. @default 0.6 */
  twoObjectProbability?: number;
}

/** A captioned shapes set. */
export interface ShapesDataset extends CaptionedImages {
  /** `count × size × size × 3` RGB bytes. */
  images: ImageBatch;
  /** One caption per image. */
  captions: string[];
  /** What each image shows, objects in caption order. */
  attributes: Scene[];
  /** The split it was drawn from. */
  split: ShapesSplit;
  /** Its seed. */
  seed: number;
}

/** An object placed on the canvas: centre, half-size and rotation, in pixels and degrees. */
interface Placed extends ShapeObject {
  cx: number;
  cy: number;
  radius: number;
  rotationDeg: number;
}

/** Half-size of an object as a fraction of the canvas side (before ±6% jitter). */
const RADIUS_FRACTION: Readonly<Record<ShapeObject["size"], number>> = {
  small: 0.125,
  large: 0.2,
};

// Outlines in units of the object's radius, centred on (0, 0), y pointing down. Areas are roughly
// matched so that size, not shape, decides how big an object looks.
const STAR_POINTS = Array.from({ length: 10 }, (_, k) => {
  const r = k % 2 === 0 ? 1 : 0.48;
  const angle = -Math.PI / 2 + (k * Math.PI) / 5;
  return [r * Math.cos(angle), r * Math.sin(angle) + 0.1] as [number, number];
});
const OUTLINES: Readonly<Record<Exclude<Shape, "circle">, [number, number][]>> = {
  square: [[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]],
  triangle: [[0, -0.95], [0.95, 0.8], [-0.95, 0.8]],
  star: STAR_POINTS,
  cross: [
    [-0.3, -0.92],
    [0.3, -0.92],
    [0.3, -0.3],
    [0.92, -0.3],
    [0.92, 0.3],
    [0.3, 0.3],
    [0.3, 0.92],
    [-0.3, 0.92],
    [-0.3, 0.3],
    [-0.92, 0.3],
    [-0.92, -0.3],
    [-0.3, -0.3],
  ],
};
const CIRCLE_RADIUS = 0.92;
const MAX_ROTATION_DEG = 12;

/** The object's outline in canvas pixels relative to its centre (circles: a bounding square). */
function outline(shape: Shape, radius: number, rotationDeg: number): [number, number][] {
  if (shape === "circle") {
    const r = CIRCLE_RADIUS * radius;
    return [[-r, -r], [r, -r], [r, r], [-r, r]];
  }
  const t = (rotationDeg * Math.PI) / 180, cos = Math.cos(t), sin = Math.sin(t);
  return OUTLINES[shape].map(([x, y]) => [
    radius * (x * cos - y * sin),
    radius * (x * sin + y * cos),
  ]);
}

function extent(points: [number, number][]) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  return {
    minX: Math.min(...xs),
    maxX: Math.max(...xs),
    minY: Math.min(...ys),
    maxY: Math.max(...ys),
  };
}

function sampleObject(rng: Mulberry32, allowed: (c: Colour, s: Shape) => boolean): ShapeObject {
  for (;;) {
    const colour = rng.pick(COLOURS), shape = rng.pick(SHAPES);
    if (allowed(colour, shape)) return { colour, shape, size: rng.pick(SIZES) };
  }
}

/**
 * Draws a scene of a split: train/test scenes contain no held-out pair, zero-shot scenes contain
 * at least one; two objects always differ in colour or shape.
 */
function sampleScene(rng: Mulberry32, split: ShapesSplit, twoObjectProbability: number): Scene {
  const two = rng.next() < twoObjectProbability;
  const seen = (c: Colour, s: Shape) => !isZeroShotPair(c, s);
  if (split !== "zero-shot") {
    const a = sampleObject(rng, seen);
    if (!two) return { objects: [a], relation: null };
    const b = sampleObject(rng, (c, s) => seen(c, s) && (c !== a.colour || s !== a.shape));
    return { objects: [a, b], relation: rng.pick(RELATIONS) };
  }
  const [colour, shape] = rng.pick(ZERO_SHOT_PAIRS);
  const held: ShapeObject = { colour, shape, size: rng.pick(SIZES) };
  if (!two) return { objects: [held], relation: null };
  const other = sampleObject(rng, (c, s) => c !== colour || s !== shape);
  const objects = rng.next() < 0.5 ? [held, other] : [other, held];
  return { objects, relation: rng.pick(RELATIONS) };
}

/** Places a scene's objects on a `size × size` canvas with jitter. */
function layout(scene: Scene, rng: Mulberry32, size: number): Placed[] {
  const margin = 0.5;
  const placed = scene.objects.map((o) => {
    const radius = RADIUS_FRACTION[o.size] * size * rng.uniform(0.94, 1.06);
    const rotationDeg = o.shape === "circle" ? 0 : rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG);
    return { ...o, radius, rotationDeg, cx: 0, cy: 0 };
  });
  // Each object gets a box (its half of the canvas, or all of it) and a centre drawn so that its
  // whole outline stays inside that box.
  const boxes: [number, number, number, number][] = []; // [x0, y0, x1, y1]
  if (scene.relation === null) boxes.push([0, 0, size, size]);
  else {
    const half = size / 2;
    const [first, second]: [number, number, number, number][] =
      scene.relation === "left of" || scene.relation === "right of"
        ? [[0, 0, half, size], [half, 0, size, size]]
        : [[0, 0, size, half], [0, half, size, size]];
    const firstIsLeftOrTop = scene.relation === "left of" || scene.relation === "above";
    boxes.push(...(firstIsLeftOrTop ? [first, second] : [second, first]));
  }
  const horizontalPair = scene.relation === "left of" || scene.relation === "right of";
  const verticalPair = scene.relation === "above" || scene.relation === "below";
  // Along a relation's axis an object may sit anywhere in its half; across it (and for a lone
  // object) it stays near the middle, so pairs read as side by side or stacked.
  const maxOffset = scene.relation === null ? 0.12 * size : 0.08 * size;
  const anywhere = (lo: number, hi: number) => lo <= hi ? rng.uniform(lo, hi) : (lo + hi) / 2;
  const nearMiddle = (lo: number, hi: number) =>
    anywhere(Math.max(lo, size / 2 - maxOffset), Math.min(hi, size / 2 + maxOffset));
  placed.forEach((p, i) => {
    const [x0, y0, x1, y1] = boxes[i];
    const e = extent(outline(p.shape, p.radius, p.rotationDeg));
    const loX = x0 - e.minX + margin, hiX = x1 - e.maxX - margin;
    const loY = y0 - e.minY + margin, hiY = y1 - e.maxY - margin;
    p.cx = horizontalPair ? anywhere(loX, hiX) : nearMiddle(loX, hiX);
    p.cy = verticalPair ? anywhere(loY, hiY) : nearMiddle(loY, hiY);
  });
  return placed;
}

const fmt = (v: number) => v.toFixed(2);

/** The SVG document of a placed scene. */
function sceneSvg(placed: Placed[], size: number): string {
  const shapes = placed.map((p) => {
    const fill = COLOUR_HEX[p.colour];
    if (p.shape === "circle") {
      return `<circle cx="${fmt(p.cx)}" cy="${fmt(p.cy)}" r="${
        fmt(CIRCLE_RADIUS * p.radius)
      }" fill="${fill}"/>`;
    }
    const points = outline(p.shape, p.radius, p.rotationDeg)
      .map(([x, y]) => `${fmt(p.cx + x)},${fmt(p.cy + y)}`).join(" ");
    return `<polygon points="${points}" fill="${fill}"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" ` +
    `viewBox="0 0 ${size} ${size}"><rect width="${size}" height="${size}" ` +
    `fill="${BACKGROUND_HEX}"/>${shapes.join("")}</svg>`;
}

async function rasterise(svg: string, size: number): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const buf = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({
    resolveWithObject: true,
  });
  if (buf.info.width !== size || buf.info.height !== size || buf.info.channels !== 3) {
    throw new Error(
      `sharp rendered ${buf.info.width}×${buf.info.height}×${buf.info.channels}, expected ${size}×${size}×3`,
    );
  }
  return new Uint8Array(buf.data.buffer, buf.data.byteOffset, buf.data.length);
}

/** Images rendered at once: enough to keep libvips' threads busy, few enough to bound memory. */
const RENDER_CHUNK = 64;

async function renderAll(svgs: string[], size: number): Promise<Uint8Array> {
  const bytes = size * size * 3;
  const data = new Uint8Array(svgs.length * bytes);
  for (let start = 0; start < svgs.length; start += RENDER_CHUNK) {
    const chunk = svgs.slice(start, start + RENDER_CHUNK);
    const images = await Promise.all(chunk.map((svg) => rasterise(svg, size)));
    images.forEach((img, k) => data.set(img, (start + k) * bytes));
  }
  return data;
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(`image size must be an integer ≥ 8 pixels, got ${size}`);
  }
}

/**
 * Renders given scenes (e.g. ones parsed from captions) with the shapes look: layout jitter is
 * drawn from `seed`, so the same scenes and seed give the same bytes.
 *
 * @param scenes What to draw, objects in caption order (relations are honoured).
 * @param options `size`: image side @default 32; `seed`: layout jitter @default 0
 * @returns `scenes.length` RGB images.
 * @example
 * ```ts
 * import { renderScenes } from "./shapes.ts";
 * const images = await renderScenes([{ objects: [{ colour: "red", shape: "star", size: "large" }], relation: null }]);
 * console.log(images.count, images.height); // 1 32
 * ```
 */
export async function renderScenes(
  scenes: readonly Scene[],
  options: { size?: number; seed?: number } = {},
): Promise<ImageBatch> {
  const size = options.size ?? 32, seed = options.seed ?? 0;
  checkSize(size);
  const svgs = scenes.map((scene, i) => {
    if (scene.objects.length !== (scene.relation === null ? 1 : 2)) {
      throw new RangeError(
        `scene ${i}: ${scene.objects.length} object(s) with relation ${scene.relation}`,
      );
    }
    return sceneSvg(layout(scene, Mulberry32.data(mixSeed(seed, 0x5ce7e, i)), size), size);
  });
  return {
    data: await renderAll(svgs, size),
    count: scenes.length,
    height: size,
    width: size,
    channels: 3,
  };
}

/**
 * The SVG of image `index` of a set, as `makeShapes` renders it (for inspection and docs).
 *
 * @param options The set's `seed`, `size`, `split` (count is not needed).
 * @param index Which image.
 * @returns `{ svg, scene, caption }`.
 * @example
 * ```ts
 * import { shapesSvg } from "./shapes.ts";
 * const { svg, caption } = shapesSvg({ seed: 0 }, 0);
 * console.log(svg.startsWith("<svg"), caption.length > 0); // true true
 * ```
 */
export function shapesSvg(
  options: Omit<ShapesOptions, "count">,
  index: number,
): { svg: string; scene: Scene; caption: string } {
  const { seed = 0, size = 32, split = "train", twoObjectProbability = 0.6 } = options;
  const rng = Mulberry32.data(mixSeed(seed, SHAPES_SPLITS.indexOf(split) + 1, index));
  const scene = sampleScene(rng, split, twoObjectProbability);
  const caption = captionFor(scene, rng);
  return { svg: sceneSvg(layout(scene, rng, size), size), scene, caption };
}

function cacheKey(o: Required<Omit<ShapesOptions, "cache" | "cacheDir">>): string {
  const p = o.twoObjectProbability === 0.6 ? "" : `_p${o.twoObjectProbability}`;
  return `shapes_v${SHAPES_GENERATOR_VERSION}_${o.split}_n${o.count}_seed${o.seed}_px${o.size}${p}`;
}

interface CacheMeta {
  version: number;
  split: ShapesSplit;
  count: number;
  seed: number;
  size: number;
  twoObjectProbability: number;
  captions: string[];
  attributes: Scene[];
}

/**
 * Generates (or reads from the cache) a set of captioned shapes.
 *
 * @param options See `ShapesOptions`; `count` is required.
 * @returns `{ images, captions, attributes, split, seed }`, images `count × size × size × 3` RGB.
 * @example
 * ```ts
 * import { makeShapes } from "./shapes.ts";
 * const set = await makeShapes({ count: 4, seed: 1, cache: false });
 * console.log(set.images.count, set.captions[0]); // 4 "…"
 * ```
 */
export async function makeShapes(options: ShapesOptions): Promise<ShapesDataset> {
  const { count, seed = 0, size = 32, split = "train", twoObjectProbability = 0.6 } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  checkSize(size);
  if (!SHAPES_SPLITS.includes(split)) {
    throw new RangeError(`split must be one of ${SHAPES_SPLITS.join(", ")}, got "${split}"`);
  }
  if (!(twoObjectProbability >= 0 && twoObjectProbability <= 1)) {
    throw new RangeError(`twoObjectProbability must be in [0, 1], got ${twoObjectProbability}`);
  }
  const useCache = options.cache ?? true;
  const base = join(
    options.cacheDir ?? defaultCacheDir(),
    cacheKey({ count, seed, size, split, twoObjectProbability }),
  );
  if (useCache) {
    const cached = await readCache(base, { count, seed, size, split, twoObjectProbability });
    if (cached) return cached;
  }

  const svgs: string[] = [], captions: string[] = [], attributes: Scene[] = [];
  for (let i = 0; i < count; i++) {
    const { svg, scene, caption } = shapesSvg({ seed, size, split, twoObjectProbability }, i);
    svgs.push(svg);
    captions.push(caption);
    attributes.push(scene);
  }
  const images: ImageBatch = {
    data: await renderAll(svgs, size),
    count,
    height: size,
    width: size,
    channels: 3,
  };
  if (useCache) {
    // Pixels first, metadata last: a metadata file only ever sits beside complete pixels.
    await writeFileAtomic(`${base}.rgb`, images.data);
    const meta: CacheMeta = {
      version: SHAPES_GENERATOR_VERSION,
      split,
      count,
      seed,
      size,
      twoObjectProbability,
      captions,
      attributes,
    };
    await writeFileAtomic(`${base}.json`, JSON.stringify(meta));
  }
  return { images, captions, attributes, split, seed };
}

async function readCache(
  base: string,
  want: Omit<CacheMeta, "version" | "captions" | "attributes">,
): Promise<ShapesDataset | null> {
  const metaBytes = await readFileOrNull(`${base}.json`);
  if (!metaBytes) return null;
  let meta: CacheMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes));
  } catch (err) {
    // A damaged cache is regenerated and overwritten (the set is a pure function of its key), and
    // says so: a cache that keeps breaking points at the disk.
    console.warn(`shapes: ${base}.json is unreadable (${(err as Error).message}); regenerating`);
    return null;
  }
  const same = meta.version === SHAPES_GENERATOR_VERSION && meta.split === want.split &&
    meta.count === want.count && meta.seed === want.seed && meta.size === want.size &&
    meta.twoObjectProbability === want.twoObjectProbability &&
    meta.captions?.length === want.count && meta.attributes?.length === want.count;
  if (!same) return null;
  const data = await readFileOrNull(`${base}.rgb`);
  if (!data || data.length !== want.count * want.size * want.size * 3) {
    console.warn(
      `shapes: ${base}.rgb holds ${data?.length ?? 0} bytes, not ` +
        `${want.count * want.size * want.size * 3}; regenerating`,
    );
    return null;
  }
  return {
    images: { data, count: want.count, height: want.size, width: want.size, channels: 3 },
    captions: meta.captions,
    attributes: meta.attributes,
    split: want.split,
    seed: want.seed,
  };
}
