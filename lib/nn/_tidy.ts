/**
 * `tf.tidy` for functions that return plain objects of tensors (interfaces lack the index
 * signature tfjs's `TensorContainer` type asks for; at run time tidy walks any object).
 *
 * @module
 */
import { tf } from "../backend/mod.ts";

/** Runs `fn` in a tidy scope, keeping every tensor reachable from its result. */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
