/**
 * Figures of the dVAE experiments as pure functions of their runs' rows (lib/io's `readRun`):
 * one training run's bound, KL and codebook usage (dvae_train), and the β–τ ablation
 * (dvae_beta_tau's held-out summary and training curves).
 *
 * @module
 */
import type { Figure } from "./show.ts";
import { groupBy, PALETTE, requireColumns, type Row } from "./rows.ts";

/**
 * A dVAE training run's curves: the relaxed −ELB and the loss in bits per dimension, and the
 * KL terms with the batch's codebook perplexity.
 *
 * @param metrics dvae_train's metrics rows: `step`, `elb_bits_per_dim`, `loss`, `kl`,
 *   `marginal_kl`, `codebook_perplexity`.
 * @param options `boundName`: the bound's name with its unit, which says the likelihood the run
 *   trained (lib/display's `describeDvaeObjective`). @default "−ELB, bits/dim"
 * @returns Two figures.
 * @example
 * ```ts
 * import { dvaeTrainingFigures } from "./dvae_figures.ts";
 * const rows = [0, 1].map((step) => ({
 *   step, elb_bits_per_dim: 0.4, loss: 0.3, kl: 0.03, marginal_kl: 0.02, codebook_perplexity: 3,
 * }));
 * const { bound, codes } = dvaeTrainingFigures(rows);
 * console.log(bound.data.length, codes.data.length); // 2 3
 * ```
 */
export function dvaeTrainingFigures(
  metrics: readonly Row[],
  options: { boundName?: string } = {},
): { bound: Figure; codes: Figure } {
  requireColumns(
    metrics,
    ["step", "elb_bits_per_dim", "loss", "kl", "marginal_kl", "codebook_perplexity"],
    "dvae_train's metrics rows",
  );
  const x = metrics.map((r) => Number(r.step));
  const col = (key: string, scale = 1) => metrics.map((r) => scale * Number(r[key]));
  return {
    bound: {
      data: [
        {
          x,
          y: col("elb_bits_per_dim"),
          name: `${options.boundName ?? "−ELB, bits/dim"} (relaxed codes, β = 1)`,
          type: "scatter",
        },
        { x, y: col("loss", 1 / Math.LN2), name: "loss, bits/dim", type: "scatter" },
      ],
      layout: {
        title: { text: "training bound" },
        xaxis: { title: { text: "step" } },
        height: 320,
      },
    },
    codes: {
      data: [
        { x, y: col("kl"), name: "KL(q ‖ u), nats per cell", type: "scatter" },
        { x, y: col("marginal_kl"), name: "KL(q̄ ‖ u), nats per cell", type: "scatter" },
        {
          x,
          y: col("codebook_perplexity"),
          name: "batch codebook perplexity",
          type: "scatter",
          yaxis: "y2",
        },
      ],
      layout: {
        title: { text: "KL and codebook usage" },
        xaxis: { title: { text: "step" } },
        yaxis: { title: { text: "KL (nats per cell)" } },
        yaxis2: { title: { text: "perplexity" }, overlaying: "y", side: "right" },
        height: 320,
      },
    },
  };
}

/** A β–τ run's label: `β=6.6 τ=cosine`, with the marginal-KL weight when it was swept. */
function runLabel(r: Row, marginalKey: string): string {
  const marginal = Number(r[marginalKey] ?? 0);
  return `β=${r.beta_final} τ=${r.tau_schedule}${marginal ? ` +KL(q̄) ${marginal}` : ""}`;
}

/** The held-out measures of the ablation's summary, with their axis labels. */
const HELD_OUT = [
  ["test_codebook_perplexity", "held-out codebook perplexity"],
  ["test_mse", "held-out MSE (argmax tokens)"],
  ["test_elb_bits_per_dim", "held-out true −ELB, bits/dim"],
] as const;

/**
 * The β–τ ablation's held-out results: one panel per measure (codebook perplexity, MSE, true
 * −ELB), bars grouped by τ schedule over dataset × β (× marginal-KL weight).
 *
 * @param summary dvae_beta_tau's summary rows (`dataset`, `beta_final`, `tau_schedule`,
 *   `marginal_kl_weight`, the `test_*` measures).
 * @returns A figure of three panels side by side.
 * @example
 * ```ts
 * import { betaTauSummaryFigure } from "./dvae_figures.ts";
 * const rows = [0, 6.6].map((beta_final) => ({
 *   dataset: "shapes", beta_final, tau_schedule: "cosine", marginal_kl_weight: 0,
 *   test_codebook_perplexity: 4, test_mse: 0.2, test_elb_bits_per_dim: 0.5,
 * }));
 * console.log(betaTauSummaryFigure(rows).data.length); // 3: one τ schedule × three panels
 * ```
 */
