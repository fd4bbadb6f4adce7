/**
 * `deno task bench`: every benchmark of the toolkit, with the PyTorch peers run side by side in
 * the same process tree so that ratios compare like with like on this (noisy, shared) machine.
 *
 * Command: `deno task bench` (all), or `deno task bench conv dvae` (a subset by name).
 * Runtime: several minutes. Figures print as tables and are written to data/bench/<timestamp>.csv.
 */
import { writeCsv } from "../lib/log/mod.ts";

type Row = Record<string, number | string>;

const BENCHES: Record<string, { file: string; fn: string }> = {
  conv: { file: "./bench_backend.ts", fn: "benchBackend" },
  data: { file: "./bench_data.ts", fn: "benchData" },
  tokenizer: { file: "./bench_tokenizer.ts", fn: "benchTokenizer" },
  dvae: { file: "./bench_dvae.ts", fn: "benchDvae" },
  prior: { file: "./bench_prior.ts", fn: "benchPrior" },
  powersgd: { file: "./bench_powersgd.ts", fn: "benchPowerSgd" },
};

const wanted = Deno.args.filter((a) => !a.startsWith("--"));
for (const name of wanted) {
  if (!(name in BENCHES)) {
    throw new TypeError(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(", ")}`);
  }
}
const all: Row[] = [];
for (const [name, { file, fn }] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n== ${name} ==`);
  const mod = await import(file) as Record<string, () => Promise<Row[]>>;
  const started = performance.now();
  const rows = await mod[fn]();
  console.table(rows);
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  all.push(...rows.map((r) => ({ suite: name, ...r })));
}
const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
await writeCsv(`data/bench/${stamp}.csv`, all);
console.log(`\nwrote data/bench/${stamp}.csv`);
