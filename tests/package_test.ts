/**
 * dalle-lab as a package another project imports: deno.json's `exports` name every piece's face,
 * and a scratch project (its own deno.json in a temporary folder) reaches them through that map.
 *
 * The scratch project links this repository (`"links"`, so no registry is asked: JSR is out of
 * reach here), names it in its import map as `jsr:@dalle-lab/dalle-lab`, and is set up as a user's
 * would be: `deno cache` fetches the npm packages into Deno's global cache (`nodeModulesDir:
 * "none"`; this repository's own node_modules does not serve it), then it runs as a subprocess
 * with `--cached-only`, so nothing it needs is fetched later. The global cache is whatever
 * `DENO_DIR` names: CI empties it first, so a warm cache cannot hide a missing step. Only the
 * export map can resolve `dalle-lab/dvae`, and a private file the map does not list must not load,
 * so a missing or wrong entry fails here.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

/** Each face and one name only that face exports: a wrong target in the map loses the name. */
const FACE_MARKERS: Record<string, string> = {
  ".": "Pipeline",
  "./backend": "initBackend",
  "./io": "requireRun",
  "./nn": "AdamW",
  "./log": "parseFlags",
  "./display": "Report",
  "./data": "batches",
  "./judge": "createShapesJudge",
  "./tokenizer": "BpeTokenizer",
  "./masks": "maskFor",
  "./dvae": "createDvae",
  "./prior": "createPrior",
  "./rerank": "createReranker",
  "./powersgd": "PowerSGD",
  "./gradscale": "GradScaler",
  "./pipeline": "Pipeline",
};

/** The faces whose module `@example` the scratch project runs, as the package names them. */
const EXAMPLE_FACES = ["tokenizer", "masks"] as const;

async function readExports(): Promise<Record<string, string>> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  assert.match(config.name, /^@[a-z0-9-]+\/[a-z0-9-]+$/, "a scoped package name");
  assert.match(config.version, /^\d+\.\d+\.\d+$/, "a semver version");
  return config.exports;
}

/** The first `ts` block after `@example` in a face's module doc, with its JSDoc stars removed. */
async function moduleExample(face: string): Promise<string> {
  const source = await Deno.readTextFile(`${root}lib/${face}/mod.ts`);
  const doc = source.slice(0, source.indexOf("@module"));
  const block = doc.match(/@example\s*\n\s*\* ```ts\n([\s\S]*?)\n\s*\* ```/);
  if (!block) throw new Error(`lib/${face}/mod.ts: no @example block in its module doc`);
  return block[1].split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n");
}

/** What a `console.log(...); // "text"` line of an example documents it prints. */
function documentedOutputs(example: string): string[] {
  return [...example.matchAll(/console\.log\(.*\);\s*\/\/ "([^"]*)"/g)].map((m) => m[1]);
}

async function runScratch(
  dir: string,
  main: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  await Deno.writeTextFile(`${dir}/main.ts`, main);
  const text = new TextDecoder();
  // What a user does once in a new project: fetch what main.ts imports (npm packages included).
  const cache = await new Deno.Command(Deno.execPath(), {
    args: ["cache", "--quiet", "main.ts"],
    cwd: dir,
    env: { NO_COLOR: "1" },
  }).output();
  if (!cache.success) {
    return { code: cache.code, stdout: "", stderr: `deno cache: ${text.decode(cache.stderr)}` };
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--cached-only", "main.ts"],
    cwd: dir,
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function scratchProject(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dalle_lab_package_" });
  const config = {
    links: [root],
    imports: { "dalle-lab": "jsr:@dalle-lab/dalle-lab@^0.1.0" },
    nodeModulesDir: "none",
    lock: false,
  };
  await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config, null, 2));
  return dir;
}

Deno.test("deno.json exports every piece's face and nothing else", async () => {
  const exports = await readExports();
  const pieces: string[] = [];
  for await (const entry of Deno.readDir(`${root}lib`)) {
    if (!entry.isDirectory) continue;
    try {
      await Deno.stat(`${root}lib/${entry.name}/mod.ts`);
      pieces.push(`./${entry.name}`);
    } catch {
      // a folder without a face is not a piece
    }
  }
  assert.deepEqual(Object.keys(exports).sort(), [".", ...pieces].sort());
  for (const piece of pieces) assert.equal(exports[piece], `./lib/${piece.slice(2)}/mod.ts`);
  assert.deepEqual(Object.keys(FACE_MARKERS).sort(), Object.keys(exports).sort());
});

Deno.test("a scratch project imports every face through the export map and runs two @examples", async () => {
  const dir = await scratchProject();
  try {
    const specifiers = Object.keys(FACE_MARKERS).map((key) =>
      key === "." ? "dalle-lab" : `dalle-lab/${key.slice(2)}`
    );
    const examples = await Promise.all(EXAMPLE_FACES.map(moduleExample));
    for (const [i, face] of EXAMPLE_FACES.entries()) {
      const rewritten = examples[i].replaceAll(`"./mod.ts"`, `"dalle-lab/${face}"`);
      assert.notEqual(rewritten, examples[i], `${face}'s example imports its face`);
      await Deno.writeTextFile(`${dir}/${face}_example.ts`, rewritten);
    }
    const main = [
      `const markers = ${JSON.stringify(Object.values(FACE_MARKERS))};`,
      `const faces = await Promise.all([${specifiers.map((s) => `import("${s}")`).join(", ")}]);`,
      `console.log(JSON.stringify(faces.map((face, i) => typeof face[markers[i]])));`,
      ...EXAMPLE_FACES.map((face) => `await import("./${face}_example.ts");`),
    ].join("\n");
    const { code, stdout, stderr } = await runScratch(dir, main);
    assert.equal(code, 0, `the scratch project failed:\n${stderr}`);
    const [kinds, ...printed] = stdout.split("\n");
    assert.deepEqual(JSON.parse(kinds), specifiers.map(() => "function"), `from ${specifiers}`);
    const expected = examples.flatMap(documentedOutputs);
    assert.ok(expected.length >= EXAMPLE_FACES.length, "each example documents an output");
    for (const line of expected) assert.ok(printed.includes(line), `"${line}" in:\n${stdout}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a scratch project cannot reach a private file the export map does not list", async () => {
  const dir = await scratchProject();
  try {
    const { code, stderr } = await runScratch(dir, `import "dalle-lab/masks/masks.ts";\n`);
    assert.notEqual(code, 0, "an unlisted path must not resolve");
    assert.match(stderr, /Unknown export .\.\/masks\/masks\.ts/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
