/**
 * The paper's dVAE schedules (App. A.2), scaled onto a run of any length with lib/nn's schedules.
 *
 * In 3,000,000 updates: β cosine 0 → 6.6 over the first 5,000; τ cosine 1 → 1/16 over the first
 * 150,000; step size cosine 1e-4 → 1.25e-6 over 1,200,000. Each horizon keeps its fraction of the
 * run, so in 2,000 steps β warms up in 3 steps, τ anneals in 100 and the step size in 800.
 *
 * @module
 */
import { constant, cosine, linear, scaleSteps, type Schedule } from "../nn/mod.ts";

/** The paper's total number of dVAE updates. */
export const PAPER_DVAE_UPDATES = 3_000_000;

/** The β, τ and step-size schedules of a dVAE run. */
export interface DvaeSchedules {
  /** KL weight β. */
  beta: Schedule;
  /** Gumbel-softmax temperature τ. */
  tau: Schedule;
  /** AdamW step size. */
  lr: Schedule;
}

/** Endpoints of {@link paperDvaeSchedules}; the defaults are the paper's. */
export interface PaperScheduleOptions {
  /** Final KL weight. @default 6.6 */
  beta?: number;
  /** Final temperature. @default 1/16 */
  tauTo?: number;
  /** Initial step size. @default 1e-4 */
  lrFrom?: number;
  /** Final step size. @default 1.25e-6 */
  lrTo?: number;
}

/**
 * The paper's β, τ and step-size schedules with their horizons scaled onto `runSteps`.
 *
 * @param runSteps Length of this run in updates.
 * @param options Endpoint overrides (e.g. a larger `lrFrom` for short runs at small batch).
 * @returns `{ beta, tau, lr }`.
 * @example
 * ```ts
 * import { paperDvaeSchedules } from "./schedules.ts";
 * const s = paperDvaeSchedules(2_000);
 * console.log(s.beta.at(0), s.beta.at(3), s.tau.at(100), s.lr.at(800)); // 0 6.6 0.0625 0.00000125
 * ```
 */
export function paperDvaeSchedules(
  runSteps: number,
  options: PaperScheduleOptions = {},
): DvaeSchedules {
  const scaled = (paperSteps: number) => scaleSteps(paperSteps, PAPER_DVAE_UPDATES, runSteps);
  return {
    beta: cosine(0, options.beta ?? 6.6, scaled(5_000)),
    tau: cosine(1, options.tauTo ?? 1 / 16, scaled(150_000)),
    lr: cosine(options.lrFrom ?? 1e-4, options.lrTo ?? 1.25e-6, scaled(1_200_000)),
  };
}

/** The τ schedules of the β–τ ablation. */
export type TauScheduleKind = "cosine" | "linear" | "constant";

/**
 * A temperature schedule by name: cosine or linear 1 → `to` over `steps`, or constant 1.
 *
 * @param kind "cosine", "linear" or "constant".
 * @param steps Length of the anneal (ignored by "constant").
 * @param to Final temperature. @default 1/16
 * @returns The schedule.
 * @example
 * ```ts
 * import { tauSchedule } from "./schedules.ts";
 * console.log(tauSchedule("linear", 100).at(50)); // 0.53125
 * ```
 */
export function tauSchedule(kind: TauScheduleKind, steps: number, to = 1 / 16): Schedule {
  switch (kind) {
    case "cosine":
      return cosine(1, to, steps);
    case "linear":
      return linear(1, to, steps);
    case "constant":
      return constant(1);
    default:
      throw new TypeError(
        `tau schedule must be "cosine", "linear" or "constant", got "${kind as string}"`,
      );
  }
}
