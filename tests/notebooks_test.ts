/**
 * Runs every notebook in notebooks/ headlessly on the Deno kernel (jupyter nbconvert --execute)
 * and checks what it displays: a cell that throws fails the test, and a cell carrying a
 * `// expect: <mime type>` comment must have produced an output of that type.
 * Executed copies are kept under data/notebooks_executed/ for inspection.
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
      await Deno.mkdir(outDir, { recursive: true });
      const { code, stderr } = await new Deno.Command("jupyter", {
        args: [
          "nbconvert",
          "--to",
          "notebook",
          "--execute",
          "--ExecutePreprocessor.timeout=1200",
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
      executed.cells.forEach((cell, i) => {
        if (cell.cell_type !== "code") return;
        const outputs = cell.outputs ?? [];
        const error = outputs.find((o) => o.output_type === "error");
        assert.equal(error, undefined, `cell ${i} of ${name} threw ${error?.ename}: ${error?.evalue}`);
        for (const m of sourceOf(cell).matchAll(/\/\/ expect: ([\w/+.-]+)/g)) {
          const mime = m[1];
          const found = outputs.some((o) => o.data && mime in o.data);
          assert.ok(found, `cell ${i} of ${name} promised ${mime} but showed ${JSON.stringify(outputs.map((o) => Object.keys(o.data ?? {})))}`);
          checked++;
        }
      });
      assert.ok(checked > 0, `${name} has no "// expect: <mime>" cells, so nothing it shows is checked`);
    },
  });
}
