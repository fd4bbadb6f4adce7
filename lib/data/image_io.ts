/**
 * Images to and from PNG (via sharp), and labelled grids of images for notebooks and figures.
 * Showing a grid is lib/display's job: `showPng(await imageGrid(images), "what it is")`, so data
 * never loads the display helpers.
 *
 * Every function takes an `ImageBatch` or an image tensor (`[n, h, w, c]` or `[h, w, c]`, floats
 * in [0, 1] or ints in 0…255; tensors are read, never disposed).
 *
 * @module
 */
import { loadSharp } from "./_sharp.ts";
import { tf } from "../backend/mod.ts";
import { writeFileAtomic } from "../io/mod.ts";
import { imageAt, type ImageBatch, tensorToImages, toRgb } from "./image_batch.ts";

/** Images a function here accepts: bytes, or a tensor of one or more images. */
export type ImageLike = ImageBatch | tf.Tensor;

function asBatch(images: ImageLike): ImageBatch {
  return images instanceof tf.Tensor ? tensorToImages(images) : images;
}

/**
 * Encodes one image as PNG (lossless: decoding gives the same bytes back).
 *
 * @param image A batch or tensor; `index` picks the image.
 * @param index Which image of the batch. @default 0
 * @returns The PNG file's bytes.
 * @example
 * ```ts
 * import { encodePng } from "./image_io.ts";
 * const png = await encodePng({ data: new Uint8Array(4 * 4 * 3), count: 1, height: 4, width: 4, channels: 3 });
 * console.log(png[1] === 0x50); // "P" of the PNG signature
 * ```
 */
export async function encodePng(image: ImageLike, index = 0): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const one = imageAt(asBatch(image), index);
  let pipeline = sharp(one.data, {
    raw: { width: one.width, height: one.height, channels: one.channels },
  });
  // Without this sharp writes one-channel input as an RGB PNG.
  if (one.channels === 1) pipeline = pipeline.toColourspace("b-w");
  const buf = await pipeline.png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/**
 * Decodes a PNG (or JPEG/WebP) into a batch of one image: grey images keep one channel, colour
 * images get three; transparency is flattened onto white.
 *
 * @param bytes The encoded file.
 * @returns A batch with `count` 1.
 * @example
 * ```ts
 * import { decodePng, encodePng } from "./image_io.ts";
 * const img = { data: new Uint8Array([1, 2, 3, 4]), count: 1, height: 2, width: 2, channels: 1 as const };
 * console.log(Array.from((await decodePng(await encodePng(img))).data)); // [1, 2, 3, 4]
 * ```
 */
export async function decodePng(bytes: Uint8Array): Promise<ImageBatch> {
  const sharp = await loadSharp();
  const input = sharp(bytes);
  const meta = await input.metadata();
  const grey = meta.channels !== undefined && meta.channels <= 2 && meta.space === "b-w";
  let pipeline = meta.hasAlpha ? input.flatten({ background: "#ffffff" }) : input;
  pipeline = grey ? pipeline.toColourspace("b-w") : pipeline.toColourspace("srgb");
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const channels = info.channels === 1 ? 1 : 3;
  let pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (info.channels !== channels) {
    // An alpha channel that survived flattening (sharp keeps it for some inputs): drop it.
    const n = info.width * info.height;
    const out = new Uint8Array(n * channels);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < channels; c++) out[i * channels + c] = pixels[i * info.channels + c];
    }
    pixels = out;
  }
  return { data: pixels, count: 1, height: info.height, width: info.width, channels };
}

/**
 * Writes one image as a PNG file (atomically; missing folders are created).
 *
 * @param path Where to write, e.g. "data/figures/sample.png".
 * @param image A batch or tensor; `index` picks the image.
 * @param index Which image of the batch. @default 0
 * @example
 * ```ts
 * import { savePng } from "./image_io.ts";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await savePng(path, { data: new Uint8Array(3), count: 1, height: 1, width: 1, channels: 3 });
 * ```
 */
export async function savePng(path: string, image: ImageLike, index = 0): Promise<void> {
  await writeFileAtomic(path, await encodePng(image, index));
}

/**
 * Reads a PNG file into a batch of one image (see `decodePng`).
 *
 * @param path The file.
 * @returns A batch with `count` 1.
 * @example
 * ```ts
 * import { loadPng, savePng } from "./image_io.ts";
 * const path = await Deno.makeTempFile({ suffix: ".png" });
 * await savePng(path, { data: new Uint8Array([5, 6, 7]), count: 1, height: 1, width: 1, channels: 3 });
 * console.log(Array.from((await loadPng(path)).data)); // [5, 6, 7]
 * ```
 */
export async function loadPng(path: string): Promise<ImageBatch> {
  return await decodePng(await Deno.readFile(path));
}

