import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { loadImageFolder } from "./image_folder.ts";

async function solid(
  path: string,
  width: number,
  height: number,
  colour: string,
  format: "png" | "jpeg" | "webp",
) {
  const image = sharp({ create: { width, height, channels: 3, background: colour } });
  const encoded = format === "png"
    ? image.png()
    : format === "jpeg"
    ? image.jpeg({ quality: 95 })
    : image.webp({ lossless: true });
  await Deno.writeFile(path, await encoded.toBuffer());
}

/** An error of exactly this class (not a subclass) with exactly this message. */
const exactly = (kind: new () => Error) => (message: string) => (e: Error) =>
  e.constructor === kind && e.message === message;

Deno.test("image folder: PNG/JPEG/WebP resized, captions from sidecars and captions.csv, bad files reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await solid(join(dir, "a_red.png"), 50, 40, "#ff0000", "png");
    await solid(join(dir, "b_green.jpg"), 64, 64, "#00ff00", "jpeg");
    await solid(join(dir, "c_blue.webp"), 20, 30, "#0000ff", "webp");
    await Deno.writeFile(join(dir, "d_broken.png"), new TextEncoder().encode("not a png"));
    await solid(join(dir, "e_nocaption.png"), 8, 8, "#808080", "png");
    await Deno.writeTextFile(join(dir, "notes.md"), "ignored: not an image");
    await Deno.writeTextFile(join(dir, "a_red.txt"), "  a red square \n");
    await Deno.writeTextFile(
      join(dir, "captions.csv"),
      'file,caption\n./b_green.jpg,"a green square, seen from above"\nc_blue.webp,a blue square\na_red.png,overridden by the sidecar\n',
    );
    const reports: string[] = [];
    await assert.rejects(
      () => loadImageFolder(dir, { size: 16, onSkip: (file) => reports.push(file) }),
      exactly(RangeError)(
        `loadImageFolder: 2 of 5 images in ${dir} have no caption (d_broken.png, ` +
          "e_nocaption.png): give each a sidecar <name>.txt or a row of captions.csv, or pass " +
          'uncaptioned: "keep" to load them with the caption ""',
      ),
    );
    assert.equal(reports.length, 0, "refused before any image is read");
    const folder = await loadImageFolder(dir, {
      size: 16,
      onSkip: (file) => reports.push(file),
      uncaptioned: "keep",
    });
    assert.deepEqual(folder.files, ["a_red.png", "b_green.jpg", "c_blue.webp", "e_nocaption.png"]);
    assert.deepEqual(folder.captions, [
      "a red square",
      "a green square, seen from above",
      "a blue square",
      "",
    ]);
    assert.deepEqual(folder.uncaptioned, ["e_nocaption.png"]);
    assert.deepEqual(reports, ["d_broken.png"]);
    assert.equal(folder.skipped.length, 1);
    assert.equal(folder.skipped[0].file, "d_broken.png");
    assert.deepEqual(
      [folder.images.count, folder.images.height, folder.images.width, folder.images.channels],
      [4, 16, 16, 3],
    );
    const centre = (n: number) => {
      const i = ((n * 16 + 8) * 16 + 8) * 3;
      return Array.from(folder.images.data.subarray(i, i + 3));
    };
    assert.deepEqual(centre(0), [255, 0, 0]);
    assert.deepEqual(centre(2), [0, 0, 255]);
    const [r, g, b] = centre(1); // JPEG: close, not exact
    assert.ok(r < 20 && g > 235 && b < 20, `${[r, g, b]}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image folder: skipped files are warned about by default; none readable, or a bad CSV header, is an error", async () => {
  const dir = await Deno.makeTempDir();
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (msg: string) => warnings.push(msg);
  try {
    await Deno.writeFile(join(dir, "x.jpeg"), Uint8Array.of(0xff, 0xd8, 0xff, 0x00));
    await assert.rejects(
      () => loadImageFolder(dir, { uncaptioned: "keep" }),
      (e: Error) =>
        e.constructor === RangeError &&
        e.message.startsWith(
          `loadImageFolder: none of the 1 image files in ${dir} could be read: x.jpeg (`,
        ),
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /skipped x\.jpeg/);
    await Deno.writeTextFile(join(dir, "captions.csv"), "name,text\nx.jpeg,hello\n");
    await assert.rejects(() => loadImageFolder(dir), /"file" and "caption" columns/);
  } finally {
    console.warn = warn;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image folder: no images, an unknown fit or a background that is no colour is an error before any image is read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "notes.md"), "not an image");
    await Deno.mkdir(join(dir, "sub"));
    await assert.rejects(
      () => loadImageFolder(dir),
      exactly(RangeError)(
        `loadImageFolder: no images in ${dir} (looked for .png, .jpg, .jpeg, .webp files; pass ` +
          "recursive: true to read subfolders)",
      ),
    );
    await solid(join(dir, "sub", "a.png"), 8, 8, "#ff0000", "png");
    await Deno.writeTextFile(join(dir, "sub", "a.txt"), "a red square");
    assert.equal((await loadImageFolder(dir, { recursive: true, size: 4 })).images.count, 1);
    await assert.rejects(
      () => loadImageFolder(dir, { uncaptioned: "drop" as "keep", recursive: true }),
      exactly(RangeError)('loadImageFolder: uncaptioned must be "error" or "keep", got "drop"'),
    );
    await assert.rejects(
      () => loadImageFolder(dir, { fit: "crop" as "cover", recursive: true }),
      exactly(RangeError)(
        'loadImageFolder: fit must be one of "cover", "contain", "fill", got "crop"',
      ),
    );
    await assert.rejects(
      () => loadImageFolder(dir, { background: "#12", recursive: true }),
      exactly(RangeError)(
        'loadImageFolder: background must be a CSS colour (e.g. "#ffffff", "white", "rgb(0, 0, 0)"), got "#12"',
      ),
    );
    await assert.rejects(
      () => loadImageFolder(dir, { background: 0 as unknown as string, recursive: true }),
      exactly(TypeError)("loadImageFolder: background must be a CSS colour string, got number"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
