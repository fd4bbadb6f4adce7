/**
 * Reading a pipeline folder safely. Pipelines are shared between people, so a folder is checked
 * before any part is parsed: the manifest and every part must be regular files directly inside
 * it (a name with a path is refused by the manifest's reader, a symbolic link out of the folder
 * here), and every part's bytes must have the SHA-256 recorded when the pipeline was saved.
 *
 * The hash catches a part changed, damaged or swapped for another of the same configuration after
 * saving (which the configuration check alone lets through, changing every result silently). It
 * is an integrity check, not a signature: whoever can edit the parts can edit the manifest too.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { CorruptFileError } from "../io/errors.ts";
import { exists } from "../io/mod.ts";
import {
  type Manifest,
  MANIFEST_FILE,
  parseManifest,
  PART_ROLES,
  type PartRole,
  PipelineManifestError,
  UNHASHED_MANIFEST_VERSION,
} from "./manifest.ts";

/** Options of {@link readManifest} and `Pipeline.load`. */
export interface PipelineLoadOptions {
  /**
   * Load a version-1 manifest, written before part hashes, whose parts cannot be checked (with a
   * warning). Meant for re-saving a trusted old pipeline, which records the hashes.
   * @default false
   */
  allowUnhashed?: boolean;
}

/**
 * SHA-256 of some bytes, as 64 lowercase hex digits.
 *
 * @param bytes The bytes.
 * @returns The hex digest.
 * @example
 * ```ts
 * import { sha256Hex } from "./integrity.ts";
 * console.log(await sha256Hex(new Uint8Array())); // e3b0c442…b855
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `dir/file` after checking that it is a regular file directly inside `dir` once links are
 * resolved (`file` is already a plain name; only a symbolic link can lead elsewhere).
 */
async function fileInside(dir: string, realDir: string, file: string, what: string) {
  const path = join(dir, file);
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new PipelineManifestError(dir, `its ${what} ${path} is missing`);
    }
    throw err;
  }
  if (dirname(real) !== realDir) {
    throw new PipelineManifestError(dir, `its ${what} ${path} is a link out of the folder`);
  }
  // A FIFO or a device would hang or stream forever; a folder would fail with a raw EISDIR.
  if (!(await Deno.stat(real)).isFile) {
    throw new PipelineManifestError(dir, `its ${what} ${path} is not a regular file`);
  }
  return path;
}

/**
 * Reads and checks `dir/pipeline.json`: a regular file inside the folder, JSON, a manifest of
 * this version whose parts are plain file names with hashes (see `parseManifest`). A version-1
 * manifest is refused unless `allowUnhashed`, and then loaded with a warning.
 *
 * @param dir The pipeline folder.
 * @param options See {@link PipelineLoadOptions}.
 * @returns The manifest.
 * @throws {PipelineManifestError} No manifest, a manifest that is a link out of the folder, not
 *   JSON, or not a usable manifest. The message never quotes the file's bytes.
 * @example
 * ```ts
 * import { readManifest } from "./integrity.ts";
 * try { await readManifest(await Deno.makeTempDir()); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export async function readManifest(
  dir: string,
  options: PipelineLoadOptions = {},
): Promise<Manifest> {
  let realDir: string;
  try {
    realDir = await Deno.realPath(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new PipelineManifestError(dir, `it has no ${MANIFEST_FILE}`);
    }
    throw err;
  }
  if (!await exists(join(dir, MANIFEST_FILE))) {
    throw new PipelineManifestError(dir, `it has no ${MANIFEST_FILE}`);
  }
  const path = await fileInside(dir, realDir, MANIFEST_FILE, "manifest");
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    // Not the parser's message: it quotes the bytes (kept as the cause, for debugging).
    throw new PipelineManifestError(dir, `${MANIFEST_FILE} is not JSON (truncated or corrupt?)`, {
      cause: err,
    });
  }
  const manifest = parseManifest(dir, parsed, options);
  if (manifest.version === UNHASHED_MANIFEST_VERSION) {
    console.warn(
      `[pipeline] ${dir}: ${MANIFEST_FILE} has version 1, written before part hashes: its parts ` +
        "are loaded UNCHECKED (allowUnhashed). Save the pipeline again to record their hashes.",
    );
  }
  return manifest;
}

/**
 * Checks every part a manifest names before any is parsed: each is a regular file directly in
 * the folder (links resolved), then each has the recorded SHA-256 (all paths first, so a link
 * out of the folder is refused before any part is read).
 *
 * @param dir The pipeline folder.
 * @param manifest Its manifest (from {@link readManifest}).
 * @returns Each part's path, by role.
 * @throws {PipelineManifestError} A part that is missing, not a regular file, or a link out of
 *   the folder.
 * @throws {CorruptFileError} A part whose bytes are not the ones saved (changed, swapped or
 *   damaged): the message names the part and its file, and gives both hashes' first digits.
 * @example
 * ```ts
 * import { readManifest, verifyParts } from "./integrity.ts";
 * try {
 *   const dir = "data/cache/pipeline_shapes";
 *   console.log(await verifyParts(dir, await readManifest(dir)));
 * } catch (e) { console.log((e as Error).message); } // no pipeline saved yet
 * ```
 */
export async function verifyParts(
  dir: string,
  manifest: Manifest,
): Promise<Partial<Record<PartRole, string>>> {
  const realDir = await Deno.realPath(dir);
  const paths: Partial<Record<PartRole, string>> = {};
  for (const role of PART_ROLES) {
    const part = manifest.parts[role];
    if (part) paths[role] = await fileInside(dir, realDir, part.file, `${role} file`);
  }
  for (const role of PART_ROLES) {
    const expected = manifest.parts[role]?.sha256;
    const path = paths[role];
    if (expected === undefined || path === undefined) continue; // version 1, allowed by the caller
    // The loaders read the file again: a change between the two reads (by someone with write
    // access to the folder while it loads) is not caught, and is not what this guards against.
    const found = await sha256Hex(await Deno.readFile(path));
    if (found !== expected) {
      throw new CorruptFileError(
        path,
        `its SHA-256 is ${found.slice(0, 12)}… but ${MANIFEST_FILE} records ` +
          `${expected.slice(0, 12)}…: it was changed or swapped after the pipeline was saved ` +
          "(restore the file saved with it, or save the pipeline again)",
        { format: `pipeline ${role}` },
      );
    }
  }
  return paths;
}

/**
 * The SHA-256 of each file a pipeline has just written, for its manifest.
 *
 * @param dir The pipeline folder.
 * @param files Each part's file name, by role.
 * @returns Each part's hash, by role.
 * @example
 * ```ts
 * import { partHashes } from "./integrity.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/tokenizer.json`, "{}");
 * console.log(await partHashes(dir, { tokenizer: "tokenizer.json" }));
 * ```
 */
export async function partHashes(
  dir: string,
  files: Partial<Record<PartRole, string>>,
): Promise<Partial<Record<PartRole, string>>> {
  const hashes: Partial<Record<PartRole, string>> = {};
  for (const role of PART_ROLES) {
    const file = files[role];
    if (file !== undefined) hashes[role] = await sha256Hex(await Deno.readFile(join(dir, file)));
  }
  return hashes;
}
