/**
 * One progress interface for trainers and long loops. A loop reports each step's row to a
 * {@link Progress}; where the report goes is a sink: by default a terminal line every
 * `printEvery` rows (the row, elapsed time, rate and ETA), and in a notebook whatever sink the
 * display side registered with {@link setProgressSink} (lib/display's progress.ts registers one
 * display that updates in place). The registry keeps this layer free of the kernel and of
 * lib/display: lib/log only knows the sink's two methods.
 *
 * @module
 */
import type { MetricsRow } from "./run_log.ts";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** What is running, shown as `[label]` (a RunLog passes its experiment). */
  label: string;
  /** Total steps, for the ETA (steps run from 0 to `totalSteps - 1`). */
  totalSteps?: number;
  /**
   * The step this process started at (a resumed run's): earlier steps do not count toward the
   * rate. @default 0
   */
  startStep?: number;
  /** Report every this many rows in the terminal (0: report nothing, anywhere). @default 10 */
  printEvery?: number;
}

/** Where a loop stands, as a sink receives it after every row. */
export interface ProgressState {
  /** {@link ProgressOptions.label}. */
  label: string;
  /** The latest row's `step`, or null when its rows have no numeric `step`. */
  step: number | null;
  /** {@link ProgressOptions.totalSteps}. */
  totalSteps?: number;
  /** Rows reported by this process so far. */
  rows: number;
  /** Seconds since the Progress was made. */
  elapsedSec: number;
  /** Steps per second of this process, or null before a step has finished. */
  stepsPerSec: number | null;
  /** Seconds left at the current rate, or null without a total or a rate. */
  etaSec: number | null;
  /** The latest row. */
  row: MetricsRow;
  /** The terminal line for this state. */
  line: string;
  /** Whether the last step (`totalSteps - 1`) has been reported. */
  done: boolean;
}

/** Where progress goes: told every row, flushed when the loop ends. */
export interface ProgressSink {
  /** Takes the state after a row; must not block the loop (send asynchronously, throttle). */
  update(state: ProgressState): void;
  /** Delivers the latest state (always, even if throttled away) and waits until it is sent. */
  flush(): Promise<void>;
}

/** {@link ProgressOptions} with every default filled in, as a sink factory receives them. */
export type ProgressSettings = Required<Omit<ProgressOptions, "totalSteps">> & {
  totalSteps?: number;
};

/** Makes the sink of one loop. */
export type ProgressSinkFactory = (options: ProgressSettings) => ProgressSink;

/**
 * The default sink: `console.log` of the state's line on the first row and every `printEvery`-th.
 *
 * @param options The loop's options (only `printEvery` is read).
 * @returns The sink.
 * @example
 * ```ts
 * import { Progress, terminalSink } from "./progress.ts";
 * const p = new Progress({ label: "demo", totalSteps: 3, printEvery: 2 }, terminalSink);
 * for (let step = 0; step < 3; step++) p.update({ step }); // prints the rows of steps 0 and 1
 * ```
 */
export function terminalSink(options: ProgressSettings): ProgressSink {
  const { printEvery } = options;
  return {
    update(state) {
      if (state.rows === 1 || state.rows % printEvery === 0) console.log(state.line);
    },
    flush: () => Promise.resolve(),
  };
}

let registered: ProgressSinkFactory = terminalSink;

/**
 * Sets the sink that new {@link Progress} objects (and so new RunLogs) report to; `null` restores
 * the terminal lines. lib/display registers its notebook sink when it is imported in a kernel.
 *
 * @param factory Makes one sink per loop, or null.
 * @example
 * ```ts
 * import { Progress, setProgressSink } from "./progress.ts";
 * const seen: string[] = [];
 * setProgressSink(() => ({ update: (s) => seen.push(s.line), flush: () => Promise.resolve() }));
 * new Progress({ label: "demo" }).update({ step: 0, loss: 1 });
 * setProgressSink(null);
 * console.log(seen.length); // 1
 * ```
 */
export function setProgressSink(factory: ProgressSinkFactory | null): void {
  registered = factory ?? terminalSink;
}

