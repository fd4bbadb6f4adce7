/**
 * Runs every notebook in notebooks/ headlessly on the Deno kernel (jupyter nbconvert --execute)
 * and checks what it displays:
 * - a cell that throws fails the test;
 * - a cell that calls one of lib/display's show helpers must have displayed what that helper
 *   shows (`showPng` an image, `showPlot`, `showHtml` and `showTable` HTML, `show` text, any
 *   other `show…` or `display` at least one output), non-empty, so a figure cell that prints a
 *   message instead of its figure fails without anyone having to annotate it;
 * - a cell carrying a `// expect: <mime type>` comment must have produced an output of that type;
 * - a cell carrying `// expect: progress` (a loop reporting through lib/log's Progress) must hold
 *   one live progress display (lib/display/progress.ts), updated in place to its last step
 *   (nbclient applies `update_display_data` to the saved output of its `display_id`), and fewer
 *   than {@link MAX_PROGRESS_LINES} lines of stdout/stderr, not a line per interval.
 * Executed copies are kept under data/notebooks_executed/ for inspection, and each notebook's
 * wall time is printed (on a fresh clone the first notebook that needs a run makes it, see
 * lib/io's requireRun).
 *
 * The Deno 2.9 kernel's output socket drops messages while a large earlier one is still queued
 * (see lib/display/mod.ts, which keeps flushing after each output); that once cost this suite the
 * first plot of a notebook, whose 2.6 MB message carries the plotly bundle. As further margin,
 * nbclient waits up to two minutes (not its default 4 s) for outputs after a cell's reply. Each
 * notebook runs once: a missing output fails it, with nbclient's warnings in the message.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const outDir = `${root}data/notebooks_executed`;

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string | string[];
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

/** What each show helper of lib/display must leave among a cell's outputs. */
const SHOWN_AS: Record<string, string> = {
  show: "text/plain",
  showHtml: "text/html",
  showTable: "text/html",
  showPng: "image/png",
  showPlot: "text/html",
};

/** The show helpers a cell's code calls (comments ignored; `x.show(…)` is not ours). */
function showCalls(source: string): string[] {
  const code = source.replace(/(^|[^:])\/\/.*$/gm, "$1");
  const names = [...code.matchAll(/(?<![.\w$])(show\w*|display)\s*\(/g)].map((m) => m[1]);
  return [...new Set(names)];
}

function shown(outputs: Output[], mime: string | null): boolean {
  return outputs.some((o) =>
    (o.output_type === "display_data" || o.output_type === "execute_result") &&
    o.data !== undefined &&
    Object.entries(o.data).some(([type, value]) =>
      (mime === null || type === mime) &&
      (typeof value === "string" ? value.length > 0 : value != null)
    )
  );
}

/** A progress cell may print a few lines (set-up messages), not one per interval. */
const MAX_PROGRESS_LINES = 10;

const joined = (value: unknown) => Array.isArray(value) ? value.join("") : String(value ?? "");

/** What is wrong with a `// expect: progress` cell's outputs, or null. */
function progressFault(outputs: Output[]): string | null {
  const lines = outputs.filter((o) => o.output_type === "stream")
    .flatMap((o) => joined(o.text).split("\n").filter((l) => l.trim() !== ""));
  if (lines.length >= MAX_PROGRESS_LINES) {
    return `printed ${lines.length} lines (the first: ${
      JSON.stringify(lines[0])
    }), not one display`;
  }
  const displays = outputs.map((o) => joined(o.data?.["text/html"]))
    .filter((html) => html.includes('class="dalle-lab-progress"'));
  if (displays.length !== 1) return `holds ${displays.length} progress displays, not 1`;
  const attr = (name: string) =>
    Number(new RegExp(`data-progress-${name}="(\\d+)"`).exec(displays[0])?.[1] ?? NaN);
  const [step, total, message] = [attr("step"), attr("total"), attr("message")];
  if (!(message > 0)) return "its progress display was never updated in place";
  if (!(step === total - 1)) return `its progress display ends at step ${step} of ${total}`;
  return null;
}

/**
 * The faults of an executed notebook's cells: throws (via assert) on a cell that raised, returns
 * one line per promised output that is missing, and how many promises it checked.
 */
function cellFaults(name: string, cells: Cell[]): { missing: string[]; checked: number } {
  let checked = 0;
  const missing: string[] = [];
  cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const outputs = cell.outputs ?? [];
    const error = outputs.find((o) => o.output_type === "error");
    assert.equal(error, undefined, `cell ${i} of ${name} threw ${error?.ename}: ${error?.evalue}`);
    const got = () => JSON.stringify(outputs.map((o) => Object.keys(o.data ?? {})));
    const source = sourceOf(cell);
    for (const helper of showCalls(source)) {
      checked++;
      const mime = SHOWN_AS[helper] ?? null;
      if (!shown(outputs, mime)) {
        missing.push(`cell ${i} calls ${helper} but showed no ${mime ?? "output"}: ${got()}`);
      }
    }
    for (const m of source.matchAll(/\/\/ expect: ([\w/+.-]+)/g)) {
      checked++;
      if (m[1] === "progress") {
        const fault = progressFault(outputs);
        if (fault !== null) missing.push(`cell ${i} promised live progress but ${fault}`);
      } else if (!shown(outputs, m[1])) {
        missing.push(`cell ${i} promised ${m[1]} but showed ${got()}`);
      }
    }
  });
  return { missing, checked };
}

