/**
 * Figure 11 of the paper: the prior's attention masks for T = 6 text tokens and a 4×4 image.
 *
 * Question: do our row, column, transposed-column and 3×3 convolutional masks look like the
 * paper's Figure 11?
 * Command: `deno run -A experiments/figure11.ts [outDir]` (default outDir: data/figures; also
 *   `--outDir=DIR`). It computes no tensors, so it starts a backend only when `--backend=NAME`
 *   asks for one (which checks the name, as in every experiment).
 * Runtime: about a second.
 * Expected: four panels; (a) each image token sees the previous n = 4 tokens in raster order,
 * (b) only its own column, (c) block-diagonal triangles (columns made contiguous by transposing),
 * (d) a causal 3×3 neighbourhood with raster wrap-around; every image token sees all 6 text tokens.
 * Writes `figure11_masks.png` (sharp, no browser) and `figure11_masks.html` (plotly page).
 *
 * @module
 */
import { initBackend } from "../lib/backend/mod.ts";
import { writeFileAtomic } from "../lib/io/mod.ts";
import { figure11, figure11Png, plotPage } from "../lib/display/mod.ts";
import { parseFlags, UsageError } from "../lib/log/mod.ts";

/**
 * Writes Figure 11 as a PNG and as a standalone plotly page.
 *
 * @param outDir The folder to write into (created if missing). @default "data/figures"
 * @returns The paths written.
 * @example
 * ```ts
 * import { writeFigure11 } from "./figure11.ts";
 * const paths = await writeFigure11(await Deno.makeTempDir());
 * console.log(paths.png.endsWith("figure11_masks.png")); // true
 * ```
 */
export async function writeFigure11(
  outDir = "data/figures",
): Promise<{ png: string; html: string }> {
  const png = `${outDir}/figure11_masks.png`;
  const html = `${outDir}/figure11_masks.html`;
  await writeFileAtomic(png, await figure11Png());
  await writeFileAtomic(html, plotPage(figure11()));
  return { png, html };
}

if (import.meta.main) {
  const FIGURE11_DEFAULTS = {
    /** Folder to write into (also the first positional argument). */
    outDir: "data/figures",
  };
  const flags = parseFlags(FIGURE11_DEFAULTS, undefined, { positional: "[outDir]" });
  const positional = Deno.args.filter((a) => !a.startsWith("--"));
  if (positional.length > 1) {
    throw new UsageError(`expected at most one folder, got ${positional.length}: ${positional}`);
  }
  if (flags.backend !== undefined) await initBackend(flags.backend);
  const paths = await writeFigure11(positional[0] ?? flags.outDir);
  console.log(`wrote ${paths.png} and ${paths.html}`);
}
