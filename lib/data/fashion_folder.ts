/**
 * Fashion-MNIST as a folder of captioned images, the way a user's own data arrives: 32×32 RGB PNGs
 * (`toRgb32`: the 28×28 originals padded) with a `captions.csv`, each caption one of a few
 * phrasings of its class ("a photo of a sneaker", "a sneaker", …). The real-image benchmark
 * trains on such a folder through the same path as any other (`loadImageFolder`), and reads a
 * drawn image's class back from its caption with {@link fashionLabelOf}.
 *
 * @module
 */
import { join } from "node:path";
import { Rng, writeFileAtomic } from "../io/mod.ts";
import { FASHION_CAPTION_NOUNS, loadFashionMnist } from "./fashion_mnist.ts";
import { selectImages, toRgb32 } from "./image_batch.ts";
import { savePng } from "./image_io.ts";

/** The phrasings of a class's caption; `{}` stands for its noun with its article. */
export const FASHION_PHRASINGS = [
  "a photo of {}",
  "{}",
  "an image of {}",
  "a product photo of {}",
] as const;

/**
 * A caption of a Fashion-MNIST class in one of {@link FASHION_PHRASINGS}.
 *
 * @param label The class, 0…9.
 * @param phrasing Index into FASHION_PHRASINGS.
 * @returns The caption.
 * @example
 * ```ts
 * import { fashionPhrase } from "./fashion_folder.ts";
 * console.log(fashionPhrase(7, 3)); // "a product photo of a sneaker"
 * ```
 */
export function fashionPhrase(label: number, phrasing: number): string {
  const noun = FASHION_CAPTION_NOUNS[label];
  const pattern = FASHION_PHRASINGS[phrasing];
  if (noun === undefined) throw new RangeError(`Fashion-MNIST labels are 0…9, got ${label}`);
  if (pattern === undefined) {
    throw new RangeError(`phrasing must be 0…${FASHION_PHRASINGS.length - 1}, got ${phrasing}`);
  }
  return pattern.replace("{}", noun);
}

/**
 * The class a caption names: the one Fashion-MNIST noun it holds, as a whole phrase.
 *
 * @param caption Any caption.
 * @returns The class, 0…9, or -1 when it names none or more than one.
 * @example
 * ```ts
 * import { fashionLabelOf } from "./fashion_folder.ts";
 * console.log(fashionLabelOf("an image of a pair of trousers"), fashionLabelOf("a hat")); // 1 -1
 * ```
 */
export function fashionLabelOf(caption: string): number {
  const text = ` ${caption.toLowerCase().replace(/[^a-z-]+/g, " ").trim()} `;
  // "a shirt" is inside "a t-shirt": match the noun after a word boundary that is not a hyphen.
  const found = FASHION_CAPTION_NOUNS.flatMap((noun, label) =>
    text.includes(` ${noun} `) ? [label] : []
  );
  return found.length === 1 ? found[0] : -1;
}

/** Options of {@link writeFashionFolder}. */
export interface FashionFolderOptions {
  /** The official split the images come from. @default "train" */
  split?: "train" | "test";
  /** Images, the first of the split. @default 12000 */
  count?: number;
  /** Seed of each image's phrasing. @default 0 */
  seed?: number;
  /** Folder of the Fashion-MNIST files (lib/data's `loadFashionMnist`). @default its default */
  sourceDir?: string;
}

/** What a written folder holds, as its `fashion_folder.json` records it. */
export interface FashionFolderManifest {
  split: "train" | "test";
  count: number;
  seed: number;
  phrasings: readonly string[];
}

/**
 * Writes (once) the first `count` images of a Fashion-MNIST split as a captioned folder:
 * `00000.png` … with `captions.csv` (file, caption) and `fashion_folder.json`. A folder whose
 * manifest matches is reused as it is; one that differs is refused, never overwritten.
 *
 * @param dir The folder.
 * @param options Split, count, seed.
 * @returns The manifest.
 * @throws {RangeError} A count outside 1…the split's size.
 * @throws {Error} A folder that holds another manifest or other files.
 * @example
 * ```ts ignore
 * import { loadImageFolder, writeFashionFolder } from "./mod.ts";
 * await writeFashionFolder("data/cache/fashion_100", { count: 100 });
 * const folder = await loadImageFolder("data/cache/fashion_100", { size: 32 });
 * console.log(folder.captions[0]);
 * ```
 */
export async function writeFashionFolder(
  dir: string,
  options: FashionFolderOptions = {},
): Promise<FashionFolderManifest> {
  const manifest: FashionFolderManifest = {
    split: options.split ?? "train",
    count: options.count ?? 12000,
    seed: options.seed ?? 0,
    phrasings: FASHION_PHRASINGS,
  };
  const manifestPath = join(dir, "fashion_folder.json");
  const existing = await readManifest(manifestPath);
  if (existing !== null) {
    if (JSON.stringify(existing) === JSON.stringify(manifest)) return manifest;
    throw new Error(
      `${dir} holds another Fashion-MNIST folder (${JSON.stringify(existing)}); remove it or ` +
        `choose another folder`,
    );
  }
  await Deno.mkdir(dir, { recursive: true });
  for await (const _ of Deno.readDir(dir)) {
    throw new Error(`${dir} is not empty and has no fashion_folder.json: not writing into it`);
  }
  const data = await loadFashionMnist({ split: manifest.split, dir: options.sourceDir });
  if (
    !Number.isInteger(manifest.count) || manifest.count < 1 || manifest.count > data.labels.length
  ) {
    throw new RangeError(
      `count must be an integer in 1…${data.labels.length} (the ${manifest.split} split), got ` +
        manifest.count,
    );
  }
  const images = toRgb32(selectImages(data.images, [...Array(manifest.count).keys()]));
  const rng = new Rng(manifest.seed);
  const lines = ["file,caption"];
  for (let i = 0; i < manifest.count; i++) {
    const file = `${String(i).padStart(5, "0")}.png`;
    await savePng(join(dir, file), images, i);
    lines.push(`${file},${fashionPhrase(data.labels[i], rng.int(FASHION_PHRASINGS.length))}`);
  }
  await writeFileAtomic(join(dir, "captions.csv"), lines.join("\n") + "\n");
  // Last, so that a folder interrupted while writing has no manifest and is refused, not reused.
  await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

async function readManifest(path: string): Promise<FashionFolderManifest | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}
