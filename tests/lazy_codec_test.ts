/**
 * What a pipeline loads: `Pipeline.load()` and `generate` never decode or encode an image file, so
 * they must not load sharp (a native module) at all. Run in a subprocess whose import map points
 * sharp at a module that throws when it is imported.
 */
import assert from "node:assert/strict";
import { type Ran, run } from "./_run.ts";

const root = new URL("../", import.meta.url);

/** Runs `source` with sharp mapped to a module that throws on import; returns exit code and output. */
async function withoutSharp(source: string): Promise<Ran> {
  const dir = await Deno.makeTempDir();
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
    await Deno.writeTextFile(
      `${dir}/throw.ts`,
      'throw new Error("sharp was loaded");\nexport default null;\n',
    );
    const imports = { ...config.imports, sharp: `${dir}/throw.ts` };
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ imports, nodeModulesDir: "manual" }),
    );
    await Deno.writeTextFile(`${dir}/probe.ts`, source);
    return await run("deno", ["run", "-A", "--config", `${dir}/deno.json`, `${dir}/probe.ts`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "Pipeline.load() and generate run without loading sharp",
  sanitizeResources: false,
  fn: async () => {
    const pipeline = new URL("lib/pipeline/mod.ts", root).href;
    const { code, text } = await withoutSharp(`
      import { Pipeline } from "${pipeline}";
      const p = await Pipeline.load();
      const g = await p.generate("a red circle", { n: 2, k: 1, seed: 1 });
      console.log("drew", g.images.shape.join("x"));
    `);
    assert.equal(code, 0, text.slice(-2000));
    assert.match(text, /drew 1x\d+x\d+x3/);
  },
});

Deno.test({
  name: "negative control: a module that uses sharp at import fails under the same map",
  sanitizeResources: false,
  fn: async () => {
    const display = new URL("lib/display/mod.ts", root).href;
    const { code, text } = await withoutSharp(`import "${display}";`);
    assert.notEqual(code, 0);
    assert.match(text, /sharp was loaded/);
  },
});
