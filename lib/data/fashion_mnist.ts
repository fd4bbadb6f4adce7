/**
 * Fashion-MNIST from the four gzipped IDX files Debian's `dataset-fashion-mnist` package installs:
 * 60,000 training and 10,000 test images of clothes, 28×28 grey, in 10 classes.
 *
 * IDX format (big-endian): two zero bytes, a type byte (0x08 = unsigned byte), the number of
 * dimensions, then one uint32 per dimension, then the data. Images are `0x00000803` (N, 28, 28),
 * labels `0x00000801` (N).
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import type { CaptionedImages, ImageBatch } from "./image_batch.ts";
import { CorruptFileError } from "../io/errors.ts";

/** Where `dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
/** Environment variable that overrides the folder (the `dir` option overrides both). */
export const FASHION_MNIST_ENV = "DALLE_LAB_FASHION_MNIST";

/** The files of each split. */
export const FASHION_MNIST_FILES = {
  train: { images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz" },
  test: { images: "t10k-images-idx3-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz" },
} as const;

/** Class names, index = label (Zalando's names). */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

/** What each label's caption calls the thing, with its article (index: the label). */
export const FASHION_CAPTION_NOUNS = [
  "a t-shirt",
  "a pair of trousers",
  "a pullover",
  "a dress",
  "a coat",
  "a sandal",
  "a shirt",
  "a sneaker",
  "a bag",
  "an ankle boot",
];

/**
 * The caption of a Fashion-MNIST label.
 *
 * @param label A class index, 0…9.
 * @returns e.g. "a photo of an ankle boot" for 9.
 * @example
 * ```ts
 * import { fashionCaption } from "./fashion_mnist.ts";
 * console.log(fashionCaption(9)); // "a photo of an ankle boot"
 * ```
 */
export function fashionCaption(label: number): string {
  const noun = FASHION_CAPTION_NOUNS[label];
  if (noun === undefined) throw new RangeError(`Fashion-MNIST labels are 0…9, got ${label}`);
  return `a photo of ${noun}`;
}

/** A parsed IDX file. */
export interface IdxArray {
  /** Dimensions, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The values (unsigned bytes), row-major. */
  data: Uint8Array;
}

/**
 * Parses an (uncompressed) IDX file of unsigned bytes, checking its header against what is
 * expected and its length against its dimensions.
 *
 * @param bytes The file's contents after gunzip.
 * @param expect `rank` (1 for labels, 3 for images) and optionally `dims` (null entries: any).
 * @param name The file's name, for error messages.
 * @returns `{ dims, data }` (data is a view into `bytes`).
 * @throws {CorruptFileError} A short or truncated file, another type or rank, other dimensions.
 * @example
 * ```ts
 * import { parseIdx } from "./fashion_mnist.ts";
 * const file = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]); // two labels: 7, 9
 * console.log(parseIdx(file, { rank: 1 }, "labels").data); // Uint8Array [7, 9]
 * ```
 */
export function parseIdx(
  bytes: Uint8Array,
  expect: { rank: number; dims?: (number | null)[] },
  name = "IDX data",
): IdxArray {
  const fail = (reason: string): never => {
    throw new CorruptFileError(name, reason, { format: "IDX file" });
  };
  if (bytes.length < 4) fail(`${bytes.length} bytes is too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const expectedMagic = 0x0800 | expect.rank;
  if (magic !== expectedMagic) {
    const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
    fail(
      `magic number ${hex(magic)}, expected ${hex(expectedMagic)} (unsigned bytes, ` +
        `${expect.rank} dimension(s))`,
    );
  }
  const headerBytes = 4 + 4 * expect.rank;
  if (bytes.length < headerBytes) {
    fail(`truncated header (${bytes.length} of ${headerBytes} bytes)`);
  }
  const dims = Array.from({ length: expect.rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  expect.dims?.forEach((want, i) => {
    if (want !== null && dims[i] !== want) fail(`dimension ${i} is ${dims[i]}, expected ${want}`);
  });
  const size = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - headerBytes;
  if (have !== size) {
    fail(
      `header says ${dims.join("×")} = ${size} bytes of data, the file has ${have}` +
        (have < size ? " (truncated)" : " (trailing bytes)"),
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Options for `loadFashionMnist`. */
export interface FashionMnistOptions {
  /** Which split. @default "train" */
  split?: "train" | "test";
  /** Folder holding the four .gz files. @default $DALLE_LAB_FASHION_MNIST, else FASHION_MNIST_DEFAULT_DIR */
  dir?: string;
  /** Keep only the first `limit` images. @default all */
  limit?: number;
}

/** Fashion-MNIST images with labels and captions. */
export interface FashionMnist extends CaptionedImages {
  /** N×28×28×1 grey bytes (0 = background). */
  images: ImageBatch;
  /** N labels, 0…9 (`FASHION_MNIST_CLASSES`). */
  labels: Uint8Array;
  /** "a photo of …" for each image. */
  captions: string[];
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function howToInstall(dir: string): string {
  return `install it with \`sudo apt-get install dataset-fashion-mnist\` (files in ` +
    `${FASHION_MNIST_DEFAULT_DIR}), or put the four IDX .gz files in ${dir}, or point ` +
    `$${FASHION_MNIST_ENV} or the \`dir\` option at a folder that has them`;
}

async function readIdxGz(
  dir: string,
  file: string,
  expect: { rank: number; dims?: (number | null)[] },
): Promise<IdxArray> {
  const path = join(dir, file);
  let gz: Uint8Array;
  try {
    gz = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`Fashion-MNIST file ${path} is missing: ${howToInstall(dir)}`);
    }
    throw err;
  }
  let raw: Uint8Array;
  try {
    raw = gunzipSync(gz);
  } catch (err) {
    throw new CorruptFileError(
      path,
      `not a complete gzip stream (${(err as Error).message}); it may be truncated: ` +
        howToInstall(dir),
      { format: "Fashion-MNIST .gz file", cause: err },
    );
  }
  try {
    return parseIdx(raw, expect, path);
  } catch (err) {
    if (!(err instanceof CorruptFileError)) throw err;
    throw new CorruptFileError(path, `${err.reason}; ${howToInstall(dir)}`, {
      format: err.format,
      cause: err,
    });
  }
}

