import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { pngIsBlank, pngSize, pngStats } from "./mod.ts";

async function solidPng(width: number, height: number, colour: string): Promise<Uint8Array> {
  return await sharp({ create: { width, height, channels: 3, background: colour } }).png()
    .toBuffer();
}

Deno.test("pngSize reads the header's size; other bytes are a TypeError", async () => {
  assert.deepEqual(pngSize(await solidPng(37, 5, "#123456")), { width: 37, height: 5 });
  const jpeg = await sharp({ create: { width: 2, height: 2, channels: 3, background: "#fff" } })
    .jpeg().toBuffer();
  assert.throws(() => pngSize(jpeg), TypeError);
  assert.throws(() => pngSize(new Uint8Array(3)), TypeError);
});

Deno.test("pngStats / pngIsBlank: one colour is blank, two colours are not", async () => {
  const white = await solidPng(6, 4, "#ffffff");
  assert.deepEqual(await pngStats(white), {
    width: 6,
    height: 4,
    distinctColours: 1,
    lumaStdDev: 0,
  });
  assert.equal(await pngIsBlank(white), true);
  const half = await sharp(await solidPng(6, 4, "#ffffff"))
    .composite([{ input: Buffer.from(await solidPng(3, 4, "#000000")), left: 0, top: 0 }])
    .png().toBuffer();
  const stats = await pngStats(half);
  assert.equal(stats.distinctColours, 2);
  assert.ok(Math.abs(stats.lumaStdDev - 127.5) < 1, `half black, half white: ${stats.lumaStdDev}`);
  assert.equal(await pngIsBlank(half), false);
});
