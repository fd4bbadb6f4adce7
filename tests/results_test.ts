/**
 * The results page that `deno task figures` writes (experiments/_results.ts): built from a
 * made-up runs folder, it must read only full runs, never the main job's stage runs in place of an
 * experiment's own, follow the main job's links to its stages, and print intervals beside rates.
 *
 * @module
 */
import assert from "node:assert/strict";
import { writeResults } from "../experiments/_results.ts";
import { DEFAULTS, SHAPES_RECIPE } from "../experiments/dvae_train.ts";
import { MSE_STD, PIXEL_EPS } from "../lib/dvae/mod.ts";
import { writeCsv } from "../lib/log/mod.ts";
import { BATCH_NEGATIVES_ONLY, RERANKER_RECIPE } from "../lib/pipeline/mod.ts";

const CODE = { commit: "a".repeat(40), dirty: false, changed: [] };

async function makeRun(
  repo: string,
  path: string,
  config: Record<string, unknown>,
  summary: Record<string, string | number>[],
): Promise<void> {
  await Deno.mkdir(`${repo}/${path}`, { recursive: true });
  await Deno.writeTextFile(
    `${repo}/${path}/config.json`,
    JSON.stringify({ code: CODE, ...config }),
  );
  await writeCsv(`${repo}/${path}/summary.csv`, summary);
}

/** The text of one `## name` section of the page. */
function section(page: string, name: string): string {
  const start = page.indexOf(`\n## ${name}\n`);
  assert.ok(start >= 0, `no section ${name}`);
  const end = page.indexOf("\n## ", start + 1);
  return page.slice(start, end < 0 ? undefined : end);
}

