/**
 * Any folder of PNG/JPEG/WebP images as a captioned dataset, resized with sharp.
 *
 * Captions come from a sidecar text file per image (`cat.png` → `cat.txt`) or from a
 * `captions.csv` in the folder with `file` and `caption` columns (a sidecar wins when both
 * exist). Files that cannot be decoded are reported by name (a warning and the `skipped` list)
 * and left out; none is dropped silently.
 *
 * @module
 */
import { loadSharp } from "./_sharp.ts";
import { fromCSV } from "arquero";
import { extname, join, normalize } from "node:path";
import type { CaptionedImages, ImageBatch } from "./image_batch.ts";

/** File extensions read as images (lowercase). */
export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".webp"] as const;

/** The ways `loadImageFolder` makes an image square. */
const FITS = ["cover", "contain", "fill"] as const;

/** Options for `loadImageFolder`. */
export interface ImageFolderOptions {
  /** Side of the square output images in pixels. @default 32 */
  size?: number;
  /**
   * How a non-square image becomes square: "cover" crops the centre, "contain" letterboxes onto
   * `background`, "fill" stretches. @default "cover"
   */
  fit?: "cover" | "contain" | "fill";
  /** Letterbox and transparency colour (CSS). @default "#ffffff" */
  background?: string;
  /** Also read subfolders. @default false */
  recursive?: boolean;
  /** Called for each skipped file; defaults to `console.warn`. */
  onSkip?: (file: string, reason: string) => void;
  /**
   * An image without a caption: "error" refuses the folder before any image is read (naming
   * them), "keep" loads it with the caption "" (listed in `uncaptioned`). @default "error"
   */
  uncaptioned?: "error" | "keep";
}

/** A folder of images. */
export interface ImageFolder extends CaptionedImages {
  /** `count × size × size × 3` RGB bytes. */
  images: ImageBatch;
  /** Caption per image ("" when neither a sidecar nor captions.csv names one: `uncaptioned: "keep"`). */
  captions: string[];
  /** Path of each image relative to the folder, sorted. */
  files: string[];
  /** Files with an image extension that could not be read, and why. */
  skipped: { file: string; reason: string }[];
  /** Images that have no caption. */
  uncaptioned: string[];
}

/** Throws unless sharp reads `background` as a colour (it parses it here, touching no image). */
async function checkBackground(background: string): Promise<void> {
  if (typeof background !== "string") {
    throw new TypeError(
      `loadImageFolder: background must be a CSS colour string, got ${typeof background}`,
    );
  }
  const sharp = await loadSharp();
  try {
    sharp().flatten({ background });
  } catch (cause) {
    throw new RangeError(
      `loadImageFolder: background must be a CSS colour (e.g. "#ffffff", "white", ` +
        `"rgb(0, 0, 0)"), got ${JSON.stringify(background)}`,
      { cause },
    );
  }
}

async function listImages(dir: string, recursive: boolean, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? join(prefix, entry.name) : entry.name;
    if (entry.isDirectory && recursive) out.push(...await listImages(dir, true, rel));
    else if (
      entry.isFile &&
      (IMAGE_EXTENSIONS as readonly string[]).includes(extname(entry.name).toLowerCase())
    ) {
      out.push(rel);
    }
  }
  return out;
}

async function readCaptionsCsv(dir: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, "captions.csv"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return new Map();
    throw err;
  }
  const table = fromCSV(text, { autoType: false });
  const columns = table.columnNames();
  if (!columns.includes("file") || !columns.includes("caption")) {
    throw new TypeError(
      `${join(dir, "captions.csv")}: expected a header with "file" and "caption" columns, ` +
        `got ${JSON.stringify(columns)}`,
    );
  }
  const files = table.array("file") as string[], captions = table.array("caption") as string[];
  // normalize: "./cat.png" and "cat.png" name the same file.
  return new Map(
    files.map((f, i) => [normalize(String(f).trim()), String(captions[i] ?? "").trim()]),
  );
}

