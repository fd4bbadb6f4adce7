/**
 * The fixed caption lists of judged evaluations: the first n distinct captions of a seeded shapes
 * set, each once, in the set's order (a set repeats captions; a judged rate counts captions).
 *
 * @module
 */
import { makeShapes, type ShapesOptions } from "./shapes.ts";

/**
 * The first `n` distinct captions of a seeded shapes set.
 *
 * @param options The set (its count, seed and split; generated once, then read from the cache).
 * @param n How many distinct captions.
 * @returns The captions, in the set's order.
 * @throws RangeError when the set has fewer than `n` distinct captions.
 * @example
 * ```ts
 * import { distinctShapesCaptions } from "./distinct_captions.ts";
 * const captions = await distinctShapesCaptions({ count: 480, seed: 11, split: "test" }, 64);
 * console.log(captions.length, new Set(captions).size); // 64 64
 * ```
 */
export async function distinctShapesCaptions(
  options: ShapesOptions,
  n: number,
): Promise<string[]> {
  const set = await makeShapes(options);
  const distinct = [...new Set(set.captions)].slice(0, n);
  if (distinct.length < n) {
    throw new RangeError(
      `the ${options.split ?? "train"} set of ${options.count} scenes (seed ` +
        `${options.seed ?? 0}) has ${distinct.length} distinct captions, fewer than ${n}`,
    );
  }
  return distinct;
}
