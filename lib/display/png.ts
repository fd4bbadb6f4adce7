/**
 * Small PNG facts: the size from the header (no decoding), and pixel statistics that tell a
 * rendered page from a blank one (headless Chromium screenshots, the report's browser test).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * A PNG's width and height, read from its IHDR chunk (bytes 16–23).
 *
 * @param png Encoded PNG bytes.
 * @returns The size in pixels.
 * @throws TypeError when the bytes do not start with the PNG signature.
 * @example
 * ```ts
 * import { pngSize } from "./png.ts";
 * const onePixel = Uint8Array.from(atob(
 *   "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
 * ), (c) => c.charCodeAt(0));
 * console.log(pngSize(onePixel)); // { width: 1, height: 1 }
 * ```
 */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  if (png.length < 24 || SIGNATURE.some((b, i) => png[i] !== b)) {
    throw new TypeError(`expected PNG bytes, got ${png.length} bytes without the PNG signature`);
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Pixel statistics of a PNG: enough to tell a rendered page from a blank one. */
export interface PngStats {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Distinct RGB colours (alpha ignored). */
  distinctColours: number;
  /** Standard deviation of luma over all pixels, 0–255. */
  lumaStdDev: number;
}

/**
 * Size, distinct colours and luma spread of a PNG.
 *
 * @param png Encoded PNG bytes.
 * @returns The statistics.
 * @example
 * ```ts
 * import sharp from "sharp";
 * import { pngStats } from "./png.ts";
 * const white = await sharp({ create: { width: 4, height: 2, channels: 3, background: "#fff" } })
 *   .png().toBuffer();
 * console.log(await pngStats(white)); // { width: 4, height: 2, distinctColours: 1, lumaStdDev: 0 }
 * ```
 */
export async function pngStats(png: Uint8Array): Promise<PngStats> {
  const { data, info } = await sharp(Buffer.from(png)).removeAlpha().raw()
    .toBuffer({ resolveWithObject: true });
  const colours = new Set<number>();
  let sum = 0, sumSquares = 0;
  const pixels = info.width * info.height;
  for (let i = 0; i < pixels; i++) {
    const r = data[3 * i], g = data[3 * i + 1], b = data[3 * i + 2];
    colours.add((r << 16) | (g << 8) | b);
    const luma = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += luma;
    sumSquares += luma * luma;
  }
  const mean = sum / pixels;
  return {
    width: info.width,
    height: info.height,
    distinctColours: colours.size,
    lumaStdDev: Math.sqrt(Math.max(0, sumSquares / pixels - mean * mean)),
  };
}

/**
 * Whether a PNG is blank: a single colour (a page that drew nothing, or an empty screenshot).
 *
 * @param png Encoded PNG bytes.
 * @returns true when every pixel has the same RGB colour.
 * @example
 * ```ts
 * import sharp from "sharp";
 * import { pngIsBlank } from "./png.ts";
 * const white = await sharp({ create: { width: 4, height: 2, channels: 3, background: "#fff" } })
 *   .png().toBuffer();
 * console.log(await pngIsBlank(white)); // true
 * ```
 */
export async function pngIsBlank(png: Uint8Array): Promise<boolean> {
  return (await pngStats(png)).distinctColours <= 1;
}
