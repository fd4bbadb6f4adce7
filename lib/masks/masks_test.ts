import assert from "node:assert/strict";
import {
  causalMask,
  columnMask,
  columnTransposedMask,
  convMask,
  layerMaskKinds,
  MASK_KINDS,
  maskFor,
  maskFromAscii,
  type MaskKind,
  maskToAscii,
  permuteMask,
  rowMask,
  transposeImagePermutation,
} from "./masks.ts";
import { figure11Panels } from "./panels.ts";

const TEXT_LENGTHS = [0, 1, 3, 6, 17];
const GRID_SIZES = [1, 2, 3, 4, 5, 8, 11];
const KERNELS = [1, 3, 5, 11];

/** Every (kind, T, n, k) the property tests sweep; k only varies for conv. */
function* cases(): Generator<{ kind: MaskKind; T: number; n: number; k: number }> {
  for (const T of TEXT_LENGTHS) {
    for (const n of GRID_SIZES) {
      for (const kind of MASK_KINDS) {
        for (const k of kind === "conv" ? KERNELS : [11]) yield { kind, T, n, k };
      }
    }
  }
}

/** The image keys (raster indices) image query a may attend. */
function imageKeys(mask: Uint8Array, T: number, n: number, a: number): number[] {
  const L = T + n * n;
  const keys: number[] = [];
  for (let b = 0; b < n * n; b++) if (mask[(T + a) * L + T + b]) keys.push(b);
  return keys;
}

Deno.test("every mask is causal, keeps its diagonal, text→text causal, image→text all on", () => {
  let checked = 0;
  for (const { kind, T, n, k } of cases()) {
    const mask = maskFor(kind, T, n, k);
    const L = T + n * n;
    assert.equal(mask.length, L * L);
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        const v = mask[i * L + j];
        const where = `${kind} T=${T} n=${n} k=${k} [${i}][${j}]`;
        assert.ok(v === 0 || v === 1, where);
        if (j > i) assert.equal(v, 0, `not causal: ${where}`);
        if (j === i) assert.equal(v, 1, `diagonal off: ${where}`);
        if (i < T && j <= i) assert.equal(v, 1, `text→text not the causal triangle: ${where}`);
        if (i >= T && j < T) assert.equal(v, 1, `image→text masked: ${where}`);
      }
    }
    checked++;
  }
  assert.ok(checked > 200);
});

Deno.test("dense is the causal mask and maskFor dispatches on the kind", () => {
  for (const T of TEXT_LENGTHS) {
    for (const n of GRID_SIZES) {
      const L = T + n * n;
      const dense = maskFor("dense", T, n);
      for (let i = 0; i < L; i++) {
        for (let j = 0; j < L; j++) assert.equal(dense[i * L + j], j <= i ? 1 : 0);
      }
      assert.deepEqual(dense, causalMask(T, n));
      assert.deepEqual(maskFor("row", T, n), rowMask(T, n));
      assert.deepEqual(maskFor("column", T, n), columnMask(T, n));
      assert.deepEqual(maskFor("column-transposed", T, n), columnTransposedMask(T, n));
      assert.deepEqual(maskFor("conv", T, n, 3), convMask(T, n, 3));
    }
  }
});

Deno.test("row mask: n + 1 keys in the interior, reaching the same column of the previous row", () => {
  for (const T of TEXT_LENGTHS) {
    for (const n of GRID_SIZES) {
      const mask = rowMask(T, n);
      for (let a = 0; a < n * n; a++) {
        const keys = imageKeys(mask, T, n, a);
        assert.equal(keys.length, Math.min(a, n) + 1, `T=${T} n=${n} a=${a}`);
        assert.equal(keys[keys.length - 1], a); // contiguous run ending at the query
        assert.equal(keys[0], Math.max(0, a - n));
        for (let m = 1; m < keys.length; m++) assert.equal(keys[m], keys[m - 1] + 1);
        if (a >= n) {
          // the earliest key is the query's own column one row up
          const [r, c] = [Math.floor(a / n), a % n];
          assert.deepEqual([Math.floor(keys[0] / n), keys[0] % n], [r - 1, c]);
        }
      }
    }
  }
});

