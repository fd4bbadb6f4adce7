/**
 * Live progress in a notebook: one display per loop that updates in place (step/total, rate, ETA,
 * the latest metrics and a loss sparkline), through the kernel's `display_data` then
 * `update_display_data` messages with one `display_id`, instead of a terminal line per interval.
 *
 * A notebook calls {@link useNotebookProgress} once (importing this module does nothing by
 * itself): it registers {@link notebookProgressSink} with lib/log's `setProgressSink`, so every
 * RunLog (and so every trainer) and every `Progress` of that kernel shows this display. Updates are throttled (the kernel drops messages
 * when its queue backs up, see mod.ts) and each is a few KB: the curve is an inline SVG, not
 * plotly. The state a throttle held back is sent by the loop's `flush()`, so the display always
 * ends on the last row.
 *
 * @module
 */
import {
  formatDuration,
  formatRate,
  type MetricsRow,
  type ProgressSink,
  type ProgressSinkFactory,
  type ProgressState,
  setProgressSink,
} from "../log/mod.ts";
import { inJupyter, type MimeBundle } from "./show.ts";
import { escapeHtml } from "./table.ts";

/** The part of `Deno.jupyter` the display uses (a fake in tests). */
export interface ProgressKernel {
  /** `Deno.jupyter.broadcast`: publishes one message on the kernel's output channel. */
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
}

/** Options of {@link notebookProgressSink}. */
export interface NotebookProgressOptions {
  /** Where messages go. @default Deno.jupyter */
  kernel?: ProgressKernel;
  /** Least ms between two updates (the first row and the last step go at once). @default 500 */
  throttleMs?: number;
  /** The clock, in milliseconds. @default performance.now */
  nowMs?: () => number;
  /** The metric drawn as the curve. @default "loss" (none when the rows have no such number) */
  curve?: string;
}

/** Points the sparkline keeps; older ones are thinned so a long run's messages stay small. */
const CURVE_POINTS = 200;
let displayCounter = 0;

/**
 * A sink that shows a loop as one display updated in place: `display_data` on the first row,
 * then `update_display_data` with the same `transient.display_id` at most every `throttleMs`, and
 * on `flush()` the latest state if it was held back. A failed send is thrown by `flush()`.
 *
 * @param options See {@link NotebookProgressOptions}.
 * @returns A factory for lib/log's `Progress` (or `setProgressSink`).
 * @example
 * ```ts
 * import { Progress } from "../log/mod.ts";
 * import { notebookProgressSink } from "./progress.ts";
 * const sent: string[] = [];
 * const kernel = { broadcast: (type: string) => (sent.push(type), Promise.resolve()) };
 * const sink = notebookProgressSink({ kernel });
 * const progress = new Progress({ label: "demo", totalSteps: 3 }, sink);
 * for (let step = 0; step < 3; step++) progress.update({ step, loss: 1 / (step + 1) });
 * await progress.flush();
 * console.log(sent); // [ "display_data", "update_display_data" ]: step 1 was throttled away
 * ```
 */
export function notebookProgressSink(options: NotebookProgressOptions = {}): ProgressSinkFactory {
  return () => {
    const kernel = options.kernel ?? (Deno as unknown as { jupyter: ProgressKernel }).jupyter;
    const throttleMs = options.throttleMs ?? 500;
    const nowMs = options.nowMs ?? (() => performance.now());
    const curveKey = options.curve ?? "loss";
    const displayId = `dalle-lab-progress-${Date.now().toString(36)}-${displayCounter++}`;
    let curve: [number, number][] = [];
    let stride = 1;
    let latest: ProgressState | null = null;
    let sentLatest = true;
    let shown = false;
    let messages = 0;
    let lastSentMs = -Infinity;
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown = null;

    const send = (state: ProgressState) => {
      const type = shown ? "update_display_data" : "display_data";
      shown = true;
      const message = messages++;
      sentLatest = true;
      lastSentMs = nowMs();
      const content = {
        data: progressBundle(state, curve, message, curveKey),
        metadata: {},
        transient: { display_id: displayId },
      };
      // In order, one at a time: an update must never overtake the display it updates.
      chain = chain.then(() => kernel.broadcast(type, content)).catch((err) => {
        failure ??= err;
      });
    };

    const sink: ProgressSink = {
      update(state) {
        const y = state.row[curveKey];
        if (typeof y === "number" && Number.isFinite(y) && state.rows % stride === 0) {
          curve.push([state.step ?? state.rows, y]);
          if (curve.length > CURVE_POINTS) {
            curve = curve.filter((_, i) => i % 2 === 0);
            stride *= 2;
          }
        }
        latest = state;
        sentLatest = false;
        if (!shown || state.done || nowMs() - lastSentMs >= throttleMs) send(state);
      },
      async flush() {
        if (latest !== null && !sentLatest) send(latest);
        await chain;
        if (failure !== null) {
          const err = failure;
          failure = null;
          throw new Error(`the progress display could not be sent: ${err}`, { cause: err });
        }
      },
    };
    return sink;
  };
}

