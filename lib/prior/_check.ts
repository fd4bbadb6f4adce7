/**
 * What the prior checks of the token ids it is given, before any layer runs. An id outside its
 * vocabulary does not fail by itself: `tf.oneHot` makes an all-zero target (a loss of 0 for that
 * position) and some backends' gathers read past the embedding table, so the error would only
 * show as a strange loss curve.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/**
 * Throws unless `t` is an int32 tensor of the given shape (−1: any size, at least one row).
 *
 * @param name "text" or "image", for the message.
 * @param t What the caller passed.
 * @param shape Wanted dimensions; −1 matches any.
 * @throws {TypeError} Not an int32 tensor.
 * @throws {RangeError} Another rank or size, or no rows.
 * @example
 * ```ts
 * import { checkTokenShape } from "./_check.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const t = tf.zeros([2, 3], "int32");
 * try { checkTokenShape("image", t, [2, 16]); } catch (e) { console.log((e as Error).message); }
 * // "prior: image must have shape [2,16], got [2,3]"
 * t.dispose();
 * ```
 */
export function checkTokenShape(name: string, t: tf.Tensor, shape: number[]): void {
  const wanted = `[${shape.map((d) => (d < 0 ? "B" : d))}]`;
  if (!(t instanceof tf.Tensor)) {
    throw new TypeError(`prior: ${name} must be an int32 tensor ${wanted}, got ${t}`);
  }
  if (t.dtype !== "int32") throw new TypeError(`prior: ${name} must be int32, got ${t.dtype}`);
  if (t.rank !== shape.length || shape.some((d, i) => d >= 0 && t.shape[i] !== d)) {
    throw new RangeError(`prior: ${name} must have shape ${wanted}, got [${t.shape}]`);
  }
  if (t.shape[0] === 0) throw new RangeError(`prior: ${name} must hold at least one row`);
}

/**
 * Throws unless every id of a (B, k) token tensor is in [0, vocab), naming the first one that
 * is not by batch row and stream position (reads the ids back: B·k integers).
 *
 * @param name "text" or "image", for the message.
 * @param t int32 (B, k), shape already checked.
 * @param vocab The vocabulary size.
 * @param firstPosition The position of column 0 (an image token's raster index). @default 0
 * @throws {RangeError} An id outside [0, vocab).
 * @example
 * ```ts
 * import { checkTokenIds } from "./_check.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const t = tf.tensor2d([[1, 9000]], [1, 2], "int32");
 * try { checkTokenIds("image", t, 8192, 16); } catch (e) { console.log((e as Error).message); }
 * // "prior: image token id 9000 at batch row 0, position 17 is outside [0, 8192)"
 * t.dispose();
 * ```
 */
export function checkTokenIds(name: string, t: tf.Tensor, vocab: number, firstPosition = 0): void {
  const ids = t.dataSync();
  const k = t.shape[1]!;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= 0 && ids[i] < vocab) continue;
    throw new RangeError(
      `prior: ${name} token id ${ids[i]} at batch row ${Math.floor(i / k)}, position ` +
        `${firstPosition + (i % k)} is outside [0, ${vocab})`,
    );
  }
}
