/**
 * Runs every notebook in notebooks/ headlessly on the Deno kernel (jupyter nbconvert --execute)
 * and checks what it displays: a cell that throws fails the test, and a cell carrying a
 * `// expect: <mime type>` comment must have produced an output of that type.
 * Executed copies are kept under data/notebooks_executed/ for inspection.
 *
 * The Deno 2.9 kernel's output socket drops messages while a large earlier one is still queued
 * (see lib/display/mod.ts, which keeps flushing after each output); that once cost this suite the
 * first plot of a notebook, whose 2.6 MB message carries the plotly bundle. As further margin,
 * nbclient waits up to two minutes (not its default 4 s) for outputs after a cell's reply, and a
 * notebook whose only fault is a missing output is run again, up to three times, with nbclient's
 * warnings in the failure message; a cell that throws fails at once.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const outDir = `${root}data/notebooks_executed`;

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

function sourceOf(cell: Cell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

const notebooks = [...Deno.readDirSync(`${root}notebooks`)]
  .filter((e) => e.isFile && e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();

Deno.test("there are notebooks to run", () => {
  assert.ok(notebooks.length > 0);
});

for (const name of notebooks) {
  Deno.test({
    name: `notebook ${name} runs headless and shows what it promises`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      let missing = "";
      for (let attempt = 1; attempt <= 3; attempt++) {
        missing = await runNotebook(name);
        if (missing === "") return;
        console.warn(`attempt ${attempt}: ${missing}`);
      }
      assert.fail(missing);
    },
  });
}

/** Executes one notebook; throws on a failed cell, returns a description of missing outputs. */
async function runNotebook(name: string): Promise<string> {
  await Deno.mkdir(outDir, { recursive: true });
  const { code, stderr } = await new Deno.Command("jupyter", {
    args: [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--ExecutePreprocessor.timeout=1200",
      "--ExecutePreprocessor.iopub_timeout=120",
      "--output-dir",
      outDir,
      `${root}notebooks/${name}`,
    ],
    env: { PYDEVD_DISABLE_FILE_VALIDATION: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `nbconvert failed on ${name}:\n${err.slice(-3000)}`);
  const executed = JSON.parse(await Deno.readTextFile(`${outDir}/${name}`)) as { cells: Cell[] };
  let checked = 0;
  const missing: string[] = [];
  executed.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const outputs = cell.outputs ?? [];
    const error = outputs.find((o) => o.output_type === "error");
    assert.equal(error, undefined, `cell ${i} of ${name} threw ${error?.ename}: ${error?.evalue}`);
    for (const m of sourceOf(cell).matchAll(/\/\/ expect: ([\w/+.-]+)/g)) {
      checked++;
      if (!outputs.some((o) => o.data && m[1] in o.data)) {
        missing.push(
          `cell ${i} promised ${m[1]} but showed ${
            JSON.stringify(outputs.map((o) => Object.keys(o.data ?? {})))
          }`,
        );
      }
    }
  });
  assert.ok(
    checked > 0,
    `${name} has no "// expect: <mime>" cells, so nothing it shows is checked`,
  );
  if (missing.length === 0) return "";
  const warnings = err.split("\n").filter((l) =>
    /warn|timeout|signature/i.test(l) && !/unstable/.test(l)
  );
  return `${name}: ${missing.join("; ")}${
    warnings.length ? `\nnbclient said: ${warnings.join(" | ")}` : ""
  }`;
}
