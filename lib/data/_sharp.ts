/**
 * sharp (libvips), loaded on first use: it is a native module, and most importers of lib/data
 * (the reranker, a pipeline loading its parts) never decode, encode or render an image.
 *
 * @module
 */
import type sharpType from "sharp";

let loaded: Promise<typeof sharpType> | null = null;

/** sharp's default export, imported once, on the first call. */
export function loadSharp(): Promise<typeof sharpType> {
  loaded ??= import("sharp").then((m) => m.default);
  return loaded;
}
