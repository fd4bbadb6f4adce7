import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { figuresToPngs, findChromium, pngIsBlank, pngSize } from "./mod.ts";

const noChromium = findChromium() === null;

/** Pixels of one exact colour in a PNG. */
async function countColour(png: Uint8Array, [r, g, b]: number[]): Promise<number> {
  const { data, info } = await sharp(Buffer.from(png)).removeAlpha().raw()
    .toBuffer({ resolveWithObject: true });
  let count = 0;
  for (let i = 0; i < info.width * info.height; i++) {
    if (data[3 * i] === r && data[3 * i + 1] === g && data[3 * i + 2] === b) count++;
  }
  return count;
}

/** A bar chart whose one bar is drawn in `colour`. */
function bars(colour: string, width: number, height: number) {
  return {
    data: [{ type: "bar", x: ["a", "b"], y: [3, 2], marker: { color: colour } }],
    layout: { title: { text: `bars ${width}×${height}` }, width, height },
  };
}

Deno.test("figuresToPngs: nothing to draw, or a picture without figures, needs no browser", async () => {
  assert.deepEqual(await figuresToPngs([]), []);
  await assert.rejects(() => figuresToPngs([{ figures: [] }]), /picture 0 has no figures/);
});

Deno.test({
  name: "figuresToPngs: one launch, each picture its figures stacked at their sizes under its text",
  ignore: noChromium,
  fn: async () => {
    const pngs = await figuresToPngs([
      {
        title: "Two figures",
        caption:
          "From the run data/runs/x/20261202T000000Z_quick — a caption long enough to wrap " +
          "onto a second line of the picture, since it is wider than the widest figure here.",
        figures: [bars("#ff0000", 400, 300), bars("#0000ff", 500, 200)],
      },
      { figures: [bars("#00ff00", 300, 250)] },
    ]);
    assert.equal(pngs.length, 2);
    const [stacked, single] = pngs.map(pngSize);
    // 16 px margins; the heading (title and two caption lines) adds to the height only.
    assert.equal(stacked.width, 500 + 32);
    assert.ok(stacked.height >= 300 + 200 + 32 + 26 + 2 * 20, `height ${stacked.height}`);
    assert.deepEqual(single, { width: 300 + 32, height: 250 + 32 });
    for (const png of pngs) assert.ok(!(await pngIsBlank(png)));
    // Each figure is really drawn, in its own picture only.
    assert.ok((await countColour(pngs[0], [255, 0, 0])) > 1000, "red bars");
    assert.ok((await countColour(pngs[0], [0, 0, 255])) > 1000, "blue bars");
    assert.equal(await countColour(pngs[0], [0, 255, 0]), 0);
    assert.ok((await countColour(pngs[1], [0, 255, 0])) > 1000, "green bars");
  },
});

Deno.test({
  name: "figuresToPngs: a figure plotly cannot draw fails loudly, naming it",
  ignore: noChromium,
  fn: async () => {
    await assert.rejects(
      () =>
        figuresToPngs([{
          figures: [bars("#ff0000", 300, 200), {
            data: [{ type: "bar", y: [1] }],
            layout: { width: -5 },
          }],
        }]),
      /figuresToPngs: .*picture 0, figure 1/,
    );
  },
});
