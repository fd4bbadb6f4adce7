/**
 * Schedules: a value as a function of the step, for learning rates, KL weights and temperatures.
 *
 * Each schedule goes from `from` to `to` over `steps` steps (starting at `start`), then holds `to`.
 * The paper's dVAE schedules (App. A.2) are cosine; `scaleSteps` maps a paper horizon onto a shorter run.
 *
 * @module
 */

/** A value that depends on the training step. */
export interface Schedule {
  /** The value at `step` (0-based). */
  at(step: number): number;
  /** A short description, e.g. "cosine 1→0.0625 over 150000". */
  readonly label: string;
}

function check(from: number, to: number, steps: number, start: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    throw new RangeError(`schedule endpoints must be finite, got ${from} → ${to}`);
  }
  if (!(steps >= 0) || !(start >= 0)) {
    throw new RangeError(
      `schedule steps and start must be ≥ 0, got steps=${steps}, start=${start}`,
    );
  }
}

function progress(step: number, steps: number, start: number): number {
  if (step <= start) return 0;
  if (steps === 0) return 1;
  return Math.min(1, (step - start) / steps);
}

/**
 * A constant.
 *
 * @param value The value at every step.
 * @returns The schedule.
 * @example
 * ```ts
 * import { constant } from "./schedule.ts";
 * console.log(constant(1).at(1e6)); // 1
 * ```
 */
export function constant(value: number): Schedule {
  check(value, value, 0, 0);
  return { at: () => value, label: `constant ${value}` };
}

/**
 * Linear interpolation from `from` to `to` over `steps`, then held.
 *
 * @param from Value at `start`.
 * @param to Value from `start + steps` on.
 * @param steps Length of the ramp.
 * @param start First step of the ramp. @default 0
 * @returns The schedule.
 * @example
 * ```ts
 * import { linear } from "./schedule.ts";
 * console.log(linear(0, 10, 100).at(50)); // 5
 * ```
 */
export function linear(from: number, to: number, steps: number, start = 0): Schedule {
  check(from, to, steps, start);
  return {
    at: (step) => from + (to - from) * progress(step, steps, start),
    label: `linear ${from}→${to} over ${steps}`,
  };
}

/**
 * Half-cosine from `from` to `to` over `steps`, then held: slow at both ends.
 *
 * @param from Value at `start`.
 * @param to Value from `start + steps` on.
 * @param steps Length of the ramp.
 * @param start First step of the ramp. @default 0
 * @returns The schedule.
 * @example
 * ```ts
 * import { cosine } from "./schedule.ts";
 * console.log(cosine(1, 0, 100).at(50)); // 0.5
 * ```
 */
export function cosine(from: number, to: number, steps: number, start = 0): Schedule {
  check(from, to, steps, start);
  return {
    at: (step) => to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * progress(step, steps, start))),
    label: `cosine ${from}→${to} over ${steps}`,
  };
}

/**
 * Linear warm-up from 0 to `peak` over `warmup` steps, then cosine decay to `final` by `total`
 * (the GPT / DALL-E prior learning-rate shape).
 *
 * @param peak Value at the end of warm-up.
 * @param warmup Warm-up steps.
 * @param total Step at which the decay ends.
 * @param final Value after `total`. @default 0.1·peak
 * @returns The schedule.
 * @example
 * ```ts
 * import { warmupCosine } from "./schedule.ts";
 * const lr = warmupCosine(1e-3, 100, 1000);
 * console.log(lr.at(0), lr.at(100), lr.at(1000)); // 0 0.001 0.0001
 * ```
 */
export function warmupCosine(
  peak: number,
  warmup: number,
  total: number,
  final = 0.1 * peak,
): Schedule {
  check(peak, final, total, 0);
  const decay = cosine(peak, final, Math.max(0, total - warmup), warmup);
  return {
    at: (step) => (warmup > 0 && step < warmup ? (peak * step) / warmup : decay.at(step)),
    label: `warmup ${warmup} then cosine ${peak}→${final} by ${total}`,
  };
}

/**
 * Maps a step count from the paper's run length onto a shorter run: `scaleSteps(150000, 3e6, 2000)`
 * is the step of a 2,000-step run that sits where step 150,000 sits in 3,000,000.
 *
 * @param paperSteps A horizon in the paper's updates.
 * @param paperTotal The paper's total updates.
 * @param runTotal This run's total steps.
 * @returns The scaled horizon, at least 1.
 * @example
 * ```ts
 * import { scaleSteps } from "./schedule.ts";
 * console.log(scaleSteps(150_000, 3_000_000, 2_000)); // 100
 * ```
 */
export function scaleSteps(paperSteps: number, paperTotal: number, runTotal: number): number {
  if (!(paperTotal > 0) || !(runTotal > 0)) {
    throw new RangeError(`scaleSteps needs positive totals, got ${paperTotal} and ${runTotal}`);
  }
  return Math.max(1, Math.round((paperSteps / paperTotal) * runTotal));
}
