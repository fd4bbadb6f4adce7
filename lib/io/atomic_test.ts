import assert from "node:assert/strict";
import { exists, existsSync, writeFileAtomic, writeFileAtomicSync } from "./mod.ts";

Deno.test("writeFileAtomic creates parents, writes text and bytes, leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/a/b/c.txt`, "héllo");
    assert.equal(await Deno.readTextFile(`${dir}/a/b/c.txt`), "héllo");
    await writeFileAtomic(`${dir}/a/b/c.txt`, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await Deno.readFile(`${dir}/a/b/c.txt`), new Uint8Array([1, 2, 3]));
    writeFileAtomicSync(`${dir}/s/t.txt`, "sync");
    assert.equal(await Deno.readTextFile(`${dir}/s/t.txt`), "sync");
    writeFileAtomicSync(`${dir}/s/t.txt`, "");
    assert.equal(await Deno.readTextFile(`${dir}/s/t.txt`), "");
    const names = [...Deno.readDirSync(`${dir}/a/b`), ...Deno.readDirSync(`${dir}/s`)];
    assert.deepEqual(names.map((e) => e.name).sort(), ["c.txt", "t.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed atomic write throws, keeps the target and removes its temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A folder in the target's place: the rename fails after the data was written.
    await Deno.mkdir(`${dir}/target/inside`, { recursive: true });
    await assert.rejects(() => writeFileAtomic(`${dir}/target`, "x"));
    assert.throws(() => writeFileAtomicSync(`${dir}/target`, "x"));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["target"]);
    assert.ok((await Deno.stat(`${dir}/target`)).isDirectory);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a concurrent reader sees the old or the new content, never half", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.txt`;
  const lengthChars = 1 << 20;
  const versions = ["a", "b", "c"].map((c) => c.repeat(lengthChars));
  try {
    await writeFileAtomic(path, versions[0]);
    let done = false;
    let reads = 0;
    const reader = (async () => {
      while (!done) {
        const text = await Deno.readTextFile(path);
        assert.ok(versions.includes(text), `torn read: ${text.length} chars, ${text[0]}…`);
        reads++;
      }
    })();
    for (let i = 1; i <= 30; i++) {
      if (i % 2) await writeFileAtomic(path, versions[i % 3]);
      else writeFileAtomicSync(path, versions[i % 3]);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    done = true;
    await reader;
    assert.ok(reads > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exists: true for files and folders, false only when not found", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "x");
    assert.equal(await exists(dir), true);
    assert.equal(await exists(`${dir}/f`), true);
    assert.equal(await exists(`${dir}/nope`), false);
    assert.equal(await exists(`${dir}/f/child`), false, "below a file: not a directory");
    assert.equal(existsSync(`${dir}/f`), true);
    assert.equal(existsSync(`${dir}/nope`), false);
    assert.equal(await exists(new URL(`file://${dir}/f`)), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exists rethrows errors other than not found", async () => {
  // A path with a NUL byte is invalid, not missing: it must not read as "does not exist".
  await assert.rejects(() => exists("bad\0path"));
  assert.throws(() => existsSync("bad\0path"));
});

Deno.test("lib/io imports nothing outside lib/io (no TensorFlow, no lib/nn, no arquero)", async () => {
  const here = new URL("./", import.meta.url);
  for await (const entry of Deno.readDir(here)) {
    if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, here));
    for (const m of text.matchAll(/^(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)) {
      assert.match(m[1], /^\.\/[\w.]+\.ts$/, `${entry.name} imports ${m[1]}`);
    }
  }
});
