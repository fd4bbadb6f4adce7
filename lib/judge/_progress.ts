/**
 * The judges' training progress: every `every` steps (and at the last), one line with the mean
 * loss since the previous line and the seconds since the start.
 *
 * @module
 */
import type { MetricsRow } from "../log/mod.ts";

/**
 * An `onStep` for the one trainer that reports the mean loss of each stretch of steps.
 *
 * @param name What trains ("judge", "fashion classifier"), the line's first word.
 * @param steps The run's steps.
 * @param every Steps per line.
 * @param onProgress Where the lines go.
 * @returns The callback (its clock starts now).
 * @example
 * ```ts
 * import { lossProgress } from "./_progress.ts";
 * const lines: string[] = [];
 * const onStep = lossProgress("judge", 4, 2, (line) => lines.push(line));
 * [1, 3, 5, 7].forEach((loss, step) => onStep({ step, loss }));
 * console.log(lines[0].startsWith("judge: step 2/4 loss 2.0000"), lines.length); // true 2
 * ```
 */
export function lossProgress(
  name: string,
  steps: number,
  every: number,
  onProgress: (line: string) => void,
): (row: MetricsRow) => void {
  const started = performance.now();
  let lossSum = 0, lossCount = 0;
  return (row) => {
    lossSum += row.loss as number;
    lossCount++;
    const step = (row.step as number) + 1;
    if (step % every === 0 || step === steps) {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      onProgress(
        `${name}: step ${step}/${steps} loss ${(lossSum / lossCount).toFixed(4)} (${seconds} s)`,
      );
      lossSum = lossCount = 0;
    }
  };
}