Deno.test("notebook check: a show cell without its output is a fault, comments do not count", () => {
  const png = { output_type: "display_data", data: { "image/png": "iVBO", "text/plain": "[png]" } };
  const text = { output_type: "display_data", data: { "text/plain": "no run yet" } };
  const code = (source: string, outputs: Output[] = []): Cell => ({
    cell_type: "code",
    source,
    outputs,
  });
  const faults = (cells: Cell[]) => cellFaults("t", cells);
  assert.deepEqual(faults([code("await showPng(await imageGrid(x));", [png])]).missing, []);
  // A figure cell that printed a message instead of its figure.
  const [message] = faults([code("await showPng(grid);", [text])]).missing;
  assert.match(message, /cell 0 calls showPng but showed no image\/png/);
  // An empty figure is nothing shown.
  const empty = { output_type: "display_data", data: { "image/png": "" } };
  assert.equal(faults([code("await showPng(grid);", [empty])]).missing.length, 1);
  assert.equal(faults([code("await showPlot(fig);", [png])]).missing.length, 1);
  assert.equal(faults([code("await showSomethingNew(x);")]).missing.length, 1);
  assert.equal(faults([code("await display({});", [text])]).missing.length, 0);
  // Mentions in comments, imports and other objects' methods are not calls.
  const quiet = faults([
    code('import { show, showPlot } from "../lib/display/mod.ts";\n// showPng(x) later\nx.show();'),
  ]);
  assert.deepEqual(quiet, { missing: [], checked: 0 });
  // `// expect:` still checks, and a thrown cell fails at once.
  assert.equal(faults([code("1 + 1 // expect: text/html", [text])]).missing.length, 1);
  const threw = { output_type: "error", ename: "TypeError", evalue: "boom" };
  assert.throws(() => faults([code("await show(1);", [threw])]), /cell 0 of t threw TypeError/);
  const markdown: Cell = { cell_type: "markdown", source: "await showPng(x)" };
  assert.equal(faults([markdown]).checked, 0);
});

Deno.test("notebook check: a progress cell holds one display updated to its last step, few lines", () => {
  const display = (step: number, message: number, total = 60) => ({
    output_type: "display_data",
    data: {
      "text/html": [
        `<div class="dalle-lab-progress" data-progress-step="${step}" `,
        `data-progress-total="${total}" data-progress-message="${message}">…</div>`,
      ],
      "text/plain": "[prior] …",
    },
  });
  const stream = (lines: number) => ({
    output_type: "stream",
    text: Array.from({ length: lines }, (_, i) => `[prior] step ${i} loss 1\n`),
  });
  const cell = (outputs: Output[]): Cell => ({
    cell_type: "code",
    source: "// expect: progress\nawait trainPrior(p, b, { log });",
    outputs,
  });
  const faults = (outputs: Output[]) => cellFaults("t", [cell(outputs)]).missing;
  assert.deepEqual(faults([display(59, 7), stream(2)]), []);
  assert.match(faults([display(59, 7), stream(60)])[0], /printed 60 lines/);
  assert.match(faults([stream(3)])[0], /holds 0 progress displays/);
  assert.match(faults([display(59, 7), display(59, 3)])[0], /holds 2 progress displays/);
  assert.match(faults([display(59, 0)])[0], /never updated in place/);
  assert.match(faults([display(30, 4)])[0], /ends at step 30 of 60/);
});

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
      // One run: an output the kernel lost is a failure to see, not to retry past.
      const started = performance.now();
      const missing = await runNotebook(name);
      console.log(`${name}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
      assert.equal(missing, "", missing);
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
  const { missing, checked } = cellFaults(name, executed.cells);
  assert.ok(
    checked > 0,
    `${name} shows nothing through lib/display, so nothing it shows is checked`,
  );
  if (missing.length === 0) return "";
  const warnings = err.split("\n").filter((l) =>
    /warn|timeout|signature/i.test(l) && !/unstable/.test(l)
  );
  return `${name}: ${missing.join("; ")}${
    warnings.length ? `\nnbclient said: ${warnings.join(" | ")}` : ""
  }`;
}
