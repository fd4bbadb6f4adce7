import assert from "node:assert/strict";
import {
  FASHION_MNIST_CLASSES,
  FASHION_PHRASINGS,
  fashionLabelOf,
  fashionPhrase,
  loadFashionMnist,
  loadImageFolder,
  toRgb32,
  writeFashionFolder,
} from "./mod.ts";

Deno.test("fashionLabelOf reads back every class in every phrasing, and refuses what names none or two", () => {
  for (let label = 0; label < FASHION_MNIST_CLASSES.length; label++) {
    for (let p = 0; p < FASHION_PHRASINGS.length; p++) {
      assert.equal(fashionLabelOf(fashionPhrase(label, p)), label, fashionPhrase(label, p));
    }
  }
  // "a shirt" sits inside "a t-shirt": each is read as its own class.
  assert.equal(fashionLabelOf("a photo of a t-shirt"), 0);
  assert.equal(fashionLabelOf("a photo of a shirt"), 6);
  assert.equal(fashionLabelOf("A Sneaker."), 7);
  assert.equal(fashionLabelOf("a photo of a hat"), -1);
  assert.equal(fashionLabelOf("a sneaker beside a bag"), -1);
  assert.throws(() => fashionPhrase(10, 0), /labels are 0…9/);
  assert.throws(() => fashionPhrase(0, FASHION_PHRASINGS.length), /phrasing must be/);
});

Deno.test("writeFashionFolder: a folder loadImageFolder reads as the split's images and classes, reused, never overwritten", async () => {
  const root = await Deno.makeTempDir({ prefix: "dalle-lab-fashion-folder-" });
  try {
    const dir = `${root}/f`;
    const manifest = await writeFashionFolder(dir, { count: 20, seed: 3 });
    assert.equal(manifest.count, 20);
    const folder = await loadImageFolder(dir, { size: 32 });
    const source = await loadFashionMnist({ split: "train", limit: 20 });
    assert.equal(folder.images.count, 20);
    assert.deepEqual(folder.captions.map(fashionLabelOf), Array.from(source.labels));
    assert.ok(new Set(folder.captions.map((c) => c.split(" ")[0])).size > 1, "one phrasing only");
    // The PNGs hold toRgb32's bytes exactly (lossless, no resize at 32).
    assert.deepEqual(folder.images.data, toRgb32(source.images).data);
    const written = (await Deno.stat(`${dir}/captions.csv`)).mtime!.getTime();
    await writeFashionFolder(dir, { count: 20, seed: 3 });
    assert.equal((await Deno.stat(`${dir}/captions.csv`)).mtime!.getTime(), written, "rewritten");
    await assert.rejects(() => writeFashionFolder(dir, { count: 21, seed: 3 }), /another Fashion/);
    await Deno.mkdir(`${root}/other`);
    await Deno.writeTextFile(`${root}/other/cat.txt`, "a cat");
    await assert.rejects(() => writeFashionFolder(`${root}/other`), /not empty/);
    await assert.rejects(
      () => writeFashionFolder(`${root}/big`, { count: 70000 }),
      /count must be/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