/**
 * Seconds as the terminal line shows them: `35 s`, or `9.1 min` past 90 s.
 *
 * @param seconds A duration.
 * @returns The text.
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * console.log(formatDuration(42), formatDuration(546)); // 42 s 9.1 min
 * ```
 */
export function formatDuration(seconds: number): string {
  return seconds > 90 ? `${(seconds / 60).toFixed(1)} min` : `${seconds.toFixed(0)} s`;
}

/**
 * A loop's progress: feed it each row, `await flush()` at the end.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const progress = new Progress({ label: "sample", totalSteps: 20, printEvery: 10 });
 * for (let step = 0; step < 20; step++) progress.update({ step, ms: 1.5 });
 * await progress.flush(); // printed the rows of steps 0, 9 and 19, each with its rate and ETA
 * ```
 */
export class Progress {
  readonly #started = performance.now();
  readonly #options: ProgressSettings;
  readonly #sink: ProgressSink | null;
  #rows = 0;

  /**
   * Starts the clock and makes this loop's sink (none when `printEvery` is 0).
   *
   * @param options See {@link ProgressOptions}.
   * @param sink Makes the sink. @default the registered one ({@link setProgressSink})
   */
  constructor(options: ProgressOptions, sink: ProgressSinkFactory = registered) {
    this.#options = {
      label: options.label,
      totalSteps: options.totalSteps,
      startStep: options.startStep ?? 0,
      printEvery: options.printEvery ?? 10,
    };
    if (!(Number.isInteger(this.#options.printEvery) && this.#options.printEvery >= 0)) {
      throw new RangeError(`printEvery must be an integer ≥ 0, got ${options.printEvery}`);
    }
    this.#sink = this.#options.printEvery > 0 ? sink(this.#options) : null;
  }

  /**
   * Reports a row (its `step`, if numeric, drives the rate and ETA).
   *
   * @param row The metrics of the step just finished.
   */
  update(row: MetricsRow): void {
    this.#rows++;
    this.#sink?.update(this.state(row));
  }

  /** Sends the latest state wherever the sink sends it and waits for it. */
  async flush(): Promise<void> {
    await this.#sink?.flush();
  }

  /**
   * The state after `row`, as a sink receives it.
   *
   * @param row The latest row.
   * @returns The state, its `line` e.g.
   *   `[dvae] step 120 loss 0.1234 · 35 s, 3.4 steps/s, eta 9.1 min`.
   */
  state(row: MetricsRow): ProgressState {
    const { label, totalSteps, startStep } = this.#options;
    const elapsedSec = (performance.now() - this.#started) / 1000;
    const step = typeof row.step === "number" ? row.step : null;
    // Row `step` is logged after that step ran: this process has run step + 1 - startStep steps.
    const ran = step === null ? 0 : step + 1 - startStep;
    const stepsPerSec = ran > 0 && elapsedSec > 0 ? ran / elapsedSec : null;
    const etaSec = totalSteps !== undefined && stepsPerSec !== null && step !== null
      ? Math.max(0, totalSteps - step - 1) / stepsPerSec
      : null;
    const parts = Object.entries(row).map(([k, v]) =>
      typeof v === "number" && !Number.isInteger(v) ? `${k} ${v.toPrecision(4)}` : `${k} ${v}`
    );
    const rate = stepsPerSec === null ? "" : `, ${formatRate(stepsPerSec)} steps/s`;
    const eta = etaSec === null ? "" : `, eta ${formatDuration(etaSec)}`;
    return {
      label,
      step,
      totalSteps,
      rows: this.#rows,
      elapsedSec,
      stepsPerSec,
      etaSec,
      row,
      line: `[${label}] ${parts.join(" ")} · ${elapsedSec.toFixed(0)} s${rate}${eta}`,
      done: totalSteps !== undefined && step !== null && step + 1 >= totalSteps,
    };
  }
}

/**
 * A rate with three significant digits (`0.412`, `3.41`, `1250`).
 *
 * @param perSec Events per second.
 * @returns The text.
 * @example
 * ```ts
 * import { formatRate } from "./progress.ts";
 * console.log(formatRate(3.4123), formatRate(1250.4)); // 3.41 1250
 * ```
 */
export function formatRate(perSec: number): string {
  return perSec >= 100 ? perSec.toFixed(0) : perSec.toPrecision(3);
}
