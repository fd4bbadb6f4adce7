/**
 * Every `@example` of lib/, experiments/ and bench/ type-checks against the code at HEAD
 * (`deno check --doc`): an example that imports a name its module no longer exports, or calls a
 * function with options it no longer takes, fails here instead of in a reader's editor.
 */
import assert from "node:assert/strict";
import { run } from "./_run.ts";

Deno.test("every @example type-checks (deno check --doc lib/ experiments/ bench/)", async () => {
  const out = await run("deno", ["check", "--doc", "lib/", "experiments/", "bench/"]);
  const errors = out.text.split("\n").filter((l) => /ERROR|error:|^\s+at file:/.test(l));
  assert.equal(out.code, 0, errors.slice(0, 20).join("\n"));
});

Deno.test("negative control: a stale import in an @example fails deno check --doc", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.ts`, "/** @module */\nexport const one = 1;\n");
    await Deno.writeTextFile(
      `${dir}/b.ts`,
      [
        "/**",
        " * @example",
        " * ```ts",
        ' * import { two } from "./a.ts";',
        " * console.log(two);",
        " * ```",
        " */",
        "export const b = 2;",
        "",
      ].join("\n"),
    );
    const out = await run("deno", ["check", "--doc", `${dir}/b.ts`]);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /has no exported member 'two'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
