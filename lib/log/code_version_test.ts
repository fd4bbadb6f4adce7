import assert from "node:assert/strict";
import { codeVersion, readCodeVersion } from "./code_version.ts";

async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=t", "-c", "user.email=t@t", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("readCodeVersion: a clean commit, then an edit, then a new file make the tree dirty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await git(dir, "init", "-q");
    await Deno.writeTextFile(`${dir}/a.ts`, "export const a = 1;\n");
    await Deno.writeTextFile(`${dir}/.gitignore`, "runs/\n");
    await git(dir, "add", ".");
    await git(dir, "commit", "-q", "-m", "first");
    // Ignored outputs (a run folder) and outputs kept in git under data/ (a figure a run
    // regenerates) do not make the code dirty.
    await Deno.mkdir(`${dir}/runs`);
    await Deno.writeTextFile(`${dir}/runs/x.csv`, "1\n");
    await Deno.mkdir(`${dir}/data/figures`, { recursive: true });
    await Deno.writeTextFile(`${dir}/data/figures/f.png`, "png\n");
    await git(dir, "add", "data");
    await git(dir, "commit", "-q", "-m", "figure");
    const head = await git(dir, "rev-parse", "HEAD");
    await Deno.writeTextFile(`${dir}/data/figures/f.png`, "png, redrawn\n");
    assert.deepEqual(await readCodeVersion(dir), { commit: head, dirty: false, changed: [] });
    await Deno.writeTextFile(`${dir}/a.ts`, "export const a = 2;\n");
    assert.deepEqual(await readCodeVersion(dir), { commit: head, dirty: true, changed: ["a.ts"] });
    await Deno.writeTextFile(`${dir}/b.ts`, "export const b = 1;\n");
    const both = await readCodeVersion(dir);
    assert.deepEqual([both.dirty, both.changed.sort()], [true, ["a.ts", "b.ts"]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCodeVersion outside a checkout says why instead of throwing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const version = await readCodeVersion(dir);
    assert.equal(version.commit, null);
    assert.equal(version.dirty, null);
    assert.match(version.unknown ?? "", /git failed: .*not a git repository/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("codeVersion is this checkout's HEAD, read once per process", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const version = await codeVersion();
  assert.equal(version.commit, await git(root, "rev-parse", "HEAD"));
  assert.equal(typeof version.dirty, "boolean");
  assert.equal(await codeVersion(), version, "the same object: read once");
});
