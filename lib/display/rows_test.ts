import assert from "node:assert/strict";

/** Whether importing a lib/display file starts TensorFlow.js (its engine's global appears). */
async function loadsTensorFlow(file: string): Promise<boolean> {
  const url = new URL(file, import.meta.url).href;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `await import(${JSON.stringify(url)}); console.log("_tfengine" in globalThis);`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return out === "true";
}

Deno.test("the row helpers, tables and the rerank and dVAE builders load no TensorFlow", async () => {
  // The check can fail: Table 1's builder does load it (lib/powersgd's planCompression).
  assert.equal(await loadsTensorFlow("./training_figures.ts"), true);
  for (const file of ["./rows.ts", "./table.ts", "./rerank_figures.ts", "./dvae_figures.ts"]) {
    assert.equal(await loadsTensorFlow(file), false, `${file} loads TensorFlow`);
  }
});
