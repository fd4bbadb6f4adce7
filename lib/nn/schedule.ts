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

/**
 * A ramp's arguments, checked before any step runs: a horizon ≤ 0 or a non-finite value would
 * otherwise give a schedule that silently jumps to its end (or returns NaN) at step 0.
 */
function check(kind: string, from: number, to: number, steps: number, start: number): void {
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    throw new RangeError(`${kind} schedule: endpoints must be finite, got ${from} → ${to}`);
  }
  if (!(steps > 0) || !Number.isFinite(steps)) {
    throw new RangeError(
      `${kind} schedule: the horizon (steps) must be a finite number > 0, got ${steps}`,
    );
  }
  if (!(start >= 0) || !Number.isFinite(start)) {
    throw new RangeError(`${kind} schedule: start must be a finite number ≥ 0, got ${start}`);
  }
}

function progress(step: number, steps: number, start: number): number {
  if (step <= start) return 0;
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
  if (!Number.isFinite(value)) {
    throw new RangeError(`constant schedule: the value must be finite, got ${value}`);
  }
  return { at: () => value, label: `constant ${value}` };
}

/**
 * Linear interpolation from `from` to `to` over `steps`, then held.
 *
 * @param from Value at `start`.
 * @param to Value from `start + steps` on.
 * @param steps Length of the ramp, > 0.
 * @param start First step of the ramp. @default 0
 * @returns The schedule.
 * @throws {RangeError} When `steps` ≤ 0, `start` < 0 or any argument is not finite.
 * @example
 * ```ts
 * import { linear } from "./schedule.ts";
 * console.log(linear(0, 10, 100).at(50)); // 5
 * ```
 */
export function linear(from: number, to: number, steps: number, start = 0): Schedule {
  check("linear", from, to, steps, start);
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
 * @param steps Length of the ramp, > 0.
 * @param start First step of the ramp. @default 0
 * @returns The schedule.
 * @throws {RangeError} When `steps` ≤ 0, `start` < 0 or any argument is not finite.
 * @example
 * ```ts
 * import { cosine } from "./schedule.ts";
 * console.log(cosine(1, 0, 100).at(50)); // 0.5
 * ```
 */
export function cosine(from: number, to: number, steps: number, start = 0): Schedule {
  check("cosine", from, to, steps, start);
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
 * @param warmup Warm-up steps, in [0, total].
 * @param total Step at which the decay ends, > 0.
 * @param final Value after `total`. @default 0.1·peak
 * @returns The schedule.
 * @throws {RangeError} When `total` ≤ 0, `warmup` < 0 or > `total`, or a value is not finite.
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
  check("warmupCosine", peak, final, total, 0);
  if (!(warmup >= 0 && warmup <= total)) {
    throw new RangeError(
      `warmupCosine schedule: warm-up must be in [0, total = ${total}], got ${warmup}`,
    );
  }
  // A run that is all warm-up holds `final` from `total` on, like any other.
  const decay = warmup < total ? cosine(peak, final, total - warmup, warmup) : constant(final);
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
 * @throws {RangeError} When any argument is not a finite number > 0.
 * @example
 * ```ts
 * import { scaleSteps } from "./schedule.ts";
 * console.log(scaleSteps(150_000, 3_000_000, 2_000)); // 100
 * ```
 */
export function scaleSteps(paperSteps: number, paperTotal: number, runTotal: number): number {
  for (const [name, value] of Object.entries({ paperSteps, paperTotal, runTotal })) {
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`scaleSteps: ${name} must be a finite number > 0, got ${value}`);
    }
  }
  return Math.max(1, Math.round((paperSteps / paperTotal) * runTotal));
}
