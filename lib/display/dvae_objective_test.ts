import assert from "node:assert/strict";
import { MSE_STD, PAPER_DVAE_UPDATES, paperDvaeSchedules, PIXEL_EPS } from "../dvae/mod.ts";
import { describeDvaeObjective, dvaeTrainingFigures, PAPER_DVAE_OBJECTIVE } from "./mod.ts";

/** A dvae_train config.json with the shapes recipe's kind of departures (values varied below). */
function shapesConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    experiment: "dvae_train",
    dataset: "shapes",
    reconstruction: "mse",
    beta: 0,
    marginalKl: 20,
    info: 5,
    infoFrac: 0.4,
    initBias: true,
    tauTo: 1 / 16,
    tauFrac: 1,
    straightThrough: false,
    dequantize: false,
    objective: { gaussianStd: MSE_STD, pixelEps: PIXEL_EPS },
    ...overrides,
  };
}

Deno.test("PAPER_DVAE_OBJECTIVE agrees with lib/dvae's reading of the paper", () => {
  const paper = paperDvaeSchedules(PAPER_DVAE_UPDATES);
  assert.equal(PAPER_DVAE_OBJECTIVE.beta, paper.beta.at(PAPER_DVAE_UPDATES));
  const tauSteps = PAPER_DVAE_OBJECTIVE.tauFrac * PAPER_DVAE_UPDATES;
  assert.equal(paper.tau.at(tauSteps), PAPER_DVAE_OBJECTIVE.tauTo, "τ reaches its end there");
  assert.ok(paper.tau.at(tauSteps - 1000) > PAPER_DVAE_OBJECTIVE.tauTo, "and not before");
  assert.equal(PAPER_DVAE_OBJECTIVE.pixelEps, PIXEL_EPS);
});

Deno.test("describeDvaeObjective: the shapes recipe, named and listed from its config", () => {
  const cfg = shapesConfig();
  const text = describeDvaeObjective(cfg);
  assert.equal(text.likelihood, `Gaussian (σ = ${MSE_STD})`);
  assert.equal(text.boundName, `Gaussian (σ = ${MSE_STD}) −ELB, bits/dim`);
  assert.equal(text.paperLikelihood, false);
  assert.equal(
    text.objective,
    `Gaussian (σ = ${MSE_STD}) NLL + ${cfg.marginalKl}·KL(q̄ ‖ u) − ${cfg.info}·I(x; z), β = 0`,
  );
  assert.deepEqual(text.missing, []);
  const all = text.departures.join("\n");
  for (
    const expected of [
      /likelihood: Gaussian .* the paper's is logit-Laplace/,
      new RegExp(`β = 0: .* the paper's β rises to ${PAPER_DVAE_OBJECTIVE.beta}`),
      new RegExp(`\\+ ${cfg.marginalKl} × KL\\(q̄ ‖ u\\)`),
      new RegExp(`− ${cfg.info} × I\\(x; z\\).* the first 40% of the run`),
      /mean pixel/,
      /τ anneals 1 → 1\/16 over the whole run, where the paper's anneals 1 → 1\/16 over the first 5%/,
    ]
  ) assert.match(all, expected);
  assert.equal(text.departures.length, 6);
});

Deno.test("describeDvaeObjective: the numbers follow the config, none is filled in", () => {
  const other = describeDvaeObjective(
    shapesConfig({ marginalKl: 7, info: 0, initBias: false, objective: { gaussianStd: 0.05 } }),
  );
  assert.equal(other.boundName, "Gaussian (σ = 0.05) −ELB, bits/dim");
  assert.match(other.departures.join("\n"), /\+ 7 × KL/);
  assert.doesNotMatch(other.departures.join("\n"), /information bonus|mean pixel/);
  assert.deepEqual(other.missing, ["objective.pixelEps"], "a run that did not record ε says so");

  const old = describeDvaeObjective(shapesConfig({ objective: undefined }));
  assert.equal(old.likelihood, "Gaussian (σ = not recorded)");
  assert.deepEqual(old.missing, ["objective.gaussianStd", "objective.pixelEps"]);
});

Deno.test("describeDvaeObjective: the paper's objective departs from nothing", () => {
  const text = describeDvaeObjective({ ...PAPER_DVAE_OBJECTIVE, objective: { pixelEps: 0.1 } });
  assert.deepEqual(text.departures, []);
  assert.deepEqual(text.missing, []);
  assert.equal(text.paperLikelihood, true);
  assert.equal(text.boundName, "logit-Laplace −ELB, bits/dim");
  assert.equal(text.objective, `logit-Laplace NLL + ${PAPER_DVAE_OBJECTIVE.beta}·KL(q ‖ u)`);
});

Deno.test("dvaeTrainingFigures names the bound curve by the likelihood it was given", () => {
  const rows = [0, 1].map((step) => ({
    step,
    elb_bits_per_dim: -1,
    loss: -0.5,
    kl: 0.1,
    marginal_kl: 0.2,
    codebook_perplexity: 9,
  }));
  const { boundName } = describeDvaeObjective(shapesConfig());
  const { bound } = dvaeTrainingFigures(rows, { boundName });
  assert.ok(String(bound.data[0].name).startsWith(boundName), String(bound.data[0].name));
});