Deno.test("the results page reads each experiment's newest full run and says where it is missing", async () => {
  const repo = await Deno.makeTempDir();
  try {
    const runs = "data/runs";
    const row = (split: string, agree: number) => ({
      split,
      captions: 24,
      judge_agreement: agree,
      judge_agreement_low: agree / 2,
      judge_agreement_high: Math.min(1, agree * 2),
    });
    await makeRun(repo, `${runs}/prior_shapes/20261201T000000Z_run`, {}, [row("test", 0.125)]);
    // Newer and full, but a probe (another tag than the command's): not the experiment's result.
    await makeRun(repo, `${runs}/prior_shapes/20261202T120000Z_probe_lr4`, {}, [row("test", 0.75)]);
    // Newer, but a --quick run and a main-job stage: neither may stand for the experiment.
    await makeRun(repo, `${runs}/prior_shapes/20261202T000000Z_quick`, { quick: true }, [
      row("test", 0.9),
    ]);
    const stage = `${runs}/prior_shapes/20261203T000000Z_demo_full`;
    await makeRun(repo, stage, {}, [row("test", 0.0625)]);
    await writeCsv(`${repo}/${stage}/near_miss.csv`, [
      {
        split: "test",
        images_of: "rendered",
        kind: "swap",
        images: 300,
        accuracy: 0.7,
        ci_low: 0.65,
        ci_high: 0.75,
      },
    ]);
    const dvaeStage = `${runs}/dvae_train/20261203T000000Z_demo_full`;
    // The config dvae_train writes for the shapes recipe, from its own defaults.
    const shapesRecipe = {
      ...DEFAULTS,
      ...SHAPES_RECIPE,
      dataset: "shapes",
      objective: { gaussianStd: MSE_STD, pixelEps: PIXEL_EPS },
    };
    await makeRun(repo, dvaeStage, shapesRecipe, [{ elb_bits_per_dim: -1.77 }]);
    // A reference job's stage one, run by hand under the tag "reference": a stage, too.
    const referenceStage = `${runs}/dvae_train/20261204T000000Z_reference`;
    await makeRun(repo, referenceStage, shapesRecipe, [{ elb_bits_per_dim: -1.9 }]);
    await makeRun(
      repo,
      `${runs}/demo/20261203T000000Z_full`,
      { dvaeRun: dvaeStage, priorRun: stage, backend: "tensorflow", cores: 2, total_seconds: 663 },
      [{ stage: "Stage one", seconds: 299, run: dvaeStage, command: "deno run …" }],
    );
    await makeRun(repo, `${runs}/zero_shot/20261203T000000Z_quick`, { quick: true }, [
      { attribute: "shape", test_first: 0.5 },
    ]);
    const rerank = `${runs}/rerank_train/20261203T000000Z_shapes`;
    await makeRun(repo, rerank, { ...RERANKER_RECIPE }, [
      { split: "test", captions: 2000, accuracy: 0.978, ci_low: 0.97, ci_high: 0.983 },
    ]);
    await writeCsv(`${repo}/${rerank}/near_miss.csv`, [
      { split: "test", kind: "shape", images: 400, accuracy: 0.6, ci_low: 0.55, ci_high: 0.65 },
    ]);
    // A newer run of CLIP's recipe goes to its own section, never the recipe's.
    await makeRun(repo, `${runs}/rerank_train/20261204T000000Z_clip`, { ...BATCH_NEGATIVES_ONLY }, [
      { split: "test", captions: 2000, accuracy: 0.5, ci_low: 0.48, ci_high: 0.52 },
    ]);
    const out = `${repo}/out`;
    await Deno.mkdir(out);
    const { path } = await writeResults(out, { repo, generated: "2026-12-07T07:00:00Z" });
    const page = await Deno.readTextFile(path);

    const prior = section(page, "prior_shapes");
    assert.match(prior, /run `data\/runs\/prior_shapes\/20261201T000000Z_run`/);
    assert.match(prior, /commit aaaaaaaaaa/);
    assert.match(prior, /\| test \| 24 \| 13% \[6, 25\] \|/);
    assert.doesNotMatch(
      prior,
      /90%|75%|\| 6% \[3, 13\]/,
      "neither the quick run's, the probe's nor the stage's rate",
    );

    assert.doesNotMatch(section(page, "dvae_train (shapes)"), /_reference|_demo_full/);

    const demo = section(page, "demo");
    assert.match(demo, /run `data\/runs\/demo\/20261203T000000Z_full`/);
    assert.match(demo, /\| Stage one \| 299 \|/);
    assert.match(demo, / · took 11\.1 min \(as the run recorded it\)\n/, "the run's own time");
    assert.doesNotMatch(demo, /deno run …/, "commands are left to the facts line");
    assert.match(demo, /Stage one, the dVAE, on held-out scenes \(`data\/runs\/dvae_train\//);
    assert.match(demo, /\| elb_bits_per_dim \| -1\.77 \|/);
    // The departure is stated where the bound appears, read from stage one's config.json.
    assert.match(demo, /Stage one \(the dVAE\) is not the paper's objective\. Objective: Gaussian/);
    assert.match(
      demo,
      /is the Gaussian \(σ = 0\.1\) −ELB, bits\/dim, not comparable with the paper's/,
    );
    assert.match(demo, /Departs from the paper's objective: .*β = 0/);
    assert.match(demo, /\| test \| 24 \| 6% \[3, 13\] \|/);
    assert.match(demo, /\| swap \| 70% \[65, 75\], 300 images \|/, "stage two's near misses");

    const reranker = section(page, "rerank_train");
    assert.match(reranker, /\| test \| 2000 \| 98% \[97, 98\] \|/);
    assert.match(reranker, /\| shape \| 60% \[55, 65\], 400 images \|/, "near_miss.csv too");
    assert.match(reranker, /Recipe: 5 near-miss captions per image .*near-miss twins/);
    const clip = section(page, "rerank_train (CLIP's recipe: batch negatives only)");
    assert.match(clip, /\| test \| 2000 \| 50% \[48, 52\] \|/);
    assert.match(clip, /Recipe: no near-miss captions; no twins; rendered images only/);

    // Only a quick run, a stage run, or nothing: the command that makes the full run.
    assert.match(
      section(page, "zero_shot"),
      /No full run on this machine\. Make one with `deno run -A experiments\/zero_shot\.ts`/,
    );
    assert.match(section(page, "dvae_train (shapes)"), /No full run on this machine/);
    assert.match(section(page, "dvae_beta_tau"), /No full run on this machine/);
    // Each section opens with its experiment's question, read from its header.
    assert.match(section(page, "dvae_beta_tau"), /does the KL weight β/);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});
