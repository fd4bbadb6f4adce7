/**
 * A saved pipeline's manifest: `pipeline.json`, a versioned list of the parts (tokenizer, dVAE,
 * prior, reranker) with their files and configurations, checked against each other and against
 * the files on loading, so a folder whose parts do not fit is a clear error, not a garbled image.
 *
 * @module
 */

/** The manifest's format tag and version (bumped when its meaning changes). */
export const MANIFEST_FORMAT = "dalle-lab/pipeline";
/** See {@link MANIFEST_FORMAT}. */
export const MANIFEST_VERSION = 1;
/** The manifest's file name inside a pipeline folder. */
export const MANIFEST_FILE = "pipeline.json";

/** One part: its file (relative to the folder) and the configuration it was saved with. */
export interface ManifestPart {
  /** The part's file, relative to the pipeline folder. */
  file: string;
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
   * @param why What is wrong.
   */
  constructor(readonly dir: string, why: string) {
    super(`${dir} is not a usable pipeline: ${why}`);
  }
}

/**
 * Checks a parsed manifest's shape and version.
 *
 * @param dir The folder (for messages).
 * @param value What `pipeline.json` parsed to.
 * @returns The manifest.
 * @throws {PipelineManifestError} When it is not a manifest of this version.
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * try { parseManifest("p", { format: "x" }); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function parseManifest(dir: string, value: unknown): Manifest {
  const m = value as Partial<Manifest> | null;
  if (typeof m !== "object" || m === null || m.format !== MANIFEST_FORMAT) {
    throw new PipelineManifestError(dir, `${MANIFEST_FILE} is not a ${MANIFEST_FORMAT} manifest`);
  }
  if (m.version !== MANIFEST_VERSION) {
    throw new PipelineManifestError(
      dir,
      `${MANIFEST_FILE} has version ${m.version}; this toolkit reads version ${MANIFEST_VERSION}`,
    );
  }
  for (const part of ["tokenizer", "dvae", "prior"] as const) {
    const p = m.parts?.[part];
    if (!p || typeof p.file !== "string" || typeof p.config !== "object" || p.config === null) {
      throw new PipelineManifestError(dir, `${MANIFEST_FILE} names no ${part} (file and config)`);
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
