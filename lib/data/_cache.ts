/**
 * Where dalle-lab keeps generated sets and trained weights (lib/data's shapes, lib/judge's
 * weights), exported through mod.ts so every piece agrees on one folder.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The default cache folder: `data/cache/` at the repository root (git-ignored), found from this
 * module's location so it does not depend on the working directory; `./data/cache` when the
 * module is not loaded from a file.
 *
 * @returns An absolute or relative folder path.
 * @example
 * ```ts
 * import { defaultCacheDir } from "./mod.ts";
 * console.log(defaultCacheDir()); // "/…/dalle-lab/data/cache/"
 * ```
 */
export function defaultCacheDir(): string {
  const url = new URL("../../data/cache/", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : join("data", "cache");
}