export function betaTauSummaryFigure(summary: readonly Row[]): Figure {
  requireColumns(
    summary,
    ["dataset", "beta_final", "tau_schedule", "marginal_kl_weight", ...HELD_OUT.map(([k]) => k)],
    "dvae_beta_tau's summary rows",
  );
  const taus = [...groupBy(summary, "tau_schedule")];
  const data = HELD_OUT.flatMap(([key], panel) =>
    taus.map(([tau, rows], t) => ({
      type: "bar",
      name: `τ ${tau}`,
      legendgroup: tau,
      showlegend: panel === 0,
      marker: { color: PALETTE[t % PALETTE.length] },
      x: rows.map((r) => `${r.dataset} ${runLabel(r, "marginal_kl_weight").split(" τ=")[0]}`),
      y: rows.map((r) => Number(r[key])),
      xaxis: `x${panel === 0 ? "" : panel + 1}`,
      yaxis: `y${panel === 0 ? "" : panel + 1}`,
    }))
  );
  const layout: Record<string, unknown> = {
    title: { text: "β–τ ablation: held-out results (EMA weights)" },
    grid: { rows: 1, columns: HELD_OUT.length, pattern: "independent" },
    barmode: "group",
    width: 1200,
    height: 420,
    legend: { orientation: "h", y: -0.25 },
  };
  HELD_OUT.forEach(([, label], panel) => {
    layout[`yaxis${panel === 0 ? "" : panel + 1}`] = { title: { text: label } };
  });
  return { data, layout };
}

/**
 * The β–τ ablation's training curves, one figure per dataset: the batch codebook perplexity and
 * the relaxed −ELB of every run against the step.
 *
 * @param metrics dvae_beta_tau's metrics rows (`step`, `dataset`, `beta_final`, `tau_schedule`,
 *   `marginal_kl_weight_swept`, `codebook_perplexity`, `elb_bits_per_dim`).
 * @returns One figure per dataset, in first-seen order.
 * @example
 * ```ts
 * import { betaTauCurveFigures } from "./dvae_figures.ts";
 * const rows = [0, 1].map((step) => ({
 *   step, dataset: "shapes", beta_final: 0, tau_schedule: "cosine", marginal_kl_weight_swept: 0,
 *   codebook_perplexity: 2, elb_bits_per_dim: 0.5,
 * }));
 * console.log(betaTauCurveFigures(rows).length); // 1
 * ```
 */
export function betaTauCurveFigures(metrics: readonly Row[]): Figure[] {
  requireColumns(
    metrics,
    ["step", "dataset", "beta_final", "tau_schedule", "codebook_perplexity", "elb_bits_per_dim"],
    "dvae_beta_tau's metrics rows",
  );
  return [...groupBy(metrics, "dataset")].map(([dataset, rows]) => {
    const runs = [
      ...groupBy(
        rows.map((r): Row => ({ ...r, run: runLabel(r, "marginal_kl_weight_swept") })),
        "run",
      ),
    ];
    const traces = (key: string, axis: string) =>
      runs.map(([name, rs], i) => ({
        type: "scatter",
        mode: "lines",
        name,
        legendgroup: name,
        showlegend: axis === "",
        line: { color: PALETTE[i % PALETTE.length] },
        x: rs.map((r) => Number(r.step)),
        y: rs.map((r) => Number(r[key])),
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
      }));
    return {
      data: [...traces("codebook_perplexity", ""), ...traces("elb_bits_per_dim", "2")],
      layout: {
        title: { text: `${dataset}: codebook perplexity and relaxed −ELB while training` },
        grid: { rows: 1, columns: 2, pattern: "independent" },
        xaxis: { title: { text: "step" } },
        xaxis2: { title: { text: "step" } },
        yaxis: { title: { text: "batch codebook perplexity" } },
        yaxis2: { title: { text: "relaxed −ELB, bits/dim" } },
        width: 1100,
        height: 400,
      },
    };
  });
}
