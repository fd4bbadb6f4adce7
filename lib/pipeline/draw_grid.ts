/**
 * The pipeline's draws as one labelled picture: a row per caption (or per primed image), the
 * reference cells first (the real image under its caption, a dVAE reconstruction, …), then the
 * draws best first, each under its reranker score and a ✓ where a reader (the shapes judge) found
 * the caption in it. The samples and completions of the main job, its report, the experiments and
 * the notebooks all draw through it, so every grid reads the same way.
 *
 * @module
 */
import { tf } from "../backend/mod.ts";
import { imageGrid } from "../data/mod.ts";

/** One row of a {@link drawGrid}. */
export interface DrawRow {
  /** Cells before the draws: an image (one, (1, H, W, 3)) and the label under it. @default none */
  lead?: readonly { image: tf.Tensor4D; label: string }[];
  /** The draws, best first, (n, H, W, 3) in [0, 1]. */
  draws: tf.Tensor4D;
  /** Each draw's reranker score (NaN: none), in the draws' order. @default no scores */
  scores?: readonly number[];
  /** Each draw: whether the caption was found in it (a ✓). @default no marks */
  agrees?: readonly boolean[];
}

/** Options of {@link drawGrid}. */
export interface DrawGridOptions {
  /** Upscaling factor. @default 3 */
  scale?: number;
  /** Lines of text under each cell (a caption may need several). @default 3 */
  labelLines?: number;
  /** Number the draws `#1`, `#2`, … before their scores. @default false */
  ranks?: boolean;
  /** Cells per line: a longer row wraps onto the next lines. @default the widest row's cells */
  cols?: number;
}

/**
 * The label under draw `i`: its rank (with `ranks`), its score to 2 decimals (3 with `ranks`),
 * and ✓ where it agrees.
 *
 * @param row The row.
 * @param i The draw's index in the row.
 * @param ranks Number the draws.
 * @returns The label ("" when there is nothing to say).
 */
export function drawLabel(row: DrawRow, i: number, ranks = false): string {
  const score = row.scores?.[i];
  const parts = [
    ranks ? `#${i + 1}` : "",
    score === undefined || Number.isNaN(score) ? "" : score.toFixed(ranks ? 3 : 2),
    row.agrees?.[i] ? "✓" : "",
  ];
  return parts.filter((p) => p !== "").join(" ");
}

/**
 * Lays out rows of draws as one PNG (see the module doc); a row longer than `cols` wraps, and each
 * row's last line is padded with blank cells, so the next row starts on a line of its own.
 *
 * @param rows The rows, top to bottom.
 * @param options Scale, label lines, ranks.
 * @returns The PNG's bytes.
 * @throws {RangeError} No rows, or draws of a size other than the first row's.
 * @example
 * ```ts
 * import { drawGrid } from "./mod.ts";
 * import { initBackend, tf } from "../backend/mod.ts";
 * await initBackend();
 * const draws = tf.randomUniform([4, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
 * const png = await drawGrid([{ draws, scores: [0.9, 0.5, 0.2, 0.1], agrees: [true, false, true, false] }]);
 * console.log(png.length > 0); // true
 * draws.dispose();
 * ```
 */
export async function drawGrid(
  rows: readonly DrawRow[],
  options: DrawGridOptions = {},
): Promise<Uint8Array> {
  if (rows.length === 0) throw new RangeError("drawGrid needs at least one row");
  const [, H, W] = rows[0].draws.shape;
  const cols = options.cols ??
    Math.max(...rows.map((r) => (r.lead?.length ?? 0) + r.draws.shape[0]));
  const labels: string[] = [];
  const grid = tf.tidy(() => {
    const blank = tf.ones([1, H, W, 3]);
    const cells: tf.Tensor[] = [];
    for (const row of rows) {
      if (row.draws.shape[1] !== H || row.draws.shape[2] !== W) {
        throw new RangeError(
          `drawGrid: draws of ${row.draws.shape[1]}×${
            row.draws.shape[2]
          }, the first row's are ${H}×${W}`,
        );
      }
      for (const cell of row.lead ?? []) {
        cells.push(cell.image);
        labels.push(cell.label);
      }
      cells.push(row.draws);
      for (let i = 0; i < row.draws.shape[0]; i++) labels.push(drawLabel(row, i, options.ranks));
      const used = (row.lead?.length ?? 0) + row.draws.shape[0];
      for (let k = used; k % cols !== 0; k++) {
        cells.push(blank);
        labels.push("");
      }
    }
    return tf.concat(cells, 0) as tf.Tensor4D;
  });
  try {
    return await imageGrid(grid, {
      cols,
      scale: options.scale ?? 3,
      labels,
      labelLines: options.labelLines ?? 3,
    });
  } finally {
    grid.dispose();
  }
}