/**
 * Loads a split of Fashion-MNIST from the local IDX files (nothing is downloaded).
 *
 * @param options See `FashionMnistOptions`.
 * @returns `{ images, labels, captions }`, images N×28×28×1.
 * @throws {Error} When a file is missing: the message names it and how to install the dataset.
 * @throws {CorruptFileError} When a file is truncated, corrupt or has a wrong header, or the
 *   labels do not fit the images: the message names the file and how to reinstall.
 * @example
 * ```ts
 * import { loadFashionMnist } from "./fashion_mnist.ts";
 * const test = await loadFashionMnist({ split: "test", limit: 100 });
 * console.log(test.images.count, test.captions[0]); // 100 "a photo of an ankle boot"
 * ```
 */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<FashionMnist> {
  const split = options.split ?? "train";
  const files = FASHION_MNIST_FILES[split];
  if (!files) throw new RangeError(`split must be "train" or "test", got "${split}"`);
  const dir = options.dir ?? readEnv(FASHION_MNIST_ENV) ?? FASHION_MNIST_DEFAULT_DIR;
  const images = await readIdxGz(dir, files.images, { rank: 3, dims: [null, 28, 28] });
  const labels = await readIdxGz(dir, files.labels, { rank: 1 });
  const n = images.dims[0];
  const labelsPath = join(dir, files.labels);
  if (labels.dims[0] !== n) {
    throw new CorruptFileError(
      labelsPath,
      `${labels.dims[0]} labels but ${n} images in ${files.images}; ${howToInstall(dir)}`,
      { format: `label file for Fashion-MNIST ${split}` },
    );
  }
  const bad = labels.data.findIndex((label) => label > 9);
  if (bad >= 0) {
    throw new CorruptFileError(
      labelsPath,
      `label ${labels.data[bad]} at ${bad}, expected 0…9; ${howToInstall(dir)}`,
      { format: "Fashion-MNIST label file" },
    );
  }
  const count = options.limit === undefined ? n : Math.max(0, Math.min(n, options.limit));
  // Copy only a prefix, so that a small `limit` does not keep the whole decompressed file alive.
  const keep = (a: Uint8Array, end: number) => count === n ? a.subarray(0, end) : a.slice(0, end);
  const labelBytes = keep(labels.data, count);
  return {
    images: {
      data: keep(images.data, count * 28 * 28),
      count,
      height: 28,
      width: 28,
      channels: 1,
    },
    labels: labelBytes,
    captions: Array.from(labelBytes, fashionCaption),
  };
}
