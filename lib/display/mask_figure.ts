/**
 * Figure 11 of the paper drawn: the prior's attention masks (lib/masks' panels) as plotly heatmaps
 * (for notebooks and HTML pages) and as a PNG (rendered with sharp, no browser). Rows are queries,
 * columns are keys; the text region (positions 0…T−1) and the image region are tinted differently
 * and separated by a line at T.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { figure11Panels, type MaskPanel, sideOf } from "../masks/mod.ts";
import type { Figure } from "./show.ts";

const FORBIDDEN_TEXT = "#e6eef8";
const FORBIDDEN_IMAGE = "#fdf1e4";
const ALLOWED_TEXT = "#1f3b73";
const ALLOWED_IMAGE = "#8a3b0c";
const SEPARATOR = "#d62728";
const GRID_LINE = "#c8c8c8";

/** Largest stream length whose heatmap cells carry named hover labels. */
const HOVER_NAMES_UP_TO = 48;

/** 0 forbidden text key, 1 forbidden image key, 2 allowed text key, 3 allowed image key. */
function cellCode(panel: MaskPanel, streamLength: number, query: number, key: number): number {
  const allowed = panel.mask[query * streamLength + key] === 1;
  const imageKey = key >= panel.textLength;
  return (allowed ? 2 : 0) + (imageKey ? 1 : 0);
}

function positionName(panel: MaskPanel, index: number): string {
  const { textLength, gridSize } = panel;
  if (index < textLength) return `text ${index}`;
  const slot = index - textLength;
  if (panel.kind === "column-transposed") {
    const c = Math.floor(slot / gridSize), r = slot % gridSize;
    return `image ${r * gridSize + c} (r ${r}, c ${c}), transposed slot ${slot}`;
  }
  return `image ${slot} (r ${Math.floor(slot / gridSize)}, c ${slot % gridSize})`;
}

/**
 * A plotly figure of mask panels side by side: one heatmap each (queries down, keys across),
 * with shapes marking the text→text and image→image regions and the boundary at T.
 *
 * @param panels The masks to draw.
 * @returns `{ data, layout }` for `showPlot` or `plotPage`.
 * @example
 * ```ts
 * import { maskFigure } from "./mask_figure.ts";
 * import { maskPanel } from "../masks/mod.ts";
 * const fig = maskFigure([maskPanel("conv 5×5", { kind: "conv", textLength: 4, gridSize: 8, kernel: 5 })]);
 * console.log(fig.data.length); // 1
 * ```
 */
