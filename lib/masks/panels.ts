/**
 * The panels of the paper's Figure 11: the prior's attention masks for T = 6 text tokens and a 4×4
 * image (row, column, column with transposed image states, convolutional 3×3), as data. Drawing
 * them is lib/display's (`figure11`, `figure11Png`), so the model pieces load no renderer.
 *
 * @module
 */
import { maskFor, type MaskKind } from "./masks.ts";

/** One panel of Figure 11: a mask and how to draw it. */
export interface MaskPanel {
  /** Caption above the panel, e.g. "(a) row". */
  label: string;
  /** Which mask kind the panel shows. */
  kind: MaskKind;
  /** T, the number of text positions. */
  textLength: number;
  /** n, the image side in tokens. */
  gridSize: number;
  /** k for conv panels; null otherwise. */
  kernel: number | null;
  /** The L×L mask, L = T + n². */
  mask: Uint8Array;
}

/** Figure 11's sizes: a text length of 6 and a 4×4 image grid. */
export const FIGURE11_SIZES = { textLength: 6, gridSize: 4 } as const;

/**
 * Builds a panel for a mask kind at some size.
 *
 * @param label The caption.
 * @param spec Kind, T, n and (for conv) the kernel width; kernel @default 11.
 * @returns The panel with its mask.
 * @example
 * ```ts
 * import { maskPanel } from "./panels.ts";
 * const panel = maskPanel("(a) row", { kind: "row", textLength: 6, gridSize: 4 });
 * console.log(panel.mask.length); // 484
 * ```
 */
export function maskPanel(
  label: string,
  spec: { kind: MaskKind; textLength: number; gridSize: number; kernel?: number },
): MaskPanel {
  const kernel = spec.kernel ?? 11;
  return {
    label,
    kind: spec.kind,
    textLength: spec.textLength,
    gridSize: spec.gridSize,
    kernel: spec.kind === "conv" ? kernel : null,
    mask: maskFor(spec.kind, spec.textLength, spec.gridSize, kernel),
  };
}

/**
 * The four panels of Figure 11 (T = 6, n = 4).
 *
 * @returns (a) row, (b) column, (c) column on transposed image states, (d) convolutional 3×3.
 * @example
 * ```ts
 * import { figure11Panels } from "./panels.ts";
 * console.log(figure11Panels().map((p) => p.label).join(" | "));
 * // (a) row | (b) column | (c) column, transposed image states | (d) convolutional 3×3
 * ```
 */
export function figure11Panels(): MaskPanel[] {
  const sizes = FIGURE11_SIZES;
  return [
    maskPanel("(a) row", { kind: "row", ...sizes }),
    maskPanel("(b) column", { kind: "column", ...sizes }),
    maskPanel("(c) column, transposed image states", { kind: "column-transposed", ...sizes }),
    maskPanel("(d) convolutional 3×3", { kind: "conv", ...sizes, kernel: 3 }),
  ];
}

// Cell colours: allowed is dark, forbidden is light; text keys blue, image keys orange.
