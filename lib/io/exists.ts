/**
 * Whether a path exists. Only "not found" means no: any other failure (no permission, an I/O
 * error) is thrown, because answering "no" there would make a caller retrain or overwrite
 * something that is in fact present.
 *
 * @module
 */

/** `a_file/child` fails with NotADirectory: it does not exist either. */
function notFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

/**
 * Whether `path` exists (a file, folder, or a link to one).
 *
 * @param path The path.
 * @returns True when it exists, false when it is not found.
 * @throws Any error of `Deno.stat` other than `NotFound` (or `NotADirectory`).
 * @example
 * ```ts
 * import { exists } from "./exists.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await exists(dir), await exists(`${dir}/nope`)); // true false
 * ```
 */
export async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (notFound(err)) return false;
    throw err;
  }
}

/**
 * The synchronous twin of {@link exists}.
 *
 * @param path The path.
 * @returns True when it exists, false when it is not found.
 * @throws Any error of `Deno.statSync` other than `NotFound` (or `NotADirectory`).
 * @example
 * ```ts
 * import { existsSync } from "./exists.ts";
 * console.log(existsSync("/")); // true
 * ```
 */
export function existsSync(path: string | URL): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (err) {
    if (notFound(err)) return false;
    throw err;
  }
}

/**
 * A file's bytes, or null when it is not found (any other failure is thrown, as for
 * {@link exists}).
 *
 * @param path The file.
 * @returns Its bytes, or null.
 * @example
 * ```ts
 * import { readFileOrNull } from "./exists.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await readFileOrNull(`${dir}/nope`)); // null
 * ```
 */
export async function readFileOrNull(path: string | URL): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (notFound(err)) return null;
    throw err;
  }
}

/**
 * A text file's content, or null when it is not found (any other failure is thrown).
 *
 * @param path The file.
 * @returns Its text, or null.
 */
export async function readTextOrNull(path: string | URL): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (notFound(err)) return null;
    throw err;
  }
}
