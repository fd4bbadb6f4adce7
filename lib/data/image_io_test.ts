import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { initBackend, tf } from "../backend/mod.ts";
import { decodePng, encodePng, imageGrid, loadPng, savePng, wrapLabel } from "./image_io.ts";
import { Mulberry32 } from "../io/mod.ts";
import type { ImageBatch } from "./image_batch.ts";

await initBackend();

function noise(count: number, height: number, width: number, channels: 1 | 3): ImageBatch {
  const rng = Mulberry32.data(count * 1000 + height + channels);
  const data = Uint8Array.from({ length: count * height * width * channels }, () => rng.int(256));
  return { data, count, height, width, channels };
}

Deno.test("image io: image → PNG → image is exact, RGB and grey, bytes and files", async () => {
  for (const channels of [3, 1] as const) {
    const image = noise(1, 17, 23, channels);
    const back = await decodePng(await encodePng(image));
    assert.deepEqual(back, image);
  }
  const dir = await Deno.makeTempDir();
  try {
    const batch = noise(3, 32, 32, 3);
    const path = join(dir, "nested", "second.png");
    await savePng(path, batch, 1);
    const loaded = await loadPng(path);
    assert.deepEqual(loaded.data, batch.data.subarray(32 * 32 * 3, 2 * 32 * 32 * 3));
    assert.deepEqual([...Deno.readDirSync(join(dir, "nested"))].map((e) => e.name), ["second.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("image io: transparency is flattened onto white", async () => {
  const rgba = await sharp(Uint8Array.of(255, 0, 0, 255, 0, 0, 255, 0), {
    raw: { width: 2, height: 1, channels: 4 },
  }).png().toBuffer();
  const image = await decodePng(new Uint8Array(rgba));
  assert.equal(image.channels, 3);
  assert.deepEqual(Array.from(image.data), [255, 0, 0, 255, 255, 255]);
});

Deno.test("image io: float tensors in [0, 1] round to the nearest byte, leak-free", async () => {
  const before = tf.memory().numTensors;
  const t = tf.tensor3d([0, 0.5, 1, 1.2, -0.1, 0.25], [1, 2, 3]);
  const image = await decodePng(await encodePng(t));
  assert.deepEqual(Array.from(image.data), [0, 128, 255, 255, 0, 64]);
  t.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("image io: a grid upscales with nearest neighbour and lays cells out in rows", async () => {
  const images = noise(5, 4, 4, 3);
  const grid = await decodePng(await imageGrid(images, { cols: 3, scale: 2, gap: 1 }));
  // 3 columns × (8 px + 1 gap) + 1, 2 rows likewise
  assert.deepEqual([grid.width, grid.height, grid.channels], [28, 19, 3]);
  const at = (x: number, y: number) =>
    Array.from(grid.data.subarray((y * 28 + x) * 3, (y * 28 + x) * 3 + 3));
  const src = (n: number, x: number, y: number) =>
    Array.from(images.data.subarray(((n * 4 + y) * 4 + x) * 3, ((n * 4 + y) * 4 + x) * 3 + 3));
  for (const n of [0, 4]) {
    const left = 1 + (n % 3) * 9, top = 1 + Math.floor(n / 3) * 9;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        assert.deepEqual(at(left + x, top + y), src(n, x >> 1, y >> 1));
      }
    }
  }
  assert.deepEqual(at(0, 0), [255, 255, 255]); // the gap is background
  assert.deepEqual(at(27, 18), [255, 255, 255]); // the missing 6th cell too
});

Deno.test("image io: labels are drawn under their cells", async () => {
  const images: ImageBatch = {
    data: new Uint8Array(2 * 8 * 8 * 3).fill(255),
    count: 2,
    height: 8,
    width: 8,
    channels: 3,
  };
  const plain = await decodePng(await imageGrid(images, { cols: 2, scale: 4, labelLines: 2 }));
  const labelled = await decodePng(
    await imageGrid(images, { cols: 2, scale: 4, labelLines: 2, labels: ["a red star", ""] }),
  );
  assert.ok(labelled.height > plain.height);
  const inked = (x0: number, x1: number) => {
    let n = 0;
    for (let y = 4 + 32; y < labelled.height; y++) {
      for (let x = x0; x < x1; x++) if (labelled.data[(y * labelled.width + x) * 3] < 128) n++;
    }
    return n;
  };
  assert.ok(inked(4, 36) > 20, "text under the first cell");
  assert.equal(inked(40, 72), 0, "no text under the second");
  await assert.rejects(() => imageGrid(images, { labels: ["only one"] }), /1 labels for 2 images/);
});

Deno.test("image io: long labels wrap between words and end in an ellipsis", () => {
  assert.deepEqual(wrapLabel("a small red circle above a large blue square", 16, 2), [
    "a small red",
    "circle above a…",
  ]);
  assert.deepEqual(wrapLabel("a red star", 16, 2), ["a red star"]);
  assert.deepEqual(wrapLabel("abcdefghij", 4, 3), ["abcd", "efgh", "ij"]);
  assert.deepEqual(wrapLabel("abcdefghijkl xy", 4, 3), ["abcd", "efgh", "ijk…"]);
});

Deno.test("image io: lib/data loads nothing from lib/display (grids are shown with showPng)", async () => {
  const mod = new URL("./mod.ts", import.meta.url).pathname;
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", mod],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(code, 0);
  const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  const ours = graph.modules.map((m) => m.specifier).filter((s) => s.includes("/lib/"));
  assert.ok(ours.some((s) => s.endsWith("/lib/data/image_io.ts")), "the graph was read");
  assert.deepEqual(ours.filter((s) => s.includes("/lib/display/")), []);
});
