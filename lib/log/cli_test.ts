import assert from "node:assert/strict";
import { readModuleDocs } from "./_flag_docs.ts";
import { formatHelp, moduleDocs } from "./cli.ts";
import { parseFlags, UsageError } from "./mod.ts";

/** Whether `fn` throws a `Class` whose message holds `text`. */
function throwsWith(fn: () => unknown, Class: new (message: string) => Error, text: string): void {
  assert.throws(fn, (e) => e instanceof Class && (e as Error).message.includes(text));
}

const entry = new URL("./testdata/flags_entry.ts", import.meta.url);
const { DEFAULTS } = await import(entry.href);

Deno.test("the docs of each key come from the JSDoc above it in the defaults literal", () => {
  const docs = moduleDocs(entry, Object.keys(DEFAULTS));
  assert.equal(docs.question, "Experiment: does a toy entry point document its flags?");
  assert.equal(docs.example, "deno run -A lib/log/testdata/flags_entry.ts --steps=3");
  assert.equal(docs.flags.get("steps")?.meaning, "Optimiser steps.");
  assert.equal(docs.flags.get("steps")?.accepts?.min?.value, 1);
  assert.equal(
    docs.flags.get("temperatures")?.meaning,
    "Temperatures to sample at, over two lines.",
  );
  assert.deepEqual(docs.flags.get("dataset")?.accepts?.choices, ["fashion", "shapes"]);
  assert.equal(docs.flags.has("quoted-key"), false); // no JSDoc: help refuses (below)
  assert.equal(docs.flags.get("lr")?.accepts?.max?.inclusive, true);
});

Deno.test("a literal without every key is not the defaults", () => {
  const docs = readModuleDocs("const A = {\n  /** Doc. */\n  steps: 1,\n};\n", ["steps", "lr"]);
  assert.equal(docs.found, false);
  assert.equal(docs.flags.size, 0);
});

Deno.test("@accepts tags check values and name what was expected", () => {
  const parse = (args: string[]) => parseFlags(DEFAULTS, args, { module: entry });
  assert.equal(parse(["--steps=3", "--lr=1"]).steps, 3);
  throwsWith(() => parse(["--steps=abc"]), UsageError, 'expects an integer ≥ 1, got "abc"');
  throwsWith(() => parse(["--steps=0"]), UsageError, "integer ≥ 1");
  throwsWith(() => parse(["--steps=2.5"]), UsageError, "integer ≥ 1");
  throwsWith(() => parse(["--lr=0"]), UsageError, "number > 0 ≤ 1");
  throwsWith(() => parse(["--lr=1.5"]), UsageError, "number > 0 ≤ 1");
  throwsWith(() => parse(["--dataset=mnist"]), UsageError, "one of fashion, shapes");
  throwsWith(() => parse(["--temperatures=1,-1"]), UsageError, "list of number ≥ 0");
  assert.deepEqual(parse(["--temperatures=0,2"]).temperatures, [0, 2]);
});

Deno.test("help lists every flag once with its type, default and meaning, and refuses a bare one", () => {
  const { "quoted-key": _, ...documented } = DEFAULTS;
  const text = formatHelp(documented, {
    docs: moduleDocs(entry, Object.keys(DEFAULTS)),
    command: "deno run -A x.ts",
  });
  const lines = text.split("\n");
  assert.equal(lines[0], "Experiment: does a toy entry point document its flags?");
  for (const key of [...Object.keys(documented), "backend", "help"]) {
    assert.equal(lines.filter((l) => l.trimStart().startsWith(`--${key} `)).length, 1, key);
  }
  assert.match(text, /--steps\s+integer ≥ 1\s+10\s+Optimiser steps\.$/m);
  assert.match(text, /--temperatures\s+list of number ≥ 0\s+1,0.5\s+/);
  assert.match(text, /^Example: deno run -A lib\/log\/testdata\/flags_entry.ts --steps=3$/m);
  throwsWith(
    () => formatHelp(DEFAULTS, { docs: moduleDocs(entry, Object.keys(DEFAULTS)), command: "x" }),
    Error,
    "no JSDoc for flag(s) quoted-key",
  );
});
