import assert from "node:assert/strict";
import { MASK_KINDS, maskFor, type MaskKind } from "./masks.ts";
import { sparsityStats, sparsityTable } from "./sparsity.ts";

function countOnes(mask: Uint8Array, from = 0, to = mask.length): number {
  let count = 0;
  for (let i = from; i < to; i++) count += mask[i];
  return count;
}

Deno.test("sparsityStats counts agree with the materialised masks", () => {
  for (const kind of MASK_KINDS) {
    for (const T of [0, 2, 6]) {
      for (const n of [1, 2, 3, 4, 7, 12]) {
        for (const k of kind === "conv" ? [1, 3, 5, 11] : [11]) {
          const mask = maskFor(kind, T, n, k);
          const L = T + n * n;
          const stats = sparsityStats(kind, T, n, k);
          const where = `${kind} T=${T} n=${n} k=${k}`;
          assert.equal(stats.streamLength, L);
          assert.equal(stats.allowedPairs, countOnes(mask), where);
          let imagePairs = 0;
          for (let i = T; i < L; i++) imagePairs += countOnes(mask, i * L + T, (i + 1) * L);
          assert.equal(stats.imagePairsAllowed, imagePairs, where);
          assert.equal(stats.causalPairs, countOnes(maskFor("dense", T, n)));
          assert.equal(stats.allowedFraction, stats.allowedPairs / (L * L));
          assert.equal(stats.costVsCausal, stats.allowedPairs / stats.causalPairs);
          assert.equal(stats.imageCostVsCausal, stats.imagePairsAllowed / stats.imagePairsCausal);
          assert.equal(stats.kernel, kind === "conv" ? k : null);
        }
      }
    }
  }
});

Deno.test("sparsityStats closed forms: dense costs 1, row and column sums, conv by hand", () => {
  const dense = sparsityStats("dense", 256, 32);
  assert.equal(dense.costVsCausal, 1);
  assert.equal(dense.imageCostVsCausal, 1);
  const row = sparsityStats("row", 256, 32);
  // Σ_a (min(a, n) + 1) over a < n²
  assert.equal(row.imagePairsAllowed, (32 * 33) / 2 + (1024 - 32) * 33);
  const column = sparsityStats("column", 256, 32);
  assert.equal(column.imagePairsAllowed, 32 * (32 * 33) / 2);
  assert.deepEqual(
    { ...sparsityStats("column-transposed", 256, 32), kind: "column" },
    column,
  );
  // 3×3 on 4×4, offsets {0, 1, 3, 4, 5}: queries 0…4 see 1, 2, 2, 3, 4 keys, the other 11 see 5.
  assert.equal(sparsityStats("conv", 0, 4, 3).imagePairsAllowed, 1 + 2 + 2 + 3 + 4 + 11 * 5);
  // The 11×11 conv: 61 keys from query 5·n + 5 on (the wrap-around keeps edge counts full).
  const conv = sparsityStats("conv", 0, 128);
  assert.ok(conv.meanImageKeysPerQuery < 61 && conv.meanImageKeysPerQuery > 61 * (1 - 645 / 16384));
});

Deno.test("sparsityTable lists every kind for every n, and bad input throws", () => {
  const rows = sparsityTable(16, [4, 8]);
  assert.equal(rows.length, 2 * MASK_KINDS.length);
  assert.deepEqual(rows.slice(0, MASK_KINDS.length).map((r) => r.kind), [...MASK_KINDS]);
  assert.deepEqual(rows.map((r) => r.gridSize), [4, 4, 4, 4, 4, 8, 8, 8, 8, 8]);
  assert.throws(() => sparsityStats("band" as MaskKind, 6, 4), TypeError);
  assert.throws(() => sparsityStats("row", -1, 4), RangeError);
  assert.throws(() => sparsityStats("row", 6, 0), RangeError);
  assert.throws(() => sparsityStats("conv", 6, 4, 2), RangeError);
});
