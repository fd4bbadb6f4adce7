/**
 * A held-out split of a captioned image folder that is a pure function of the seed and each
 * file's name: an image is held out when a seeded hash of its path falls under the test share, so
 * the same folder and seed always give the same split, adding images never moves the old ones
 * between train and test, and another seed gives another split.
 *
 * @module
 */
import { streamSeed } from "../io/mod.ts";
import { type CaptionedImages, selectImages } from "./image_batch.ts";

/** Options of {@link splitByFile}. */
export interface SplitOptions {
  /** Share of the images held out for testing, in (0, 1). @default 0.1 */
  testFraction?: number;
  /** Seed of the split. @default 0 */
  seed?: number;
}

/** A folder's images in two parts, each with the files it holds. */
export interface FolderSplit {
  train: CaptionedImages & { files: string[] };
  test: CaptionedImages & { files: string[] };
}

/**
 * Whether a file is held out: the seeded hash of its path (named stream "data/split"), read as a
 * number in [0, 1), is below `testFraction`.
 *
 * @param file The file's path relative to its folder.
 * @param testFraction Share held out.
 * @param seed Seed of the split.
 * @returns True for a test image.
 */
export function isHeldOut(file: string, testFraction: number, seed: number): boolean {
  return streamSeed(`data/split/${file}`, seed) / 2 ** 32 < testFraction;
}

/**
 * Splits captioned images by file name (see the module's note).
 *
 * @param set Images with their captions and the file each came from (`loadImageFolder`'s result).
 * @param options Test share and seed.
 * @returns The train and test parts, each in the set's order.
 * @throws {RangeError} A `testFraction` outside (0, 1), files that do not match the images, or a
 *   part left empty (too few images for this share: each part needs at least one).
 * @example
 * ```ts
 * import { splitByFile } from "./split.ts";
 * import { imageBatch } from "./image_batch.ts";
 * const files = Array.from({ length: 50 }, (_, i) => `img${i}.png`);
 * const images = imageBatch(new Uint8Array(50 * 3), { count: 50, height: 1, width: 1, channels: 3 });
 * const { train, test } = splitByFile({ images, captions: files, files }, { testFraction: 0.2 });
 * console.log(train.images.count + test.images.count); // 50
 * ```
 */
export function splitByFile(
  set: CaptionedImages & { files: readonly string[] },
  options: SplitOptions = {},
): FolderSplit {
  const { testFraction = 0.1, seed = 0 } = options;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`testFraction must be in (0, 1), got ${testFraction}`);
  }
  if (set.files.length !== set.images.count || set.captions.length !== set.images.count) {
    throw new RangeError(
      `splitByFile: ${set.images.count} images, ${set.captions.length} captions and ` +
        `${set.files.length} files: one of each per image`,
    );
  }
  const test: number[] = [], train: number[] = [];
  set.files.forEach((file, i) => (isHeldOut(file, testFraction, seed) ? test : train).push(i));
  for (const [name, part] of [["train", train], ["test", test]] as const) {
    if (part.length === 0) {
      throw new RangeError(
        `splitByFile: no ${name} image among ${set.images.count} at testFraction ` +
          `${testFraction} (seed ${seed}): add images or change the share`,
      );
    }
  }
  const part = (rows: number[]) => ({
    images: selectImages(set.images, rows),
    captions: rows.map((i) => set.captions[i]),
    files: rows.map((i) => set.files[i]),
  });
  return { train: part(train), test: part(test) };
}
