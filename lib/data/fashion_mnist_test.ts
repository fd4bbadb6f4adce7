import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { existsSync } from "../io/mod.ts";
import {
  FASHION_MNIST_DEFAULT_DIR,
  FASHION_MNIST_ENV,
  FASHION_MNIST_FILES,
  fashionCaption,
  loadFashionMnist,
  parseIdx,
} from "./fashion_mnist.ts";
import { CorruptFileError } from "../io/errors.ts";

const installed = existsSync(join(FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_FILES.test.images));

/** An IDX file of unsigned bytes: magic 0x0000 08 rank, dims big-endian, data. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** A folder with a tiny valid "test" split of n images whose pixels all equal their label. */
async function fakeDataset(n: number): Promise<string> {
  const dir = await Deno.makeTempDir();
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const pixels = new Uint8Array(n * 28 * 28).map((_, i) => labels[Math.floor(i / 784)]);
  await Deno.writeFile(
    join(dir, FASHION_MNIST_FILES.test.images),
    gzipSync(idx([n, 28, 28], pixels)),
  );
  await Deno.writeFile(join(dir, FASHION_MNIST_FILES.test.labels), gzipSync(idx([n], labels)));
  return dir;
}

Deno.test({
  name: "fashion-mnist: the installed test split matches the published dataset",
  ignore: !installed,
  fn: async () => {
    const test = await loadFashionMnist({ split: "test", dir: FASHION_MNIST_DEFAULT_DIR });
    assert.equal(test.images.count, 10000);
    assert.deepEqual([test.images.height, test.images.width, test.images.channels], [28, 28, 1]);
    assert.equal(test.images.data.length, 10000 * 784);
    // first labels of t10k, as published: ankle boot, pullover, trouser, trouser, shirt, …
    assert.deepEqual(Array.from(test.labels.subarray(0, 10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    const perClass = new Array(10).fill(0);
    for (const label of test.labels) perClass[label]++;
    assert.deepEqual(perClass, new Array(10).fill(1000));
    assert.equal(test.captions[0], "a photo of an ankle boot");
    assert.equal(test.captions[2], "a photo of a pair of trousers");
    const few = await loadFashionMnist({ split: "test", limit: 5, dir: FASHION_MNIST_DEFAULT_DIR });
    assert.deepEqual(few.images.data, test.images.data.subarray(0, 5 * 784));
  },
});

Deno.test("fashion-mnist: IDX headers are parsed and checked", () => {
  const ok = parseIdx(idx([2, 2, 2], Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), {
    rank: 3,
    dims: [null, 2, 2],
  });
  assert.deepEqual(ok.dims, [2, 2, 2]);
  assert.deepEqual(Array.from(ok.data), [1, 2, 3, 4, 5, 6, 7, 8]);
  // images where labels were expected: magic 0x803 vs 0x801
  assert.throws(
    () => parseIdx(idx([1, 1, 1], Uint8Array.of(0)), { rank: 1 }, "x.idx"),
    /x\.idx is not a valid IDX file: magic number 0x00000803, expected 0x00000801/,
  );
  // float data (type byte 0x0d) is not unsigned bytes
  const floats = idx([1], Uint8Array.of(0, 0, 0, 0));
  floats[2] = 0x0d;
  assert.throws(() => parseIdx(floats, { rank: 1 }), /magic number 0x00000d01/);
  assert.throws(
    () => parseIdx(idx([1, 27, 28], new Uint8Array(27 * 28)), { rank: 3, dims: [null, 28, 28] }),
    /dimension 1 is 27, expected 28/,
  );
  assert.throws(
    () => parseIdx(idx([3], Uint8Array.of(1, 2)), { rank: 1 }),
    /3 bytes of data, the file has 2 \(truncated\)/,
  );
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 8, 3, 0, 0), { rank: 3 }), /truncated header/);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0), { rank: 1 }, "y.idx"), CorruptFileError);
});

Deno.test("fashion-mnist: dir option, then the environment variable, pick the folder", async () => {
  const dir = await fakeDataset(12);
  const previous = Deno.env.get(FASHION_MNIST_ENV);
  try {
    const byDir = await loadFashionMnist({ split: "test", dir });
    assert.equal(byDir.images.count, 12);
    assert.deepEqual(Array.from(byDir.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    assert.equal(byDir.images.data[3 * 784 + 400], 3);
    assert.equal(byDir.captions[9], fashionCaption(9));
    Deno.env.set(FASHION_MNIST_ENV, dir);
    assert.equal((await loadFashionMnist({ split: "test" })).images.count, 12);
  } finally {
    if (previous === undefined) Deno.env.delete(FASHION_MNIST_ENV);
    else Deno.env.set(FASHION_MNIST_ENV, previous);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fashion-mnist: missing and truncated files name the file and how to install", async () => {
  const dir = await fakeDataset(20);
  try {
    const imagesPath = join(dir, FASHION_MNIST_FILES.test.images);
    const good = await Deno.readFile(imagesPath);
    // a download cut short: the gzip stream ends early
    await Deno.writeFile(imagesPath, good.subarray(0, Math.floor(good.length / 2)));
    await assert.rejects(() => loadFashionMnist({ split: "test", dir }), (err: Error) => {
      assert.ok(err.message.includes(imagesPath), err.message);
      assert.match(err.message, /truncated/);
      assert.match(err.message, /apt-get install dataset-fashion-mnist/);
      return true;
    });
    // a complete gzip of a file that lost its tail
    await Deno.writeFile(imagesPath, gzipSync(idx([20, 28, 28], new Uint8Array(19 * 784))));
    await assert.rejects(() => loadFashionMnist({ split: "test", dir }), (err: Error) => {
      assert.ok(err.message.includes(imagesPath), err.message);
      assert.match(err.message, /15680 bytes of data, the file has 14896 \(truncated\)/);
      return true;
    });
    // images and labels disagree on N
    await Deno.writeFile(imagesPath, gzipSync(idx([19, 28, 28], new Uint8Array(19 * 784))));
    await assert.rejects(
      () => loadFashionMnist({ split: "test", dir }),
      (err: Error) =>
        err instanceof CorruptFileError &&
        err.path === join(dir, FASHION_MNIST_FILES.test.labels) &&
        /20 labels but 19 images/.test(err.message),
    );
    // the training files are not there at all
    await assert.rejects(() => loadFashionMnist({ split: "train", dir }), (err: Error) => {
      assert.ok(err.message.includes(join(dir, FASHION_MNIST_FILES.train.images)));
      assert.match(err.message, /is missing/);
      assert.match(err.message, new RegExp(`\\$${FASHION_MNIST_ENV}`));
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fashion-mnist: captions name each class", () => {
  assert.equal(fashionCaption(0), "a photo of a t-shirt");
  assert.equal(fashionCaption(8), "a photo of a bag");
  assert.throws(() => fashionCaption(10), RangeError);
});