export function maskFigure(panels: MaskPanel[]): Figure {
  if (panels.length === 0) throw new RangeError("maskFigure needs at least one panel, got 0");
  const gap = 0.04;
  const width = (1 - gap * (panels.length - 1)) / panels.length;
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: "Attention masks (queries down, keys across)" },
    width: 260 * panels.length + 80,
    height: 400,
    margin: { l: 50, r: 20, t: 80, b: 70 },
    showlegend: false,
  };
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const step = 1 / 3; // the four cell codes 0…3 map onto [0, 1] in steps of 1/3
  const colors = [FORBIDDEN_TEXT, FORBIDDEN_IMAGE, ALLOWED_TEXT, ALLOWED_IMAGE];
  const colorscale = colors.flatMap((color, code) => [
    [Math.max(0, (code - 0.5) * step), color],
    [Math.min(1, (code + 0.5) * step), color],
  ]);
  panels.forEach((panel, p) => {
    const streamLength = sideOf(panel.mask);
    const T = panel.textLength;
    const suffix = p === 0 ? "" : String(p + 1);
    const xRef = `x${suffix}`, yRef = `y${suffix}`;
    // Named hover labels only for small masks: at L = 264 they would add ~70k strings a panel.
    const named = streamLength <= HOVER_NAMES_UP_TO;
    const z: number[][] = [], text: string[][] = [];
    for (let i = 0; i < streamLength; i++) {
      z.push([]);
      text.push([]);
      for (let j = 0; j < streamLength; j++) {
        const code = cellCode(panel, streamLength, i, j);
        z[i].push(code);
        if (named) {
          text[i].push(
            `${positionName(panel, i)} → ${positionName(panel, j)}: ` +
              (code >= 2 ? "allowed" : "forbidden"),
          );
        }
      }
    }
    data.push({
      type: "heatmap",
      z,
      ...(named
        ? { text, hoverinfo: "text" }
        : { hovertemplate: "query %{y} → key %{x}<extra></extra>" }),
      zmin: 0,
      zmax: 3,
      colorscale,
      showscale: false,
      xgap: 1,
      ygap: 1,
      xaxis: xRef,
      yaxis: yRef,
      name: panel.label,
    });
    const x0 = p * (width + gap);
    layout[`xaxis${suffix}`] = {
      domain: [x0, x0 + width],
      anchor: yRef,
      range: [-0.5, streamLength - 0.5],
      showticklabels: false,
      ticks: "",
      showgrid: false,
      zeroline: false,
      title: { text: "key" },
    };
    layout[`yaxis${suffix}`] = {
      anchor: xRef,
      range: [streamLength - 0.5, -0.5], // query 0 at the top, as in the paper
      scaleanchor: xRef,
      showticklabels: false,
      ticks: "",
      showgrid: false,
      zeroline: false,
      title: p === 0 ? { text: "query" } : undefined,
    };
    const edge = streamLength - 0.5, split = T - 0.5;
    const region = (a0: number, a1: number, b0: number, b1: number, color: string) => ({
      type: "rect",
      xref: xRef,
      yref: yRef,
      x0: a0,
      x1: a1,
      y0: b0,
      y1: b1,
      line: { color, width: 2 },
      fillcolor: "rgba(0,0,0,0)",
    });
    if (T > 0) shapes.push(region(-0.5, split, -0.5, split, ALLOWED_TEXT)); // text → text
    shapes.push(region(split, edge, split, edge, ALLOWED_IMAGE)); // image → image
    for (const line of [[split, -0.5, split, edge], [-0.5, split, edge, split]]) {
      shapes.push({
        type: "line",
        xref: xRef,
        yref: yRef,
        x0: line[0],
        y0: line[1],
        x1: line[2],
        y1: line[3],
        line: { color: SEPARATOR, width: 1.5, dash: "dot" },
      });
    }
    annotations.push({
      text: panel.label,
      xref: `${xRef} domain`,
      yref: `${yRef} domain`,
      x: 0.5,
      y: 1.1,
      showarrow: false,
      font: { size: 13 },
    });
    if (T > 0) {
      annotations.push({
        text: "text",
        xref: xRef,
        yref: `${yRef} domain`,
        x: (T - 1) / 2,
        y: 1.02,
        showarrow: false,
        font: { size: 10, color: ALLOWED_TEXT },
      });
    }
    annotations.push({
      text: "image",
      xref: xRef,
      yref: `${yRef} domain`,
      x: (T + streamLength - 1) / 2,
      y: 1.02,
      showarrow: false,
      font: { size: 10, color: ALLOWED_IMAGE },
    });
  });
  annotations.push({
    text: "dark: allowed (blue: text key, brown: image key) · light: forbidden · " +
      "red dotted: text | image boundary",
    xref: "paper",
    yref: "paper",
    x: 0.5,
    y: -0.2,
    showarrow: false,
    font: { size: 11 },
  });
  layout.shapes = shapes;
  layout.annotations = annotations;
  return { data, layout };
}

/**
 * Figure 11 of the paper as a plotly figure: four heatmaps with the text and image regions marked.
 *
 * @returns `{ data, layout }` with 4 heatmap traces.
 * @example
 * ```ts
 * import { figure11 } from "./mask_figure.ts";
 * const fig = figure11();
 * console.log(fig.data.length, fig.data[0].type); // 4 "heatmap"
 * ```
 */
export function figure11(): Figure {
  const fig = maskFigure(figure11Panels());
  (fig.layout as Record<string, unknown>).title = {
    text: "Figure 11: attention masks, T = 6 text tokens, 4×4 image",
  };
  return fig;
}

/** Pixel geometry of {@link maskPanelsPng}'s image. */
export interface PanelLayout {
  /** Image width and height in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Side of one mask cell in pixels, its grid line included. */
  cellPx: number;
  /** Top-left pixel [x, y] of each panel's first cell. */
  origins: [number, number][];
}

const MARGIN_LEFT = 24;
const MARGIN_TOP = 56;
const PANEL_GAP = 28;
const MARGIN_BOTTOM = 56;

/**
 * Where {@link maskPanelsPng} puts each panel: panels of side L·cellPx + 1 pixels in a row.
 *
 * @param streamLength L, the side of every mask.
 * @param panelCount How many panels.
 * @param cellPx Pixels per cell, grid line included. @default 12
 * @returns The image size and each panel's top-left pixel.
 * @example
 * ```ts
 * import { maskPanelLayout } from "./mask_figure.ts";
 * const layout = maskPanelLayout(22, 4);
 * console.log(layout.width, layout.height, layout.origins[1]); // 1192 377 [ 317, 56 ]
 * ```
 */
export function maskPanelLayout(
  streamLength: number,
  panelCount: number,
  cellPx = 12,
): PanelLayout {
  if (!Number.isInteger(cellPx) || cellPx < 3) {
    throw new RangeError(`cellPx must be an integer ≥ 3, got ${cellPx}`);
  }
  const panelPx = streamLength * cellPx + 1;
  const origins: [number, number][] = [];
  for (let p = 0; p < panelCount; p++) {
    origins.push([MARGIN_LEFT + p * (panelPx + PANEL_GAP), MARGIN_TOP]);
  }
  return {
    width: MARGIN_LEFT * 2 + panelCount * panelPx + (panelCount - 1) * PANEL_GAP,
    height: MARGIN_TOP + panelPx + MARGIN_BOTTOM,
    cellPx,
    origins,
  };
}

function rgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function escapeXml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * Renders mask panels side by side as a PNG: each cell a square (dark = allowed, light =
 * forbidden, blue = text key, orange = image key), grid lines between cells, a red line at the
 * text | image boundary, captions drawn from an SVG overlay. All panels must share one L.
 *
 * @param panels The masks to draw.
 * @param options `cellPx`: pixels per cell, grid line included. @default 12
 * @returns The encoded PNG.
 * @example
 * ```ts
 * import { maskPanelsPng } from "./mask_figure.ts";
 * import { figure11Panels } from "../masks/mod.ts";
 * const png = await maskPanelsPng(figure11Panels());
 * console.log(png[1] === 0x50); // true ("PNG" signature)
 * ```
 */
export async function maskPanelsPng(
  panels: MaskPanel[],
  options: { cellPx?: number } = {},
): Promise<Uint8Array> {
  if (panels.length === 0) throw new RangeError("maskPanelsPng needs at least one panel, got 0");
  const streamLength = sideOf(panels[0].mask);
  for (const panel of panels) {
    if (sideOf(panel.mask) !== streamLength) {
      throw new RangeError(
        `all panels must share one stream length ${streamLength}, got ${sideOf(panel.mask)} ` +
          `for "${panel.label}"`,
      );
    }
  }
  const layout = maskPanelLayout(streamLength, panels.length, options.cellPx ?? 12);
  const { width, height, cellPx } = layout;
  const pixels = new Uint8Array(width * height * 3).fill(255); // RGB, white background
  const fill = (x0: number, y0: number, w: number, h: number, color: [number, number, number]) => {
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) pixels.set(color, (y * width + x) * 3);
    }
  };
  const palette = [FORBIDDEN_TEXT, FORBIDDEN_IMAGE, ALLOWED_TEXT, ALLOWED_IMAGE].map(rgb);
  const panelPx = streamLength * cellPx + 1;
  panels.forEach((panel, p) => {
    const [ox, oy] = layout.origins[p];
    fill(ox, oy, panelPx, panelPx, rgb(GRID_LINE)); // cells leave 1-pixel grid lines showing
    for (let i = 0; i < streamLength; i++) {
      for (let j = 0; j < streamLength; j++) {
        const color = palette[cellCode(panel, streamLength, i, j)];
        fill(ox + j * cellPx + 1, oy + i * cellPx + 1, cellPx - 1, cellPx - 1, color);
      }
    }
    const split = panel.textLength * cellPx;
    if (panel.textLength > 0) {
      fill(ox + split, oy, 1, panelPx, rgb(SEPARATOR)); // boundary between text and image keys
      fill(ox, oy + split, panelPx, 1, rgb(SEPARATOR)); // and between text and image queries
    }
  });
  const texts: string[] = [];
  const label = (x: number, y: number, size: number, color: string, s: string) =>
    texts.push(
      `<text x="${x}" y="${y}" font-family="DejaVu Sans, sans-serif" font-size="${size}" ` +
        `fill="${color}" text-anchor="middle">${escapeXml(s)}</text>`,
    );
  panels.forEach((panel, p) => {
    const [ox, oy] = layout.origins[p];
    label(ox + panelPx / 2, oy - 26, 15, "#111111", panel.label);
    const T = panel.textLength;
    if (T > 0) label(ox + (T * cellPx) / 2, oy - 6, 11, ALLOWED_TEXT, "text");
    label(ox + ((T + streamLength) * cellPx) / 2, oy - 6, 11, ALLOWED_IMAGE, "image");
  });
  const first = panels[0];
  label(
    width / 2,
    height - 30,
    12,
    "#333333",
    `T = ${first.textLength} text tokens, ${first.gridSize}×${first.gridSize} image; ` +
      "queries down, keys across",
  );
  label(
    width / 2,
    height - 12,
    12,
    "#333333",
    "dark: allowed (blue: text key, brown: image key) · light: forbidden · red line: text | image",
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `${texts.join("")}</svg>`;
  const png = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * Figure 11 of the paper as a PNG (four panels, T = 6, n = 4).
 *
 * @param options `cellPx`: pixels per cell. @default 12
 * @returns The encoded PNG.
 * @example
 * ```ts
 * import { figure11Png } from "./mask_figure.ts";
 * const png = await figure11Png();
 * console.log(png.length > 1000); // true
 * ```
 */
export function figure11Png(options: { cellPx?: number } = {}): Promise<Uint8Array> {
  return maskPanelsPng(figure11Panels(), options);
}
