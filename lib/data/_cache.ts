/**
 * Where lib/data keeps generated sets and trained weights.
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
 */
export function defaultCacheDir(): string {
  const url = new URL("../../data/cache/", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : join("data", "cache");
}
