/**
 * A saved pipeline's manifest: `pipeline.json`, a versioned list of the parts (tokenizer, dVAE,
 * prior, reranker) with their files, content hashes and configurations, checked against each
 * other and against the files on loading, so a folder whose parts do not fit is a clear error,
 * not a garbled image. Pipelines are shared between people, so a manifest may only name plain
 * files beside it: it never makes a loader read outside its folder.
 *
 * @module
 */

/** The manifest's format tag and version (bumped when its meaning changes). */
export const MANIFEST_FORMAT = "dalle-lab/pipeline";
/** See {@link MANIFEST_FORMAT}. Version 2 added each part's `sha256`. */
export const MANIFEST_VERSION = 2;
/** The version written before part hashes existed: loaded only when asked to (`allowUnhashed`). */
export const UNHASHED_MANIFEST_VERSION = 1;
/** The manifest's file name inside a pipeline folder. */
export const MANIFEST_FILE = "pipeline.json";

/** The part roles, in loading order. */
export const PART_ROLES = ["tokenizer", "dvae", "prior", "reranker"] as const;
/** One of {@link PART_ROLES}. */
export type PartRole = typeof PART_ROLES[number];

/** One part: its file (beside the manifest), its content hash and the configuration it had. */
export interface ManifestPart {
  /** The part's file name, in the pipeline folder itself (see {@link isPlainPartName}). */
  file: string;
  /** SHA-256 of the file's bytes, lowercase hex; absent only in version-1 manifests. */
  sha256?: string;
  /** The part's config. */
  config: Record<string, unknown>;
}

/** What `pipeline.json` holds. */
export interface Manifest {
  /** Format tag, always MANIFEST_FORMAT. */
  format: typeof MANIFEST_FORMAT;
  /** Format version. */
  version: number;
  /** When it was saved (ISO 8601). */
  saved: string;
  /** The parts, by role. */
  parts: {
    tokenizer: ManifestPart;
    dvae: ManifestPart;
    prior: ManifestPart;
    reranker?: ManifestPart;
  };
  /** Free-form notes (e.g. the runs that trained the parts). */
  notes?: Record<string, unknown>;
}

/** A pipeline folder that cannot be loaded: which folder, and why. */
export class PipelineManifestError extends Error {
  /** The error class name, as printed. */
  override name = "PipelineManifestError";

  /**
   * Says which pipeline folder is wrong, and why.
   * @param dir The folder.
   * @param why What is wrong (never the bytes of a file: only names, sizes and hashes).
   * @param options The error that revealed it, kept as `cause`.
   */
  constructor(readonly dir: string, why: string, options: { cause?: unknown } = {}) {
    super(
      `${dir} is not a usable pipeline: ${why}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * Whether a manifest's part file is a plain file name, such as `Pipeline.save` writes
 * (`tokenizer.json`, `dvae.safetensors`, …): letters, digits, `.`, `_` and `-`, not starting with
 * `.`. A whitelist rather than a list of bad shapes, so `..`, `/`, `\`, absolute and drive paths
 * (`C:x`), NUL and empty names are all out without enumerating each platform's tricks.
 *
 * @param file The name from the manifest.
 * @returns True when it names a file directly inside the folder.
 * @example
 * ```ts
 * import { isPlainPartName } from "./manifest.ts";
 * console.log(isPlainPartName("prior.safetensors"), isPlainPartName("../x")); // true false
 * ```
 */
export function isPlainPartName(file: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file);
}

/**
 * Checks a parsed manifest's shape, version, part file names and hashes. Reads no file, so a
 * manifest naming a file outside its folder is refused before anything is read.
 *
 * @param dir The folder (for messages).
 * @param value What `pipeline.json` parsed to.
 * @param options `allowUnhashed`: accept a version-1 manifest, whose parts carry no hash.
 * @returns The manifest.
 * @throws {PipelineManifestError} When it is not a manifest of this version (or, asked to, of
 *   version 1), names a part file that is not a plain name, or lacks a part's hash.
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * try { parseManifest("p", { format: "x" }); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function parseManifest(
  dir: string,
  value: unknown,
  options: { allowUnhashed?: boolean } = {},
): Manifest {
  const m = value as Partial<Manifest> | null;
  if (typeof m !== "object" || m === null || m.format !== MANIFEST_FORMAT) {
    throw new PipelineManifestError(dir, `${MANIFEST_FILE} is not a ${MANIFEST_FORMAT} manifest`);
  }
  const unhashed = m.version === UNHASHED_MANIFEST_VERSION;
  // Refused by default: without hashes a part swapped for another of the same configuration
  // loads and silently changes every result. Accepted only when the caller asks, to re-save it.
  if (unhashed && !options.allowUnhashed) {
    throw new PipelineManifestError(
      dir,
      `${MANIFEST_FILE} has version 1, written before part hashes, so its parts cannot be ` +
        `checked: if you trust the folder, re-save it with \`(await Pipeline.load(dir, ` +
        `{ allowUnhashed: true })).save(dir)\`, or rebuild it (experiments/prior_shapes.ts)`,
    );
  }
  if (m.version !== MANIFEST_VERSION && !unhashed) {
    throw new PipelineManifestError(
      dir,
      `${MANIFEST_FILE} has version ${m.version}; this toolkit reads version ${MANIFEST_VERSION}`,
    );
  }
  for (const role of PART_ROLES) {
    const p = m.parts?.[role];
    if (role === "reranker" && p === undefined) continue;
    if (!p || typeof p.file !== "string" || typeof p.config !== "object" || p.config === null) {
      throw new PipelineManifestError(dir, `${MANIFEST_FILE} names no ${role} (file and config)`);
    }
    if (!isPlainPartName(p.file)) {
      throw new PipelineManifestError(
        dir,
        `${MANIFEST_FILE} names its ${role} file ${JSON.stringify(p.file)}, which is not a ` +
          `plain file name inside the folder (parts are files beside ${MANIFEST_FILE}, ` +
          `like "prior.safetensors"; no paths)`,
      );
    }
    if (!unhashed && (typeof p.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(p.sha256))) {
      throw new PipelineManifestError(
        dir,
        `${MANIFEST_FILE} records no SHA-256 (64 lowercase hex digits) for its ${role}`,
      );
    }
  }
  return m as Manifest;
}