Deno.test("column mask: ⌊a/n⌋ + 1 keys, all in the query's column at or above its row", () => {
  for (const T of TEXT_LENGTHS) {
    for (const n of GRID_SIZES) {
      const mask = columnMask(T, n);
      for (let a = 0; a < n * n; a++) {
        const [r, c] = [Math.floor(a / n), a % n];
        const expected: number[] = [];
        for (let rk = 0; rk <= r; rk++) expected.push(rk * n + c);
        assert.deepEqual(imageKeys(mask, T, n, a), expected, `T=${T} n=${n} a=${a}`);
        assert.equal(expected.length, Math.floor(a / n) + 1);
      }
    }
  }
});

Deno.test("conv mask: h·k + h + 1 interior keys, a causal k×k neighbourhood away from edges", () => {
  for (const T of [0, 3]) {
    for (const n of GRID_SIZES) {
      for (const k of KERNELS) {
        const h = (k - 1) / 2;
        const mask = convMask(T, n, k);
        for (let a = 0; a < n * n; a++) {
          const keys = imageKeys(mask, T, n, a);
          const where = `T=${T} n=${n} k=${k} a=${a}`;
          // every key's offset decomposes as dr·n + dc with the contract's bounds
          for (const b of keys) {
            const d = a - b;
            let ok = false;
            for (let dr = 0; dr <= h; dr++) {
              const dc = d - dr * n;
              if (Math.abs(dc) <= h && (dr > 0 || dc >= 0)) ok = true;
            }
            assert.ok(ok, `key ${b} outside the kernel: ${where}`);
          }
          if (n >= k && a >= h * n + h) assert.equal(keys.length, h * k + h + 1, where);
          // Away from the left/right edges (no wrap-around), the keys are the spatial causal
          // neighbourhood: rows r−h…r, columns c−h…c+h, the query's own row only up to c.
          const [r, c] = [Math.floor(a / n), a % n];
          if (c >= h && c + h < n) {
            const expected: number[] = [];
            for (let rk = Math.max(0, r - h); rk <= r; rk++) {
              for (let ck = c - h; ck <= (rk === r ? c : c + h); ck++) expected.push(rk * n + ck);
            }
            assert.deepEqual(keys, expected, where);
          }
        }
      }
    }
  }
  // The paper's 11×11 kernel: 61 image keys for an interior query of a 32×32 grid.
  const mask = convMask(0, 32);
  assert.equal(imageKeys(mask, 0, 32, 20 * 32 + 16).length, 61);
});

Deno.test("conv with k = 1 keeps only the diagonal; wrap-around reaches the previous row's end", () => {
  const T = 2, n = 4, L = T + n * n;
  const mask = convMask(T, n, 1);
  for (let a = 0; a < n * n; a++) assert.deepEqual(imageKeys(mask, T, n, a), [a]);
  // Query (1, 0) with a 3×3 kernel sees (0, 3) through the raster wrap: offset 1·4 − 1 = 3.
  const conv3 = convMask(T, n, 3);
  assert.deepEqual(imageKeys(conv3, T, n, 4), [0, 1, 3, 4]);
  assert.equal(conv3.length, L * L);
});

/** P·M·Pᵀ by explicit matrix products with the permutation matrix P[perm[i]][i] = 1. */
function conjugateByPermutation(mask: Uint8Array, perm: Int32Array): Uint8Array {
  const L = perm.length;
  const P = new Float64Array(L * L);
  for (let i = 0; i < L; i++) P[perm[i] * L + i] = 1;
  const matmul = (A: ArrayLike<number>, B: ArrayLike<number>, transposeB: boolean) => {
    const out = new Float64Array(L * L);
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        let sum = 0;
        for (let m = 0; m < L; m++) {
          sum += A[i * L + m] * (transposeB ? B[j * L + m] : B[m * L + j]);
        }
        out[i * L + j] = sum;
      }
    }
    return out;
  };
  const result = matmul(matmul(P, mask, false), P, true);
  return Uint8Array.from(result);
}

