import assert from "node:assert/strict";
import sharp from "sharp";
import { figure11, figure11Png, maskFigure, maskPanelLayout, maskPanelsPng } from "./mod.ts";
import { figure11Panels, maskPanel, sideOf } from "../masks/mod.ts";

Deno.test("figure11(): four heatmaps whose cells are the Figure 11 masks, regions marked", () => {
  const fig = figure11();
  const panels = figure11Panels();
  assert.equal(fig.data.length, 4);
  const layout = fig.layout as Record<string, unknown>;
  const shapes = layout.shapes as Record<string, unknown>[];
  for (const [p, trace] of fig.data.entries()) {
    assert.equal(trace.type, "heatmap");
    const axis = p === 0 ? "x" : `x${p + 1}`;
    assert.equal(trace.xaxis, axis);
    assert.ok(layout[p === 0 ? "xaxis" : `xaxis${p + 1}`], `layout lacks axis ${axis}`);
    const z = trace.z as number[][];
    const L = sideOf(panels[p].mask);
    assert.equal(z.length, L);
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        assert.equal(z[i][j] >= 2, panels[p].mask[i * L + j] === 1, `panel ${p} [${i}][${j}]`);
        assert.equal(z[i][j] % 2 === 1, j >= 6, `panel ${p} key ${j} region tint`);
      }
    }
    const own = shapes.filter((s) => s.xref === axis);
    // text→text box, image→image box, and the two boundary lines at T − 0.5 = 5.5
    assert.equal(own.filter((s) => s.type === "rect").length, 2);
    assert.equal(own.filter((s) => s.type === "line" && (s.x0 === 5.5 || s.y0 === 5.5)).length, 2);
  }
  assert.match(JSON.stringify(fig), /\(d\) convolutional 3×3/);
});

Deno.test("maskFigure rejects an empty panel list", () => {
  assert.throws(() => maskFigure([]), RangeError);
});

Deno.test("figure11Png: each cell's centre pixel is dark iff allowed, red boundary at T", async () => {
  const png = await figure11Png();
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const panels = figure11Panels();
  const L = 22, T = 6;
  const layout = maskPanelLayout(L, panels.length);
  assert.deepEqual([info.width, info.height], [layout.width, layout.height]);
  const pixel = (x: number, y: number) => {
    const at = (y * info.width + x) * info.channels;
    return [data[at], data[at + 1], data[at + 2]];
  };
  const half = Math.floor(layout.cellPx / 2);
  for (const [p, panel] of panels.entries()) {
    const [ox, oy] = layout.origins[p];
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        const [r, g, b] = pixel(ox + j * layout.cellPx + half, oy + i * layout.cellPx + half);
        const luma = 0.299 * r + 0.587 * g + 0.114 * b;
        assert.equal(
          luma < 128,
          panel.mask[i * L + j] === 1,
          `panel ${p} [${i}][${j}] luma ${luma}`,
        );
        // text keys are tinted blue, image keys orange
        assert.equal(b > r, j < T, `panel ${p} [${i}][${j}] tint`);
      }
    }
    const [r, g, b] = pixel(ox + T * layout.cellPx, oy + 2);
    assert.ok(r > 180 && g < 80 && b < 80, `panel ${p} separator colour ${[r, g, b]}`);
    // the caption above the panel is drawn (some dark text pixels)
    let dark = 0;
    for (let y = oy - 42; y < oy - 20; y++) {
      for (let x = ox; x < ox + L * layout.cellPx; x++) if (pixel(x, y)[0] < 100) dark++;
    }
    assert.ok(dark > 20, `panel ${p} caption missing`);
  }
});

Deno.test("maskPanelsPng rejects panels of different stream lengths and tiny cells", async () => {
  const a = maskPanel("a", { kind: "row", textLength: 2, gridSize: 3 });
  const b = maskPanel("b", { kind: "row", textLength: 2, gridSize: 4 });
  await assert.rejects(() => maskPanelsPng([a, b]), RangeError);
  await assert.rejects(() => maskPanelsPng([]), RangeError);
  await assert.rejects(() => maskPanelsPng([a], { cellPx: 2 }), RangeError);
});
