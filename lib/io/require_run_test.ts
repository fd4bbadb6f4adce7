import assert from "node:assert/strict";
import { readRunConfig, requireRun } from "./mod.ts";

/** A repository with one fake experiment that writes a run folder when called with --quick. */
async function fakeRepo(script: string): Promise<string> {
  const repo = await Deno.makeTempDir();
  await Deno.mkdir(`${repo}/experiments`);
  await Deno.writeTextFile(`${repo}/experiments/toy.ts`, script);
  return repo;
}

/** The fake experiment's script, as a caller names it. */
const TOY = ["experiments/toy.ts"];

const WRITES_RUN = `
const dir = "data/runs/toy/20261202T000000Z_quick";
await Deno.mkdir(dir, { recursive: true });
console.log("training", Deno.args.join(" "));
await Deno.writeTextFile(dir + "/config.json", JSON.stringify({ quick: Deno.args.includes("--quick") }));
`;

Deno.test("requireRun: with no run, prints the full command, runs --quick and returns its folder", async () => {
  const repo = await fakeRepo(WRITES_RUN);
  try {
    const lines: string[] = [];
    const dir = await requireRun("toy", { repo, command: TOY, print: (l) => lines.push(l) });
    assert.equal(dir, `${repo}/data/runs/toy/20261202T000000Z_quick`);
    assert.deepEqual(await readRunConfig(dir), { quick: true });
    assert.match(lines[0], /full run is `deno run -A experiments\/toy\.ts`/);
    assert.match(lines[0], /`deno run -A experiments\/toy\.ts --quick`/);
    assert.ok(lines.includes("  training --quick"), lines.join("\n"));
    // A second call finds the run and runs nothing.
    const again: string[] = [];
    assert.equal(await requireRun("toy", { repo, command: TOY, print: (l) => again.push(l) }), dir);
    assert.deepEqual(again, []);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});

Deno.test("requireRun: a failing fallback or one that writes no run is an error", async () => {
  const failing = await fakeRepo('console.error("bad data"); Deno.exit(3);');
  const silent = await fakeRepo('console.log("did nothing");');
  try {
    await assert.rejects(
      () => requireRun("toy", { repo: failing, command: TOY, print: () => {} }),
      /--quick failed \(exit 3\); its last lines:\nbad data/,
    );
    await assert.rejects(
      () => requireRun("toy", { repo: silent, command: TOY, print: () => {} }),
      /ended but wrote no run under .*data\/runs\/toy/,
    );
  } finally {
    await Deno.remove(failing, { recursive: true });
    await Deno.remove(silent, { recursive: true });
  }
});