/**
 * The first key whose value differs between two configurations (JSON equality), or null.
 *
 * @param expected The manifest's.
 * @param found The loaded part's.
 * @returns A phrase naming the key and both values, or null.
 * @example
 * ```ts
 * import { configDifference } from "./manifest.ts";
 * console.log(configDifference({ dModel: 64 }, { dModel: 32 })); // dModel is 64 in the manifest, 32 in the file
 * ```
 */
export function configDifference(
  expected: Record<string, unknown>,
  found: Record<string, unknown>,
): string | null {
  for (const key of new Set([...Object.keys(expected), ...Object.keys(found)])) {
    const [a, b] = [JSON.stringify(expected[key]), JSON.stringify(found[key])];
    if (a !== b) return `${key} is ${a} in the manifest, ${b} in the file`;
  }
  return null;
}

/** The sizes the parts must agree on. */
export interface PartSizes {
  /** The tokenizer's vocabulary size (ids). */
  tokenizerVocab: number;
  /** The dVAE's codebook size. */
  dvaeVocab: number;
  /** The dVAE's token grid side. */
  dvaeGrid: number;
  /** The prior's text vocabulary size. */
  priorTextVocab: number;
  /** The prior's image vocabulary size. */
  priorImageVocab: number;
  /** The prior's image grid side. */
  priorImageGrid: number;
  /** The prior's text length (tokens). */
  priorTextLen: number;
  /** The reranker's text vocabulary size, when there is a reranker. */
  rerankerTextVocab?: number;
}

/**
 * Why the parts do not fit together, or null: the prior reads the tokenizer's ids and the dVAE's
 * tokens on the dVAE's grid; the reranker reads the tokenizer's ids.
 *
 * @param s The parts' sizes.
 * @returns A phrase, or null.
 * @example
 * ```ts
 * import { partsMismatch } from "./manifest.ts";
 * console.log(partsMismatch({
 *   tokenizerVocab: 512, dvaeVocab: 512, dvaeGrid: 8,
 *   priorTextVocab: 512, priorImageVocab: 256, priorImageGrid: 8, priorTextLen: 16,
 * })); // the prior's image vocabulary is 256 but the dVAE has 512 codes
 * ```
 */
export function partsMismatch(s: PartSizes): string | null {
  if (s.priorTextVocab !== s.tokenizerVocab) {
    return `the prior's text vocabulary is ${s.priorTextVocab} but the tokenizer has ${s.tokenizerVocab} ids`;
  }
  if (s.priorImageVocab !== s.dvaeVocab) {
    return `the prior's image vocabulary is ${s.priorImageVocab} but the dVAE has ${s.dvaeVocab} codes`;
  }
  if (s.priorImageGrid !== s.dvaeGrid) {
    return `the prior's image grid is ${s.priorImageGrid}×${s.priorImageGrid} but the dVAE's is ${s.dvaeGrid}×${s.dvaeGrid}`;
  }
  if (s.rerankerTextVocab !== undefined && s.rerankerTextVocab !== s.tokenizerVocab) {
    return `the reranker's text vocabulary is ${s.rerankerTextVocab} but the tokenizer has ${s.tokenizerVocab} ids`;
  }
  return null;
}