/** Options for `imageGrid`. */
export interface GridOptions {
  /** Images per row. @default 8 */
  cols?: number;
  /** Integer upscaling factor (nearest neighbour, so pixels stay sharp). @default 3 */
  scale?: number;
  /** A caption under each cell, wrapped to the cell's width and cut to `labelLines` lines. */
  labels?: readonly string[];
  /** Lines of text under each cell. @default 3 */
  labelLines?: number;
  /** Label font size in pixels. @default 10 */
  fontSize?: number;
  /** Gap between cells and around the grid, in pixels. @default 4 */
  gap?: number;
  /** Grid background (CSS colour). @default "#ffffff" */
  background?: string;
  /** Show at most this many images (the first ones). @default all */
  limit?: number;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * Splits text into at most `maxLines` lines of at most `maxChars` characters, breaking between
 * words; text that does not fit ends in "…".
 *
 * @param text The label.
 * @param maxChars Characters per line.
 * @param maxLines Lines.
 * @returns The lines.
 * @example
 * ```ts
 * import { wrapLabel } from "./image_io.ts";
 * console.log(wrapLabel("a small red circle above a large blue square", 16, 2));
 * // ["a small red", "circle above a…"]
 * ```
 */
export function wrapLabel(text: string, maxChars: number, maxLines: number): string[] {
  const width = Math.max(1, maxChars);
  const lines: string[] = [];
  let line = "";
  const words = text.trim().split(/\s+/).filter((w) => w.length > 0);
  for (let i = 0; i < words.length; i++) {
    let word = words[i];
    while (word.length > width) { // a word longer than a line is cut across lines
      if (line) {
        lines.push(line);
        line = "";
      }
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    const next = line ? `${line} ${word}` : word;
    if (next.length <= width) line = next;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  const last = kept[maxLines - 1];
  kept[maxLines - 1] = (last.length >= width ? last.slice(0, width - 1) : last) + "…";
  return kept;
}

/**
 * Lays images out in a grid, upscaled with nearest neighbour, optionally with a caption under
 * each, and encodes the grid as PNG.
 *
 * @param images The images (grey ones are shown as grey RGB).
 * @param options See `GridOptions`.
 * @returns The PNG file's bytes.
 * @example
 * ```ts
 * import { imageGrid } from "./image_io.ts";
 * const images = { data: new Uint8Array(4 * 8 * 8 * 3).fill(200), count: 4, height: 8, width: 8, channels: 3 as const };
 * const png = await imageGrid(images, { cols: 2, scale: 4, labels: ["a", "b", "c", "d"] });
 * // In a notebook: `await showPng(png, "4 cells")` from lib/display.
 * ```
 */
export async function imageGrid(images: ImageLike, options: GridOptions = {}): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const batch = toRgb(asBatch(images));
  const count = Math.min(batch.count, options.limit ?? batch.count);
  if (count === 0) throw new RangeError("imageGrid needs at least one image");
  const { cols: colsOpt = 8, scale = 3, labels, labelLines = 3, fontSize = 10, gap = 4 } = options;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`scale must be a positive integer, got ${scale}`);
  }
  if (!Number.isInteger(colsOpt) || colsOpt < 1) {
    throw new RangeError(`cols must be a positive integer, got ${colsOpt}`);
  }
  if (labels && labels.length < count) {
    throw new RangeError(`imageGrid got ${labels.length} labels for ${count} images`);
  }
  const cols = Math.min(colsOpt, count), rows = Math.ceil(count / cols);
  const cellW = batch.width * scale, cellH = batch.height * scale;
  const lineH = Math.ceil(fontSize * 1.2);
  const labelH = labels ? labelLines * lineH + 2 : 0;
  const width = gap + cols * (cellW + gap);
  const height = gap + rows * (cellH + labelH + gap);

  const canvas = new Uint8Array(width * height * 3);
  const bg = await sharp({
    create: { width: 1, height: 1, channels: 3, background: options.background ?? "#ffffff" },
  }).raw().toBuffer();
  for (let i = 0; i < width * height; i++) canvas.set(bg.subarray(0, 3), i * 3);
  const texts: string[] = [];
  const charsPerLine = Math.floor(cellW / (fontSize * 0.6)); // DejaVu Sans averages ~0.6 em
  for (let n = 0; n < count; n++) {
    const left = gap + (n % cols) * (cellW + gap);
    const top = gap + Math.floor(n / cols) * (cellH + labelH + gap);
    const src = imageAt(batch, n).data;
    for (let y = 0; y < cellH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cellW; x++) {
        const s = (sy * batch.width + Math.floor(x / scale)) * 3;
        const d = ((top + y) * width + left + x) * 3;
        canvas[d] = src[s];
        canvas[d + 1] = src[s + 1];
        canvas[d + 2] = src[s + 2];
      }
    }
    if (labels) {
      wrapLabel(labels[n], charsPerLine, labelLines).forEach((line, k) => {
        texts.push(
          `<text x="${left}" y="${top + cellH + 1 + (k + 1) * lineH - 3}">${
            escapeXml(line)
          }</text>`,
        );
      });
    }
  }
  let grid = sharp(canvas, { raw: { width, height, channels: 3 } });
  if (texts.length > 0) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<g font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="#222222">` +
      `${texts.join("")}</g></svg>`;
    grid = sharp(await grid.png().toBuffer()).composite([{
      input: Buffer.from(svg),
      top: 0,
      left: 0,
    }]);
  }
  const png = await grid.png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}
