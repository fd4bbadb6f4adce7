/**
 * What a dVAE run (experiments/dvae_train.ts) actually minimised, and how that departs from the
 * paper's objective, written from the run's own config.json: a report that names "the ELB" while
 * the run trained a Gaussian likelihood at β = 0 with extra terms would claim the paper's method.
 * Every number comes from the config; a value the config does not record is said to be missing,
 * never filled in with today's default.
 *
 * @module
 */

/**
 * The paper's dVAE objective (App. A.2) in dvae_train's terms: logit-Laplace likelihood of pixels
 * mapped into [ε, 1 − ε], KL weight β rising to 6.6, τ annealed 1 → 1/16 over the first 150,000
 * of 3,000,000 updates, the relaxed sample in both passes, nothing else in the loss.
 * (dvae_objective_test.ts checks these against lib/dvae's `paperDvaeSchedules` and `PIXEL_EPS`.)
 */
export const PAPER_DVAE_OBJECTIVE = Object.freeze({
  reconstruction: "logit-laplace",
  beta: 6.6,
  marginalKl: 0,
  info: 0,
  initBias: false,
  tauTo: 1 / 16,
  tauFrac: 150_000 / 3_000_000,
  straightThrough: false,
  dequantize: false,
  pixelEps: 0.1,
});

