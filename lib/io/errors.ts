/**
 * The two error types for bad input that a caller may want to tell apart from a plain
 * `RangeError` / `TypeError` (which the toolkit throws for bad in-memory arguments: wrong shapes,
 * ids out of range, non-positive horizons, unknown names):
 *
 * - {@link CorruptFileError}: a file exists but cannot be read as what it should be (truncated,
 *   corrupt, or another format). Catch it to delete a cache entry or to re-download a dataset.
 * - {@link CheckpointMismatchError}: a well-formed weights file whose tensors do not fit the model
 *   (usually saved from another configuration). Loading it changes nothing.
 *
 * Both name the file, and the message says what was expected and what was found.
 *
 * @module
 */

/** Options of {@link CorruptFileError}. */
export interface CorruptFileErrorOptions {
  /** What the file should have been, e.g. "safetensors file". @default "file" */
  format?: string;
  /** The error that revealed the damage (a JSON or gzip parser's), kept as `cause`. */
  cause?: unknown;
}

/**
 * A file that is truncated, corrupt, or not in the format it should be in.
 *
 * @example
 * ```ts
 * import { CorruptFileError } from "./errors.ts";
 * const err = new CorruptFileError("w.safetensors", "header is not JSON", {
 *   format: "safetensors file",
 * });
 * console.log(err.message); // "w.safetensors is not a valid safetensors file: header is not JSON"
 * console.log(err instanceof CorruptFileError, err.path); // true "w.safetensors"
 * ```
 */
export class CorruptFileError extends Error {
  /** The error class name, as printed. */
  override name = "CorruptFileError";
  /** The file (or the name a caller gave the bytes). */
  readonly path: string;
  /** What it should have been. */
  readonly format: string;
  /** What is wrong with it, without the file name. */
  readonly reason: string;

  /**
   * Describes a corrupt file.
   * @param path The file.
   * @param reason What is wrong, e.g. "header claims 900 bytes but the file has 20".
   * @param options The expected format and the underlying error.
   */
  constructor(path: string, reason: string, options: CorruptFileErrorOptions = {}) {
    const format = options.format ?? "file";
    super(
      `${path} is not a valid ${format}: ${reason}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.path = path;
    this.format = format;
    this.reason = reason;
  }
}

/** One tensor that does not fit: its name, and the shapes on each side (null: absent). */
export interface TensorMismatch {
  /** The tensor's name in the file (prefix included). */
  name: string;
  /** Its shape in the file; null when the file lacks it. */
  file: number[] | null;
  /** The shape the model expects; null when the model has no such tensor. */
  model: number[] | null;
}

/**
 * A weights file whose tensors do not match the model: a missing, an unexpected or a differently
 * shaped tensor. Thrown before anything is assigned, so the model is unchanged.
 *
 * @example
 * ```ts
 * import { CheckpointMismatchError } from "./errors.ts";
 * const err = new CheckpointMismatchError("dvae.safetensors", [
 *   { name: "encoder.input.weight", file: [7, 7, 1, 64], model: [7, 7, 3, 64] },
 * ]);
 * console.log(err.message);
 * // dvae.safetensors does not match the model (saved from another configuration?):
 * // "encoder.input.weight" is [7,7,1,64] in the file but the model expects [7,7,3,64]
 * ```
 */
export class CheckpointMismatchError extends Error {
  /** The error class name, as printed. */
  override name = "CheckpointMismatchError";
  /** The file. */
  readonly path: string;
  /** Every tensor that does not fit. */
  readonly mismatches: readonly TensorMismatch[];

  /**
   * Lists the tensors of a checkpoint that do not match the model.
   * @param path The file.
   * @param mismatches The tensors that do not fit (at least one).
   */
  constructor(path: string, mismatches: readonly TensorMismatch[]) {
    const shown = mismatches.slice(0, 8).map(describeMismatch).join("; ");
    const more = mismatches.length > 8 ? ` (and ${mismatches.length - 8} more)` : "";
    super(
      `${path} does not match the model (saved from another configuration?): ${shown}${more}`,
    );
    this.path = path;
    this.mismatches = mismatches;
  }
}

function describeMismatch({ name, file, model }: TensorMismatch): string {
  if (file === null) return `missing "${name}" (the model expects [${model}])`;
  if (model === null) return `unexpected "${name}" [${file}] (the model has no such tensor)`;
  return `"${name}" is [${file}] in the file but the model expects [${model}]`;
}
