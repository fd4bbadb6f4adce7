/**
 * Option objects with a key the function does not know. A misspelt key (`bta` for `beta`,
 * `temprature`) is otherwise ignored without a word, and the run quietly uses the default: in an
 * ablation that is a wrong result, not a crash. TypeScript catches it in an object literal, but
 * not in an object built elsewhere, spread from a config, or passed from JavaScript or a notebook.
 *
 * @module
 */

/**
 * Throws when `options` holds a key that is not in `known`, naming the key (with the closest
 * known one when it looks like a typo) and listing the known ones.
 *
 * Keep `known` in step with the options' interface by deriving it from a
 * `Record<keyof Options, true>`: the compiler then rejects a missing or an extra key.
 *
 * @param what Who takes the options, for the message (e.g. "trainDvae").
 * @param options The options as given.
 * @param known Every key the function reads.
 * @throws {TypeError} `options` is not an object, or holds a key not in `known`.
 * @example
 * ```ts
 * import { checkOptionKeys } from "./options.ts";
 * const KNOWN: Record<"steps" | "beta", true> = { steps: true, beta: true };
 * try {
 *   checkOptionKeys("train", { steps: 5, bta: 2 }, Object.keys(KNOWN));
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // train: unknown option "bta" (did you mean "beta"?); known options: steps, beta
 * }
 * ```
 */
export function checkOptionKeys(what: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    const got = options === null ? "null" : Array.isArray(options) ? "an array" : typeof options;
    throw new TypeError(`${what}: options must be an object, got ${got}`);
  }
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const named = unknown.map((key) => {
    const near = closest(key, known);
    return `"${key}"${near === null ? "" : ` (did you mean "${near}"?)`}`;
  });
  throw new TypeError(
    `${what}: unknown option${unknown.length > 1 ? "s" : ""} ${named.join(", ")}; ` +
      `known options: ${known.join(", ")}`,
  );
}

/** The known key nearest `key` (case aside, at most a third of its letters off), or null. */
function closest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`. */
function editDistance(a: string, b: string): number {
  const rows = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}
