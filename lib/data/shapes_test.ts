import assert from "node:assert/strict";
import { join } from "node:path";
import {
  COLOUR_HEX,
  makeShapes,
  renderScenes,
  SHAPES_GENERATOR_VERSION,
  type ShapesDataset,
} from "./shapes.ts";
import {
  isZeroShotPair,
  parseCaption,
  type Scene,
  sceneMatches,
  ZERO_SHOT_PAIRS,
} from "./captions.ts";
import { imageAt, type ImageBatch } from "./image_batch.ts";

const NO_CACHE = { cache: false } as const;

function rgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Centroid of the pixels of exactly the palette colour, and how many there are. */
function colourPixels(image: ImageBatch, hex: string) {
  const [r, g, b] = rgb(hex);
  let n = 0, sx = 0, sy = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      if (image.data[i] === r && image.data[i + 1] === g && image.data[i + 2] === b) {
        n++;
        sx += x;
        sy += y;
      }
    }
  }
  return { n, x: sx / n, y: sy / n };
}

Deno.test("shapes: same seed gives byte-identical images and captions; other seeds differ", async () => {
  const a = await makeShapes({ count: 40, seed: 5, ...NO_CACHE });
  const b = await makeShapes({ count: 40, seed: 5, ...NO_CACHE });
  assert.deepEqual(a.images.data, b.images.data);
  assert.deepEqual(a.captions, b.captions);
  assert.deepEqual(a.attributes, b.attributes);
  const c = await makeShapes({ count: 40, seed: 6, ...NO_CACHE });
  assert.notDeepEqual(a.images.data, c.images.data);
  const test = await makeShapes({ count: 40, seed: 5, split: "test", ...NO_CACHE });
  assert.notDeepEqual(a.captions, test.captions); // another seed stream
  assert.equal(a.images.data.length, 40 * 32 * 32 * 3);
});

Deno.test("shapes: image i does not depend on how many images were asked for", async () => {
  const small = await makeShapes({ count: 7, seed: 2, ...NO_CACHE });
  const large = await makeShapes({ count: 20, seed: 2, ...NO_CACHE });
  assert.deepEqual(small.images.data, large.images.data.subarray(0, small.images.data.length));
  assert.deepEqual(small.captions, large.captions.slice(0, 7));
});

function pairsIn(set: ShapesDataset): string[] {
  return set.attributes.flatMap((s) => s.objects.map((o) => `${o.colour} ${o.shape}`));
}

Deno.test("shapes: held-out compositions never appear in train or test, images or captions", async () => {
  for (const split of ["train", "test"] as const) {
    const set = await makeShapes({ count: 2000, seed: 11, split, ...NO_CACHE });
    for (let i = 0; i < set.images.count; i++) {
      for (const o of set.attributes[i].objects) {
        assert.ok(!isZeroShotPair(o.colour, o.shape), `${split} ${i}: ${o.colour} ${o.shape}`);
      }
      const meaning = parseCaption(set.captions[i]);
      for (const o of meaning.objects) assert.ok(!isZeroShotPair(o.colour, o.shape));
      for (const [c, s] of ZERO_SHOT_PAIRS) {
        assert.ok(!set.captions[i].includes(`${c} ${s}`), set.captions[i]);
      }
    }
    // every other composition does occur, so the exclusion is not a side effect of a small set
    assert.equal(new Set(pairsIn(set)).size, 6 * 5 - ZERO_SHOT_PAIRS.length);
  }
  const zero = await makeShapes({ count: 500, seed: 11, split: "zero-shot", ...NO_CACHE });
  for (const scene of zero.attributes) {
    assert.ok(scene.objects.some((o) => isZeroShotPair(o.colour, o.shape)));
  }
  const seen = new Set(pairsIn(zero));
  for (const [c, s] of ZERO_SHOT_PAIRS) assert.ok(seen.has(`${c} ${s}`));
});

Deno.test("shapes: captions describe the attributes, and pixels show them", async () => {
  const set = await makeShapes({ count: 300, seed: 3, ...NO_CACHE });
  let pairs = 0;
  set.attributes.forEach((scene, i) => {
    assert.ok(sceneMatches(parseCaption(set.captions[i]), scene), set.captions[i]);
    const image = imageAt(set.images, i);
    for (const o of scene.objects) {
      // flat interiors: a small star still has a few pixels of exactly its palette colour
      assert.ok(colourPixels(image, COLOUR_HEX[o.colour]).n >= 4, `${i}: ${set.captions[i]}`);
    }
    const [a, b] = scene.objects;
    if (b && a.colour !== b.colour) {
      pairs++;
      const pa = colourPixels(image, COLOUR_HEX[a.colour]);
      const pb = colourPixels(image, COLOUR_HEX[b.colour]);
      const ok = {
        "left of": pa.x < pb.x - 4,
        "right of": pa.x > pb.x + 4,
        "above": pa.y < pb.y - 4,
        "below": pa.y > pb.y + 4,
      }[scene.relation!];
      assert.ok(ok, `${i}: ${set.captions[i]}`);
    }
  });
  assert.ok(pairs > 100);
  // a large object covers more pixels than a small one of the same shape
  const sizes = await renderScenes(
    (["small", "large"] as const).map((size): Scene => ({
      objects: [{ colour: "blue", shape: "circle", size }],
      relation: null,
    })),
  );
  const [nSmall, nLarge] = [0, 1].map((i) => colourPixels(imageAt(sizes, i), COLOUR_HEX.blue).n);
  assert.ok(nLarge > 2 * nSmall, `${nSmall} vs ${nLarge}`);
});

Deno.test("shapes: the cache returns the same set, keys every option, and heals a bad file", async () => {
  const cacheDir = await Deno.makeTempDir();
  try {
    const fresh = await makeShapes({ count: 12, seed: 4, split: "test", size: 24, cacheDir });
    const names = [...Deno.readDirSync(cacheDir)].map((e) => e.name).sort();
    const key = `shapes_v${SHAPES_GENERATOR_VERSION}_test_n12_seed4_px24`;
    assert.deepEqual(names, [`${key}.json`, `${key}.rgb`]);
    const cached = await makeShapes({ count: 12, seed: 4, split: "test", size: 24, cacheDir });
    assert.deepEqual(cached.images.data, fresh.images.data);
    assert.deepEqual(cached.captions, fresh.captions);
    assert.deepEqual(cached.attributes, fresh.attributes);
    // a truncated pixel file is not trusted: the set is rendered again and rewritten
    await Deno.writeFile(join(cacheDir, `${key}.rgb`), fresh.images.data.subarray(0, 100));
    const healed = await makeShapes({ count: 12, seed: 4, split: "test", size: 24, cacheDir });
    assert.deepEqual(healed.images.data, fresh.images.data);
    assert.equal(Deno.statSync(join(cacheDir, `${key}.rgb`)).size, fresh.images.data.length);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("shapes: bad options are rejected with what was expected", async () => {
  await assert.rejects(() => makeShapes({ count: -1, ...NO_CACHE }), RangeError);
  await assert.rejects(() => makeShapes({ count: 1, size: 4, ...NO_CACHE }), RangeError);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => makeShapes({ count: 1, split: "validation" as any, ...NO_CACHE }),
    /split must be one of train, test, zero-shot/,
  );
});
