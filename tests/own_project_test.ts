/**
 * A project of one's own that imports the toolkit gets the fast backend too: after `deno install`
 * there and the one documented command (`bash .ci/tensorflow --into=DIR`, which gives its copy of
 * tfjs-node the addon the toolkit's set-up compiled), `initBackend()` starts TensorFlow's runtime,
 * with the graph trace; before it, the same project falls back to wasm and says why.
 */
import assert from "node:assert/strict";
import { canTrace, initBackend } from "../lib/backend/mod.ts";
import { run } from "./_run.ts";

const root = new URL("../", import.meta.url).pathname;
// Only where this checkout's own set-up built the addon (CI's machines: see .ci/run).
const built = await initBackend("auto").then(() => canTrace()).catch(() => false);

Deno.test({
  name: "a project importing the toolkit: wasm with a warning, then tensorflow after --into",
  ignore: !built,
  sanitizeResources: false,
  fn: async () => {
    const project = await Deno.makeTempDir({ prefix: "dalle-lab-project-" });
    try {
      // As the README's "Using dalle-lab from another project" sets one up, with node_modules.
      await Deno.writeTextFile(
        `${project}/deno.json`,
        JSON.stringify({
          links: [root],
          imports: { "dalle-lab": "jsr:@dalle-lab/dalle-lab@^0.1.0" },
          nodeModulesDir: "auto",
        }),
      );
      await Deno.writeTextFile(
        `${project}/main.ts`,
        `import { canTrace, initBackend } from "dalle-lab/backend";\n` +
          `console.log("backend", await initBackend(), canTrace());\n`,
      );
      const install = await run("deno", ["install"], project);
      assert.equal(install.code, 0, install.text.slice(-2000));
      const before = await run("deno", ["run", "-A", "main.ts"], project);
      assert.equal(before.code, 0, before.text.slice(-2000));
      assert.match(before.text, /backend wasm false/);
      assert.match(before.text, /WARNING: backend "tensorflow" unavailable.*--into=/s);
      const setup = await run("bash", [`${root}.ci/tensorflow`, `--into=${project}`], root);
      assert.equal(setup.code, 0, setup.text);
      assert.match(setup.text, /tensorflow backend ready/);
      const after = await run("deno", ["run", "-A", "main.ts"], project);
      assert.equal(after.code, 0, after.text.slice(-2000));
      assert.match(after.text, /backend tensorflow true/);
    } finally {
      await Deno.remove(project, { recursive: true });
    }
  },
});