async function readSidecar(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Loads every image of a folder, resized to `size × size` RGB, with captions.
 *
 * @param dir The folder.
 * @param options See `ImageFolderOptions`.
 * @returns `{ images, captions, files, skipped, uncaptioned }`; files in sorted order.
 * @throws {RangeError} Before any image is read: a `size` that is not a positive integer, a `fit`
 *   that is not "cover", "contain" or "fill", a `background` that is not a CSS colour, a folder
 *   without image files, or images without a caption (unless `uncaptioned: "keep"`). After
 *   reading: no file could be read (each one is named).
 * @throws {TypeError} A `background` that is not a string, or a `captions.csv` without `file` and
 *   `caption` columns.
 * @example
 * ```ts
 * import { loadImageFolder } from "./image_folder.ts";
 * import sharp from "sharp";
 * const dir = await Deno.makeTempDir();
 * const red = sharp({ create: { width: 40, height: 30, channels: 3, background: "#ff0000" } });
 * await Deno.writeFile(`${dir}/red.png`, await red.png().toBuffer());
 * await Deno.writeTextFile(`${dir}/red.txt`, "a red rectangle");
 * const folder = await loadImageFolder(dir, { size: 32 });
 * console.log(folder.images.count, folder.captions); // 1 [ "a red rectangle" ]
 * ```
 */
export async function loadImageFolder(
  dir: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolder> {
  const { size = 32, fit = "cover", background = "#ffffff", recursive = false } = options;
  const { uncaptioned: whenUncaptioned = "error" } = options;
  if (whenUncaptioned !== "error" && whenUncaptioned !== "keep") {
    throw new RangeError(
      `loadImageFolder: uncaptioned must be "error" or "keep", got ${
        JSON.stringify(whenUncaptioned)
      }`,
    );
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  // sharp would reject either one per image, so every file would be "skipped" for the same reason.
  if (!(FITS as readonly string[]).includes(fit)) {
    throw new RangeError(
      `loadImageFolder: fit must be one of ${FITS.map((f) => `"${f}"`).join(", ")}, got ` +
        `${JSON.stringify(fit)}`,
    );
  }
  await checkBackground(background);
  const sharp = await loadSharp();
  const onSkip = options.onSkip ??
    ((file: string, reason: string) => console.warn(`loadImageFolder: skipped ${file}: ${reason}`));
  const candidates = (await listImages(dir, recursive)).sort();
  if (candidates.length === 0) {
    throw new RangeError(
      `loadImageFolder: no images in ${dir} (looked for ${IMAGE_EXTENSIONS.join(", ")} files` +
        `${recursive ? ", subfolders included" : "; pass recursive: true to read subfolders"})`,
    );
  }
  const csv = await readCaptionsCsv(dir);
  const captionOf = new Map<string, string | null>();
  for (const file of candidates) {
    const stem = file.slice(0, file.length - extname(file).length);
    captionOf.set(file, await readSidecar(join(dir, `${stem}.txt`)) ?? csv.get(file) ?? null);
  }
  const missing = candidates.filter((f) => !captionOf.get(f));
  if (missing.length > 0 && whenUncaptioned === "error") {
    const shown = missing.slice(0, 3).join(", ") + (missing.length > 3 ? ", …" : "");
    throw new RangeError(
      `loadImageFolder: ${missing.length} of ${candidates.length} images in ${dir} have no ` +
        `caption (${shown}): give each a sidecar <name>.txt or a row of captions.csv, or pass ` +
        `uncaptioned: "keep" to load them with the caption ""`,
    );
  }

  const bytes = size * size * 3;
  const pixels: Uint8Array[] = [], files: string[] = [], captions: string[] = [];
  const skipped: { file: string; reason: string }[] = [], uncaptioned: string[] = [];
  for (const file of candidates) {
    const path = join(dir, file);
    let data: Uint8Array;
    try {
      const out = await sharp(path).rotate() // honour EXIF orientation
        .flatten({ background }).resize(size, size, { fit, background })
        .toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true });
      if (out.info.channels !== 3 || out.data.length !== bytes) {
        throw new Error(`decoded to ${out.info.width}×${out.info.height}×${out.info.channels}`);
      }
      data = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
    } catch (err) {
      const reason = (err as Error).message.split("\n")[0];
      skipped.push({ file, reason });
      onSkip(file, reason);
      continue;
    }
    const caption = captionOf.get(file) ?? null;
    if (caption === null || caption === "") uncaptioned.push(file);
    pixels.push(data);
    files.push(file);
    captions.push(caption ?? "");
  }
  if (pixels.length === 0) {
    const shown = skipped.slice(0, 3).map((s) => `${s.file} (${s.reason})`).join(", ");
    const more = skipped.length > 3 ? ` and ${skipped.length - 3} more` : "";
    throw new RangeError(
      `loadImageFolder: none of the ${skipped.length} image files in ${dir} could be read: ` +
        `${shown}${more}`,
    );
  }
  const data = new Uint8Array(pixels.length * bytes);
  pixels.forEach((p, i) => data.set(p, i * bytes));
  return {
    images: { data, count: pixels.length, height: size, width: size, channels: 3 },
    captions,
    files,
    skipped,
    uncaptioned,
  };
}
