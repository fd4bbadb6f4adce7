/**
 * The command line as a person meets it: every entry point answers `--help` (its question, one
 * line per flag with type, default and meaning, an example) with exit status 0 before any backend
 * starts; bad flags and bad values are one line on stderr and exit status 2; an unexpected
 * failure keeps its stack. Entry points run as subprocesses, as a user runs them.
 */
import assert from "node:assert/strict";
import { DEFAULTS as DVAE_DEFAULTS } from "../experiments/dvae_train.ts";
import { DEFAULTS as PRIOR_SHAPES_DEFAULTS } from "../experiments/prior_shapes.ts";
import { DEMO_DEFAULTS } from "../experiments/demo.ts";
import { FIGURES_DEFAULTS } from "../experiments/figures.ts";
import { BENCH_DEFAULTS } from "../bench/main.ts";

const root = new URL("../", import.meta.url).pathname;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A <file> <args>` from the repository's root. */
async function run(file: string, ...args: string[]): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The flag rows of a help text, by flag name (`steps` for `  --steps  integer ≥ 1 ...`). */
function flagRows(help: string): Map<string, string> {
  const rows = help.split("\n").filter((l) => /^ {2}--\w/.test(l));
  return new Map(rows.map((l) => [/^ {2}--(\w+)/.exec(l)![1], l]));
}

/** Asserts a help text: question first, usage, one row per flag (and no other), an example. */
function assertHelp(ran: Ran, keys: string[]): Map<string, string> {
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stderr, "");
  const lines = ran.stdout.trimEnd().split("\n");
  assert.ok(lines[0].length > 20 && !lines[0].startsWith("Usage"), `question: ${lines[0]}`);
  assert.match(
    ran.stdout,
    /^Usage: deno run -A (experiments|bench)\/\w+\.ts .*\[--flag=value \.\.\.\]$/m,
  );
  assert.match(lines.at(-1)!, /^Example: (deno run -A experiments\/|deno task )/);
  const rows = flagRows(ran.stdout);
  const expected = [...keys, ...(keys.includes("backend") ? [] : ["backend"]), "help"];
  assert.deepEqual([...rows.keys()].sort(), expected.sort());
  for (const key of keys) {
    // name, type, default, meaning: at least four cells, the meaning a sentence.
    const cells = rows.get(key)!.trim().split(/\s{2,}/);
    assert.ok(cells.length >= 4, `row of --${key}: ${rows.get(key)}`);
    assert.match(cells.at(-1)!, /\w/, `meaning of --${key}`);
  }
  return rows;
}

const named: [string, Record<string, unknown>][] = [
  ["experiments/dvae_train.ts", DVAE_DEFAULTS],
  ["experiments/prior_shapes.ts", PRIOR_SHAPES_DEFAULTS],
  ["experiments/demo.ts", DEMO_DEFAULTS],
  ["experiments/figures.ts", FIGURES_DEFAULTS],
  ["bench/main.ts", BENCH_DEFAULTS],
];

Deno.test("--help of the main entry points: question, a row per flag with type, default, meaning", async () => {
  for (const [file, defaults] of named) {
    const rows = assertHelp(await run(file, "--help"), Object.keys(defaults));
    for (const [key, value] of Object.entries(defaults)) {
      const shown = Array.isArray(value) ? value.join(",") : value === "" ? '""' : String(value);
      assert.ok(rows.get(key)!.includes(`  ${shown}  `), `default of --${key} in ${file}`);
    }
  }
  const dvae = flagRows((await run("experiments/dvae_train.ts", "--help")).stdout);
  assert.match(dvae.get("steps")!, /--steps\s+integer ≥ 1\s+950\s+Optimiser steps/);
  assert.match(dvae.get("dataset")!, /fashion \| shapes \| folder\s+fashion\s/);
  const demo = (await run("experiments/demo.ts", "-h")).stdout;
  assert.match(demo, /^The main job \(`deno task demo`\): does the whole toolkit work end to end/);
});

Deno.test("every entry point of experiments/ and bench/ answers --help with exit 0 and a row per flag", async () => {
  const files: string[] = [];
  for (const folder of ["experiments", "bench"]) {
    for await (const e of Deno.readDir(`${root}${folder}`)) {
      if (!e.isFile || !e.name.endsWith(".ts") || e.name.startsWith("_")) continue;
      const source = await Deno.readTextFile(`${root}${folder}/${e.name}`);
      if (source.includes("import.meta.main")) files.push(`${folder}/${e.name}`);
    }
  }
  assert.ok(files.length >= 20, `found ${files.length} entry points`);
  // Two at a time (our machines have two cores): each is a Deno process that only parses its flags.
  const sorted = files.sort();
  const helps: Ran[] = [];
  for (let i = 0; i < sorted.length; i += 2) {
    helps.push(...await Promise.all(sorted.slice(i, i + 2).map((file) => run(file, "--help"))));
  }
  for (const [i, file] of sorted.entries()) {
    const ran = helps[i];
    assert.equal(ran.code, 0, `${file}: ${ran.stderr}`);
    const rows = flagRows(ran.stdout);
    // Help refuses (exit 1) a flag without JSDoc, so exit 0 means every flag has its line.
    assert.ok(rows.has("help") && rows.has("backend"), file);
    for (const [key, row] of rows) {
      if (key !== "help") assert.ok(row.trim().split(/\s{2,}/).length >= 3, `${file}: ${row}`);
    }
  }
});

Deno.test("a bad flag or value is one line on stderr and exit status 2", async () => {
  const cases: [string, string[], string][] = [
    [
      "experiments/dvae_train.ts",
      ["--steps=abc"],
      'error: --steps expects an integer ≥ 1, got "abc"',
    ],
    ["experiments/dvae_train.ts", ["--steps=0"], 'error: --steps expects an integer ≥ 1, got "0"'],
    [
      "experiments/dvae_train.ts",
      ["--dataset=mnist"],
      'error: --dataset expects one of fashion, shapes, folder, got "mnist"',
    ],
    ["experiments/prior_shapes.ts", ["--lr=-1"], 'error: --lr expects a number > 0, got "-1"'],
    ["experiments/demo.ts", ["--quick=maybe"], 'error: --quick expects true or false, got "maybe"'],
    ["experiments/figures.ts", ["--backend=tpu"], "error: --backend expects one of auto, "],
    ["experiments/figure11.ts", ["a", "b"], "error: expected at most one folder, got 2: a,b"],
    ["bench/main.ts", ["nope"], 'error: unknown benchmark "nope"; known: conv, '],
    [
      "bench/dvae.ts",
      ["--procs=1.5"],
      'error: --procs expects an integer ≥ 1, got "1.5"',
    ],
    ["experiments/zero_shot.ts", ["captions=3"], 'error: expected --key=value, got "captions=3"'],
    [
      "experiments/prior_shapes.ts",
      ["--rerankNearMisses=0"],
      "error: --rerankNearMissWeight 1 trains on near misses: give --rerankNearMisses ≥ 1",
    ],
    [
      "experiments/rerank_train.ts",
      ["--throughDvae=1.5"],
      "error: --throughDvae must be a share in [0, 1], got 1.5",
    ],
    [
      "experiments/prior_shapes.ts",
      ["--resume=lib"],
      'error: --resume=lib is not a run of "prior_shapes": it has no readable config.json',
    ],
  ];
  for (const [file, args, line] of cases) {
    const ran = await run(file, ...args);
    assert.equal(ran.code, 2, `${file} ${args}: ${ran.stderr}`);
    const lines = ran.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `${file} ${args}: ${ran.stderr}`);
    assert.ok(lines[0].startsWith(line), `${file} ${args}: ${lines[0]}`);
    assert.equal(ran.stdout, "");
  }
  const unknown = await run("experiments/rerank_train.ts", "--stepz=3");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown flag --stepz; known: trainCount, .*, backend\n$/);
});

Deno.test("an unexpected failure still prints its stack and exits 1", async () => {
  const fixture = "lib/log/testdata/flags_entry.ts";
  const ran = await run(fixture, "--dataset=shapes", "--steps=9");
  assert.equal(ran.code, 1);
  assert.match(ran.stderr, /TypeError: an unexpected failure, for the stack/);
  assert.match(ran.stderr, /\n\s+at .*flags_entry\.ts:\d+:\d+/);
  const fine = await run(fixture, "--steps=2");
  assert.equal(fine.code, 0, fine.stderr);
  assert.equal(JSON.parse(fine.stdout).steps, 2);
});