Deno.test("column-transposed = P·column·Pᵀ and is block-diagonal lower-triangular", () => {
  for (const T of [0, 1, 6]) {
    for (const n of [1, 2, 3, 4, 5, 7]) {
      const perm = transposeImagePermutation(T, n);
      const transposed = columnTransposedMask(T, n);
      assert.deepEqual(transposed, conjugateByPermutation(columnMask(T, n), perm), `T=${T} n=${n}`);
      assert.deepEqual(transposed, permuteMask(columnMask(T, n), perm));
      for (let p = 0; p < n * n; p++) {
        const block = Math.floor(p / n);
        const expected: number[] = [];
        for (let q = block * n; q <= p; q++) expected.push(q);
        assert.deepEqual(imageKeys(transposed, T, n, p), expected);
      }
    }
  }
});

Deno.test("transposeImagePermutation fixes text, transposes the grid and is its own inverse", () => {
  for (const T of TEXT_LENGTHS) {
    for (const n of GRID_SIZES) {
      const perm = transposeImagePermutation(T, n);
      assert.equal(perm.length, T + n * n);
      for (let i = 0; i < T; i++) assert.equal(perm[i], i);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) assert.equal(perm[T + r * n + c], T + c * n + r);
      }
      for (let i = 0; i < perm.length; i++) assert.equal(perm[perm[i]], i);
    }
  }
});

Deno.test("layer schedule: row, column, row, row …; 64 layers hold 47 row, 16 column, 1 conv", () => {
  const kinds = layerMaskKinds(64);
  assert.equal(kinds.length, 64);
  assert.deepEqual(kinds.slice(0, 4), ["row", "column", "row", "row"]);
  assert.deepEqual(kinds.slice(4, 8), ["row", "column", "row", "row"]);
  const count = (kind: string) => kinds.filter((k) => k === kind).length;
  assert.deepEqual([count("row"), count("column"), count("conv")], [47, 16, 1]);
  assert.equal(kinds[63], "conv");
  kinds.forEach((kind, index) => {
    const layer = index + 1;
    if (layer < 64) assert.equal(kind, (layer - 2) % 4 === 0 ? "column" : "row", `layer ${layer}`);
  });
  assert.deepEqual(layerMaskKinds(1), ["conv"]);
  assert.deepEqual(layerMaskKinds(2), ["row", "conv"]);
  assert.deepEqual(layerMaskKinds(3), ["row", "column", "conv"]);
});

Deno.test("Figure 11 panels match the ASCII fixtures in testdata/", async () => {
  const files = ["row", "column", "column_transposed", "conv"];
  const panels = figure11Panels();
  assert.equal(panels.length, 4);
  for (const [index, panel] of panels.entries()) {
    const url = new URL(`./testdata/figure11_${files[index]}.txt`, import.meta.url);
    const text = await Deno.readTextFile(url);
    assert.equal(maskToAscii(panel.mask) + "\n", text, `panel ${panel.label}`);
    assert.deepEqual(maskFromAscii(text), panel.mask);
  }
});

Deno.test("maskToAscii and maskFromAscii round-trip and reject malformed text", () => {
  const mask = convMask(3, 5, 3);
  assert.deepEqual(maskFromAscii(maskToAscii(mask)), mask);
  assert.throws(() => maskFromAscii("#.\n#"), RangeError);
  assert.throws(() => maskFromAscii("#x\n##"), RangeError);
  assert.throws(() => maskToAscii(new Uint8Array(3)), RangeError);
});

Deno.test("bad sizes, kernels, kinds and permutations throw with what was expected", () => {
  for (const build of [causalMask, rowMask, columnMask, columnTransposedMask, convMask]) {
    assert.throws(() => build(-1, 4), /T must be an integer ≥ 0, got -1/);
    assert.throws(() => build(1.5, 4), RangeError);
    assert.throws(() => build(6, 0), /n must be an integer ≥ 1, got 0/);
    assert.throws(() => build(6, 2.5), RangeError);
    assert.throws(() => build(6, NaN), RangeError);
    assert.throws(() => transposeImagePermutation(-2, 4), RangeError);
  }
  for (const kernel of [0, -1, 2, 4, 3.5, NaN]) {
    assert.throws(() => convMask(6, 4, kernel), /odd integer ≥ 1/);
  }
  assert.throws(() => maskFor("diagonal" as MaskKind, 6, 4), TypeError);
  assert.throws(() => layerMaskKinds(0), RangeError);
  assert.throws(() => layerMaskKinds(2.5), RangeError);
  assert.throws(() => permuteMask(new Uint8Array(9), new Int32Array(4)), RangeError);
});
