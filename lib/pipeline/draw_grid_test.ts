import assert from "node:assert/strict";
import sharp from "sharp";
import { initBackend, tf } from "../backend/mod.ts";
import { drawGrid, drawLabel } from "./mod.ts";

await initBackend();

Deno.test("drawLabel: rank, score and ✓ as asked; nothing for a missing score", () => {
  const row = {
    draws: tf.zeros([2, 4, 4, 3]) as tf.Tensor4D,
    scores: [0.91234, NaN],
    agrees: [true, false],
  };
  assert.equal(drawLabel(row, 0), "0.91 ✓");
  assert.equal(drawLabel(row, 0, true), "#1 0.912 ✓");
  assert.equal(drawLabel(row, 1), "");
  assert.equal(drawLabel(row, 1, true), "#2");
  assert.equal(drawLabel({ draws: row.draws }, 0), "");
  row.draws.dispose();
});

Deno.test("drawGrid: one line per row (lead cells first), wrapping at cols, no tensors left", async () => {
  const before = tf.memory().numTensors;
  const real = tf.ones([1, 8, 8, 3]) as tf.Tensor4D;
  const draws = tf.zeros([3, 8, 8, 3]) as tf.Tensor4D;
  const size = async (png: Uint8Array) => {
    const meta = await sharp(png).metadata();
    return [meta.width!, meta.height!];
  };
  const one = await size(
    await drawGrid([{ lead: [{ image: real, label: "a red circle" }], draws }]),
  );
  const two = await size(
    await drawGrid([
      { lead: [{ image: real, label: "a" }], draws },
      { draws },
    ]),
  );
  assert.equal(two[0], one[0], "the same 4 columns");
  assert.ok(two[1] > one[1] * 1.5, `a second line: ${one} → ${two}`);
  const wrapped = await size(await drawGrid([{ draws }], { cols: 2 }));
  assert.ok(wrapped[0] < one[0] && wrapped[1] > one[1] * 1.5, `${wrapped} wraps`);
  const small = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
  await assert.rejects(() => drawGrid([{ draws }, { draws: small }]), RangeError);
  await assert.rejects(() => drawGrid([]), RangeError);
  tf.dispose([real, draws, small]);
  assert.equal(tf.memory().numTensors, before);
});