/**
 * The display's MIME bundle: HTML (a header line, a progress bar, the loss sparkline and the
 * latest metrics; `data-progress-*` attributes carry the numbers for tests) and the terminal line
 * as `text/plain`.
 *
 * @param state The loop's state.
 * @param curve `[step, value]` points of the curve, oldest first.
 * @param message Which message of its display this is (0: the `display_data`), kept as
 *   `data-progress-message` so a saved notebook shows that its display was updated. @default 0
 * @param curveName What the curve shows, written beside it. @default "loss"
 * @returns The bundle.
 * @example
 * ```ts
 * import { Progress } from "../log/mod.ts";
 * import { progressBundle } from "./progress.ts";
 * const state = new Progress({ label: "demo", totalSteps: 10 }).state({ step: 4, loss: 0.5 });
 * const html = progressBundle(state, [[0, 1], [4, 0.5]])["text/html"] as string;
 * console.log(html.includes('data-progress-step="4"'), html.includes("<svg")); // true true
 * ```
 */
export function progressBundle(
  state: ProgressState,
  curve: [number, number][],
  message = 0,
  curveName = "loss",
): MimeBundle {
  const { label, step, totalSteps, stepsPerSec, etaSec, elapsedSec, done } = state;
  const fraction = totalSteps && step !== null ? Math.min(1, (step + 1) / totalSteps) : null;
  const position = step === null
    ? `${state.rows} rows`
    : totalSteps
    ? `step ${step + 1}/${totalSteps}`
    : `step ${step}`;
  const facts = [
    position,
    stepsPerSec === null ? null : `${formatRate(stepsPerSec)} steps/s`,
    `${formatDuration(elapsedSec)} elapsed`,
    done ? "done" : etaSec === null ? null : `eta ${formatDuration(etaSec)}`,
  ].filter((f) => f !== null).join(" · ");
  const bar = fraction === null ? "" : `<div style="width:320px;height:6px;background:#eee;` +
    `margin:3px 0"><div style="width:${(fraction * 100).toFixed(1)}%;height:6px;` +
    `background:${done ? "#2a9d4b" : "#3b6fd4"}"></div></div>`;
  const html = `<div class="dalle-lab-progress" data-progress-label="${escapeHtml(label)}" ` +
    `data-progress-step="${step ?? ""}" data-progress-total="${totalSteps ?? ""}" ` +
    `data-progress-done="${done}" data-progress-message="${message}" ` +
    `style="font:12px monospace;line-height:1.5">` +
    `<b>[${escapeHtml(label)}]</b> ${escapeHtml(facts)}${bar}${sparkline(curve, curveName)}` +
    `<div style="color:#444;max-width:720px">${escapeHtml(metricsText(state.row))}</div></div>`;
  return { "text/html": html, "text/plain": state.line };
}

/** The row without its step, `key value` pairs with 4 significant digits. */
function metricsText(row: MetricsRow): string {
  return Object.entries(row).filter(([k]) => k !== "step").map(([k, v]) =>
    typeof v === "number" && !Number.isInteger(v) ? `${k} ${v.toPrecision(4)}` : `${k} ${v}`
  ).join(" · ");
}

/** An inline SVG line of the points (named, min and max labelled), or "" with fewer than two. */
function sparkline(points: [number, number][], name: string): string {
  if (points.length < 2) return "";
  const [w, h, pad] = [320, 60, 4];
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (w - 2 * pad);
  const sy = (y: number) => h - pad - ((y - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  const path = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  return `<svg width="${w + 70}" height="${h}" style="display:block">` +
    `<polyline fill="none" stroke="#3b6fd4" stroke-width="1.5" points="${path}"/>` +
    `<text x="${w + 4}" y="12" font-size="10">${y1.toPrecision(3)}</text>` +
    `<text x="${w + 4}" y="${h / 2 + 4}" font-size="10" fill="#3b6fd4">${escapeHtml(name)}</text>` +
    `<text x="${w + 4}" y="${h - 2}" font-size="10">${y0.toPrecision(3)}</text></svg>`;
}

/**
 * Makes every later `Progress` and RunLog of this process show {@link notebookProgressSink}'s
 * display: a notebook's first cell calls it once. Outside a kernel (no `Deno.jupyter`, and no
 * `kernel` given) it does nothing, so terminal lines stay.
 *
 * @param options See {@link NotebookProgressOptions}.
 * @example
 * ```ts
 * import { setProgressSink } from "../log/mod.ts";
 * import { useNotebookProgress } from "./progress.ts";
 * useNotebookProgress({ kernel: { broadcast: () => Promise.resolve() }, throttleMs: 1000 });
 * setProgressSink(null); // back to terminal lines
 * ```
 */
export function useNotebookProgress(options: NotebookProgressOptions = {}): void {
  if (options.kernel === undefined && !inJupyter()) return;
  setProgressSink(notebookProgressSink(options));
}
