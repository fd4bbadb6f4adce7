import assert from "node:assert/strict";
import { initBackend, tf } from "../backend/mod.ts";
import {
  FLOAT16,
  FLOAT32,
  FLOAT_1_6_9,
  formatByName,
  formatLimits,
  roundArrayToFormat,
  roundTensorToFormat,
  roundToFormat,
} from "./mod.ts";

await initBackend();

const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round;

Deno.test("float16 limits are IEEE binary16's", () => {
  const l = formatLimits(FLOAT16);
  assert.deepEqual(l, {
    bias: 15,
    maxFinite: 65504,
    overflowFrom: 65520,
    minNormal: 2 ** -14,
    minSubnormal: 2 ** -24,
    flushAtOrBelow: 2 ** -25,
  });
  // The formula also gives float32's known constants.
  const f32 = formatLimits(FLOAT32);
  assert.equal(f32.maxFinite, 3.4028234663852886e38);
  assert.equal(f32.minSubnormal, 2 ** -149);
});

Deno.test("float16 rounding at the thresholds: overflow, flush to zero, ties to even", () => {
  const cases: [number, number][] = [
    [65504, 65504],
    [65519.99, 65504], // below half an ulp over the max
    [65520, Infinity], // the tie goes to ∞ (65504's mantissa is odd)
    [-65520, -Infinity],
    [1e6, Infinity],
    [2 ** -14, 2 ** -14], // smallest normal
    [2 ** -24, 2 ** -24], // smallest subnormal
    [2 ** -25, 0], // exactly half of it: tie to even → 0
    [2 ** -25 * (1 + 2 ** -20), 2 ** -24], // just above half → rounds up
    [0.75 * 2 ** -24, 2 ** -24],
    [2.5 * 2 ** -24, 2 * 2 ** -24], // subnormal tie to even
    [3.5 * 2 ** -24, 4 * 2 ** -24],
    [1 + 2 ** -11, 1], // tie between 1 and 1 + 2⁻¹⁰ → even (1)
    [1 + 3 * 2 ** -11, 1 + 2 ** -9], // tie → even (1 + 2·2⁻¹⁰)
    [1 + 2 ** -11 + 2 ** -20, 1 + 2 ** -10],
    [0.1, 0.0999755859375],
    [-3.14159, -3.140625],
    [Infinity, Infinity],
  ];
  for (const [x, want] of cases) assert.equal(roundToFormat(x, FLOAT16), want, `round(${x})`);
  assert.ok(Number.isNaN(roundToFormat(NaN, FLOAT16)));
  assert.ok(Object.is(roundToFormat(-(2 ** -26), FLOAT16), -0), "sign of a flushed value kept");
});

Deno.test("generic rounding agrees with Math.f16round and Math.fround on random values", () => {
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const values: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const exponent = Math.floor(next() * 60) - 40; // 2⁻⁴⁰ … 2²⁰: subnormal, normal, overflow
    values.push((next() < 0.5 ? -1 : 1) * (1 + next()) * 2 ** exponent);
  }
  if (f16round) {
    for (const x of values) assert.equal(roundToFormat(x, FLOAT16), f16round(x), `x = ${x}`);
  }
  for (const x of values) {
    const big = x * 2 ** 110; // exercise float32 overflow and subnormals too
    assert.equal(roundToFormat(x, FLOAT32), Math.fround(x));
    assert.equal(roundToFormat(big, FLOAT32), Math.fround(big));
    assert.equal(roundToFormat(x * 2 ** -110, FLOAT32), Math.fround(x * 2 ** -110));
  }
  // The array path (which uses f16round for float16) gives the same numbers.
  const array = roundArrayToFormat(values, FLOAT16);
  values.forEach((x, i) => assert.equal(array[i], Math.fround(roundToFormat(x, FLOAT16))));
});

Deno.test("1-6-9 format: its own thresholds (max (2 − 2⁻⁹)·2³¹, smallest subnormal 2⁻³⁹)", () => {
  const l = formatLimits(FLOAT_1_6_9);
  assert.equal(l.bias, 31);
  assert.equal(l.maxFinite, (2 - 2 ** -9) * 2 ** 31);
  assert.equal(l.overflowFrom, (2 - 2 ** -9) * 2 ** 31 + 2 ** 21);
  assert.equal(l.minSubnormal, 2 ** -39);
  const r = (x: number) => roundToFormat(x, FLOAT_1_6_9);
  assert.equal(r(l.maxFinite), l.maxFinite);
  assert.equal(r(l.overflowFrom * (1 - 2 ** -30)), l.maxFinite);
  assert.equal(r(l.overflowFrom), Infinity);
  assert.equal(r(65520), 65536); // overflows float16, fine here
  assert.equal(r(2 ** -39), 2 ** -39);
  assert.equal(r(2 ** -40), 0);
  assert.equal(r(2 ** -40 * 1.001), 2 ** -39);
  assert.equal(r(1e-8), roundToFormat(1e-8, FLOAT_1_6_9));
  assert.ok(r(1e-8) > 0, "1e-8 underflows float16 but not 1-6-9");
  assert.equal(r(1 + 2 ** -10), 1); // one bit less mantissa than float16: a tie → even
  assert.equal(r(1 + 2 ** -9), 1 + 2 ** -9);
});

Deno.test("roundTensorToFormat keeps shape, rounds each entry, leaks nothing", () => {
  const x = tf.tensor2d([[1e-8, 70000], [0.1, -(2 ** -24)]]);
  const before = tf.memory().numTensors;
  const y = roundTensorToFormat(x, FLOAT16);
  assert.deepEqual(y.shape, [2, 2]);
  assert.deepEqual(Array.from(y.dataSync()), [
    0,
    Infinity,
    Math.fround(0.0999755859375),
    -(2 ** -24),
  ]);
  y.dispose();
  const z = roundTensorToFormat(x, FLOAT32);
  assert.deepEqual(Array.from(z.dataSync()), Array.from(x.dataSync()));
  z.dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

Deno.test("bad formats are rejected", () => {
  assert.throws(() => formatByName("bf16" as "float16"), RangeError);
  assert.throws(
    () => roundToFormat(1, { name: "f64", exponentBits: 11, mantissaBits: 52 }),
    RangeError,
  );
  assert.throws(() => roundArrayToFormat([1, 2], FLOAT16, new Float32Array(3)), RangeError);
});
