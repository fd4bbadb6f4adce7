/**
 * The main job (`deno task demo`): the paper's two stages end to end on captioned shapes.
 *
 * 1. Figure 11 (the attention masks) → data/figures/figure11_masks.png.
 * 2. Stage one: a dVAE on the shapes (skipped when data/cache/dvae_shapes.safetensors exists).
 * 3. Stage two: a BPE tokenizer, a transformer prior over caption + image tokens and the
 *    contrastive reranker, saved as one pipeline; then 8 draws for train, test and zero-shot
 *    captions, ranked by the reranker and judged by the shapes judge, and image completions from
 *    top halves.
 *
 * Command: `deno task demo` (full, about 35–40 minutes on a 2-core machine: ~20 for the dVAE,
 * ~14 for the prior) or `deno task demo --quick` (a few minutes: short runs, for checking the
 * pipeline, not the results).
 * Each step is one of the experiments in this folder, run as its own process so its memory is
 * returned; their outputs land in data/runs/<experiment>/ and data/figures/. `--backend=NAME`
 * (else $DALLE_LAB_BACKEND, else `auto`) is handed to every step.
 */
import { existsSync } from "../lib/io/mod.ts";
import { parseFlags } from "../lib/log/mod.ts";

const cfg = parseFlags({ quick: false, retrainDvae: false });
/** `--backend=NAME` goes to every step (each also reads $DALLE_LAB_BACKEND, which it inherits). */
const backendArgs = cfg.backend === undefined ? [] : [`--backend=${cfg.backend}`];
const here = new URL(".", import.meta.url).pathname;
const root = new URL("../", import.meta.url).pathname;

async function step(title: string, script: string, stepArgs: string[]): Promise<void> {
  const args = [...stepArgs, ...backendArgs];
  console.log(`\n=== ${title} ===\n$ deno run -A experiments/${script} ${args.join(" ")}`);
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}${script}`, ...args],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${script} failed (exit ${code}); see its output above`);
  console.log(`(${title}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

const dvaePath = cfg.quick
  ? "data/cache/dvae_shapes_quick.safetensors"
  : "data/cache/dvae_shapes.safetensors";
await step("Figure 11: the attention masks", "figure11.ts", []);
if (cfg.retrainDvae || !existsSync(`${root}${dvaePath}`)) {
  await step(
    "Stage one: dVAE on captioned shapes",
    "dvae_train.ts",
    [
      "--dataset=shapes",
      ...(cfg.quick
        ? ["--steps=40", "--testImages=200", `--out=${dvaePath}`, "--tag=quick", "--figures=false"]
        : []),
    ],
  );
} else {
  console.log(
    `\n=== Stage one: using the trained dVAE in ${dvaePath} (--retrain-dvae to train again) ===`,
  );
}
await step(
  "Stage two: tokenizer, prior, reranker, samples, judge",
  "prior_shapes.ts",
  [
    `--dvae=${dvaePath}`,
    ...(cfg.quick
      ? [
        "--steps=40",
        "--rerankSteps=40",
        "--evalCaptions=4",
        "--gridCaptions=4",
        "--tag=quick",
        "--out=data/cache/pipeline_shapes_quick",
      ]
      : []),
  ],
);
console.log(
  "\nDone. Look at data/figures/ (Figure 11, dVAE reconstructions, prior samples) and the newest folders under " +
    "data/runs/dvae_train/ and data/runs/prior_shapes/ (samples_*.png, completion_test.png, " +
    "summary.csv, metrics.csv); notebooks/ plot them.",
);