/** A dVAE run's objective in words. */
export interface DvaeObjectiveText {
  /** The pixel likelihood, e.g. "Gaussian (σ = 0.1)". */
  likelihood: string;
  /** Whether the likelihood is the paper's (logit-Laplace), so the bounds compare. */
  paperLikelihood: boolean;
  /** The reported bound's name, e.g. "Gaussian (σ = 0.1) −ELB". */
  bound: string;
  /** The reported bound's name and unit, e.g. "Gaussian (σ = 0.1) −ELB, bits/dim". */
  boundName: string;
  /** What the run minimised, e.g. "Gaussian (σ = 0.1) NLL + 20·KL(q̄ ‖ u) − 5·I(x; z), β = 0". */
  objective: string;
  /** How it departs from the paper's objective, one line each ([] when it does not). */
  departures: string[];
  /** Keys the departures need that the config does not record ([] when none is missing). */
  missing: string[];
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** 0.0625 → "1/16"; other numbers as they are. */
function fraction(x: number): string {
  const inverse = 1 / x;
  return x < 1 && Math.abs(inverse - Math.round(inverse)) < 1e-9
    ? `1/${Math.round(inverse)}`
    : `${x}`;
}

/** A fraction of the run in words: "the whole run", "the first 40% of the run". */
function ofTheRun(frac: number): string {
  return frac >= 1 ? "the whole run" : `the first ${+(100 * frac).toPrecision(3)}% of the run`;
}

/**
 * A dVAE run's objective and its departures from the paper's, from dvae_train's config.json
 * (`reconstruction`, `beta`, `marginalKl`, `info`, `infoFrac`, `initBias`, `tauTo`, `tauFrac`,
 * `straightThrough`, `dequantize`, and `objective.gaussianStd` / `objective.pixelEps`).
 *
 * @param config The run's config.json.
 * @returns The likelihood, the bound's name, the objective and the departures.
 * @example
 * ```ts
 * import { describeDvaeObjective } from "./dvae_objective.ts";
 * const text = describeDvaeObjective({
 *   reconstruction: "mse", beta: 0, marginalKl: 20, info: 5, infoFrac: 0.4, initBias: true,
 *   tauTo: 1 / 16, tauFrac: 1, straightThrough: false, dequantize: false,
 *   objective: { gaussianStd: 0.1, pixelEps: 0.1 },
 * });
 * console.log(text.boundName); // Gaussian (σ = 0.1) −ELB, bits/dim
 * console.log(text.departures.length); // 6
 * ```
 */
export function describeDvaeObjective(
  config: Readonly<Record<string, unknown>>,
): DvaeObjectiveText {
  const paper = PAPER_DVAE_OBJECTIVE;
  const recorded = (config.objective ?? {}) as Record<string, unknown>;
  const missing: string[] = [];
  const num = (key: string, value: unknown = config[key]) => {
    if (finite(value)) return value;
    missing.push(key);
    return undefined;
  };
  const flag = (key: string) => {
    if (typeof config[key] === "boolean") return config[key] as boolean;
    missing.push(key);
    return undefined;
  };
  const reconstruction = typeof config.reconstruction === "string"
    ? config.reconstruction
    : (missing.push("reconstruction"), undefined);
  const sigma = reconstruction === "mse" ? num("objective.gaussianStd", recorded.gaussianStd) : 0;
  const likelihood = reconstruction === "mse"
    ? `Gaussian (σ = ${sigma ?? "not recorded"})`
    : reconstruction === "logit-laplace"
    ? "logit-Laplace"
    : `${reconstruction ?? "unrecorded"} likelihood`;
  const [beta, marginalKl, info] = [num("beta"), num("marginalKl"), num("info")];
  const infoFrac = info ? num("infoFrac") : 0;
  const [tauTo, tauFrac, pixelEps] = [
    num("tauTo"),
    num("tauFrac"),
    num("objective.pixelEps", recorded.pixelEps),
  ];
  const [initBias, straightThrough, dequantize] = [
    flag("initBias"),
    flag("straightThrough"),
    flag("dequantize"),
  ];

  const terms = [`${likelihood} NLL`];
  if (beta) terms.push(`${beta}·KL(q ‖ u)`);
  if (marginalKl) terms.push(`${marginalKl}·KL(q̄ ‖ u)`);
  let objective = terms.join(" + ");
  if (info) objective += ` − ${info}·I(x; z)`;
  if (beta === 0) objective += ", β = 0";

  const departures: string[] = [];
  if (reconstruction !== undefined && reconstruction !== paper.reconstruction) {
    departures.push(
      `likelihood: ${likelihood} of the ε-mapped pixels, where the paper's is logit-Laplace`,
    );
  }
  if (beta !== undefined && beta !== paper.beta) {
    departures.push(
      beta === 0
        ? `β = 0: the per-cell KL(q ‖ u) is not in the loss, where the paper's β rises to ${paper.beta}`
        : `β rises to ${beta}, where the paper's rises to ${paper.beta}`,
    );
  }
  if (marginalKl) {
    departures.push(
      `+ ${marginalKl} × KL(q̄ ‖ u), the batch's average posterior against the uniform prior ` +
        "(not in the paper)",
    );
  }
  if (info) {
    const decay = infoFrac ? `, decaying to 0 over ${ofTheRun(infoFrac)}` : ", held constant";
    departures.push(`− ${info} × I(x; z), an information bonus${decay} (not in the paper)`);
  }
  if (initBias) {
    departures.push(
      "the decoder's output biases start at the training data's mean pixel (not in the paper)",
    );
  }
  if (
    tauTo !== undefined && tauFrac !== undefined &&
    (Math.abs(tauTo - paper.tauTo) > 1e-12 || Math.abs(tauFrac - paper.tauFrac) > 1e-12)
  ) {
    departures.push(
      `τ anneals 1 → ${fraction(tauTo)} over ${ofTheRun(tauFrac)}, where the paper's anneals ` +
        `1 → ${fraction(paper.tauTo)} over ${ofTheRun(paper.tauFrac)}`,
    );
  }
  if (straightThrough) {
    departures.push(
      "straight-through one-hot codes in the forward pass (the paper: relaxed codes)",
    );
  }
  if (dequantize) departures.push("pixels dequantised with uniform noise (not in the paper)");
  if (pixelEps !== undefined && pixelEps !== paper.pixelEps) {
    departures.push(
      `pixels mapped into [ε, 1 − ε] with ε = ${pixelEps} (the paper: ${paper.pixelEps})`,
    );
  }
  return {
    likelihood,
    paperLikelihood: reconstruction === paper.reconstruction,
    bound: `${likelihood} −ELB`,
    boundName: `${likelihood} −ELB, bits/dim`,
    objective,
    departures,
    missing,
  };
}
