import assert from "node:assert/strict";
import { imageBatch } from "./image_batch.ts";
import { isHeldOut, splitByFile } from "./split.ts";

/** `n` one-pixel images whose value is their index, named and captioned by it. */
function folder(n: number, prefix = "img") {
  const files = Array.from({ length: n }, (_, i) => `${prefix}${i}.png`);
  const data = new Uint8Array(n * 3).map((_, j) => Math.floor(j / 3) % 256);
  const images = imageBatch(data, { count: n, height: 1, width: 1, channels: 3 });
  return { images, captions: files.map((f) => `caption of ${f}`), files };
}

Deno.test("splitByFile: a pure function of seed and names; images, captions and files stay together", () => {
  const set = folder(400);
  const a = splitByFile(set, { testFraction: 0.25, seed: 3 });
  assert.deepEqual(splitByFile(set, { testFraction: 0.25, seed: 3 }), a);
  assert.equal(a.train.images.count + a.test.images.count, 400);
  assert.ok(a.test.images.count > 70 && a.test.images.count < 130, `${a.test.images.count}`);
  for (const part of [a.train, a.test]) {
    part.files.forEach((file, i) => {
      assert.equal(part.captions[i], `caption of ${file}`);
      assert.equal(part.images.data[3 * i], Number(file.slice(3, -4)) % 256);
    });
  }
  // Another seed holds out other images; more images leave the old ones where they were.
  const b = splitByFile(set, { testFraction: 0.25, seed: 4 });
  assert.notDeepEqual(b.test.files, a.test.files);
  const grown = splitByFile(folder(600), { testFraction: 0.25, seed: 3 });
  assert.deepEqual(grown.test.files.filter((f) => Number(f.slice(3, -4)) < 400), a.test.files);
  assert.equal(a.test.files.every((f) => isHeldOut(f, 0.25, 3)), true);
});

Deno.test("splitByFile: a share outside (0, 1), mismatched lists or an empty part is an error", () => {
  const set = folder(10);
  for (const testFraction of [0, 1, -0.1, NaN]) {
    assert.throws(() => splitByFile(set, { testFraction }), /testFraction must be in \(0, 1\)/);
  }
  assert.throws(
    () => splitByFile({ ...set, files: set.files.slice(1) }),
    /10 images, 10 captions and 9 files: one of each per image/,
  );
  assert.throws(
    () => splitByFile(folder(2), { testFraction: 0.001 }),
    /no test image among 2 at testFraction 0\.001 \(seed 0\): add images or change the share/,
  );
});
