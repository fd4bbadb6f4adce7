/**
 * The prior's residual blocks, as per-block gradient scaling (paper App. D, lib/gradscale's
 * `gradScale`) groups its parameters: "embed" (token and position tables), "block<i>" (layer i:
 * its two LayerNorms, attention and MLP), "head" (the final LayerNorm and the output heads).
 *
 * @module
 */
import type { Prior } from "./model.ts";

/**
 * The residual block a prior parameter belongs to, from its name.
 *
 * @param name A name of `prior.namedParameters()`, e.g. `"blocks.3.fc.weight"`.
 * @returns "embed", "block<i>" or "head".
 * @example
 * ```ts
 * import { residualBlockOf } from "./blocks.ts";
 * console.log(residualBlockOf("blocks.3.fc.weight"), residualBlockOf("imageHead.bias")); // "block3" "head"
 * console.log(residualBlockOf("textPosition")); // "embed"
 * ```
 */
export function residualBlockOf(name: string): string {
  const layer = /^blocks\.(\d+)\./.exec(name);
  if (layer) return `block${layer[1]}`;
  // Everything before the first layer (embedding and position tables) is the "embed" block.
  return /^(lnFinal|textHead|imageHead)\./.test(name) ? "head" : "embed";
}

/**
 * One block id per parameter, in `prior.parameters()` order: the `blocks` option of `gradScale`.
 *
 * @param prior The prior.
 * @returns The block of each parameter.
 * @example
 * ```ts
 * import { createPrior } from "./mod.ts";
 * import { residualBlocks } from "./blocks.ts";
 * import { initBackend } from "../backend/mod.ts";
 * await initBackend();
 * const prior = createPrior({
 *   textLen: 4, textVocab: 32, imageGrid: 2, imageVocab: 16, dModel: 16, layers: 2, heads: 2,
 * });
 * console.log(new Set(residualBlocks(prior))); // Set { "embed", "block0", "block1", "head" }
 * prior.dispose();
 * ```
 */
export function residualBlocks(prior: Prior): string[] {
  return prior.namedParameters().map(([name]) => residualBlockOf(name));
}
