/**
 * The mechanism notebook's charts: sharpness against rho, each measure against robust accuracy,
 * loss landscapes and the loss along the PGD direction. Every number charted is ours.
 */
import { rowColor } from "./charts.ts";
import { axis, chart } from "./chart_parts.ts";
import type { Chart, PlotlyLayout, PlotlyTrace } from "./notebook.ts";
import { MEASURES, robustLabel, type RunMeasures } from "../analysis/mechanism_data.ts";
import type { CorrelationRow } from "../analysis/mechanism_correlations.ts";
import { LANDSCAPE_ROWS } from "../analysis/measure_run.ts";

const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? null : +(100 * x).toFixed(1);

function colorOf(r: RunMeasures, all: readonly RunMeasures[]): string {
  const same = [...new Set(all.filter((x) => x.row.group === r.row.group).map((x) => x.row.id))];
  return rowColor(r.row, Math.max(0, same.indexOf(r.row.id)));
}

const SYMBOL: Record<string, string> = {
  ST: "square",
  SAM: "circle",
  "AT-linf": "diamond",
  "AT-l2": "triangle-up",
  ASAM: "star",
  "SAM+AT": "x",
};

/** Sharpness against rho, one line per run. */
export function sharpnessVsRhoChart(records: readonly RunMeasures[], title: string): Chart {
  const rhos = [0.02, 0.05, 0.1, 0.2];
  return chart(
    records.map((r) => ({
      type: "scatter",
      mode: "lines+markers",
      name: `${r.row.label} s${r.seed}`,
      x: rhos,
      y: rhos.map((rho) => r.values[`sharpness_${rho}`] ?? null),
      line: { color: colorOf(r, records), dash: r.seed === 0 ? "solid" : "dot" },
      marker: { symbol: SYMBOL[r.row.group] ?? "circle" },
    })),
    title,
    "ρ (L2 radius in weight space)",
    "max L(w+δ) − L(w) over ‖δ‖ ≤ ρ",
    { xaxis: { type: "log" }, yaxis: { type: "log" } },
  );
}

/** One panel per measure: the measure (x) against robust accuracy (y), one marker per run. */
export function scatterChart(
  records: readonly RunMeasures[],
  robust: string,
  corr: readonly CorrelationRow[],
  title: string,
): Chart {
  const cols = 3, rows = Math.ceil(MEASURES.length / cols);
  const data: PlotlyTrace[] = [];
  const seen = new Set<string>();
  MEASURES.forEach((m, p) => {
    const k = p === 0 ? "" : String(p + 1);
    for (const r of records) {
      const first = !seen.has(r.row.id);
      seen.add(r.row.id);
      data.push({
        type: "scatter",
        mode: "markers",
        name: r.row.label,
        legendgroup: r.row.id,
        showlegend: first && p === 0 ? true : first,
        x: [r.values[m.key] ?? null],
        y: [pct(r.robust[robust])],
        marker: { color: colorOf(r, records), size: 9, symbol: SYMBOL[r.row.group] ?? "circle" },
        xaxis: `x${k}`,
        yaxis: `y${k}`,
        hovertemplate:
          `${r.row.label} seed ${r.seed}<br>${m.label} %{x:.3g}<br>%{y:.1f}%<extra></extra>`,
      });
    }
  });
  const label = robustLabel(robust);
  const layout: PlotlyLayout = {
    title: { text: title },
    grid: { rows, columns: cols, pattern: "independent", ygap: 0.45, xgap: 0.1 },
    height: 300 * rows + 80,
    annotations: MEASURES.map((m, p) => {
      const c = corr.find((x) =>
        x.measure === m.label && x.robust === label && x.subset.endsWith("all runs")
      );
      const k = p === 0 ? "" : String(p + 1);
      return {
        // A constant side has no ranks: say so rather than "NaN".
        text: `${m.label}${
          !c
            ? ""
            : Number.isFinite(c.spearman)
            ? ` (ρ_s = ${c.spearman.toFixed(2)})`
            : " (ρ_s undefined: a constant column)"
        }`,
        showarrow: false,
        xref: `x${k} domain`,
        yref: `y${k} domain`,
        x: 0.5,
        y: 1.15,
        font: { size: 12 },
      };
    }),
  };
  MEASURES.forEach((m, p) => {
    const k = p === 0 ? "" : String(p + 1);
    layout[`xaxis${k}`] = axis(
      m.label,
      m.key.startsWith("grad") || m.key === "hessian_trace" ? {} : { type: "log" },
    );
    layout[`yaxis${k}`] = axis(p % cols === 0 ? `${label} (%)` : "");
  });
  return { data, layout };
}

/** The runs that have landscapes, one seed (the first that has all of LANDSCAPE_ROWS, else any). */
export function landscapeRuns(records: readonly RunMeasures[]): RunMeasures[] {
  const have = records.filter((r) => r.rows.landscape_1d);
  const seeds = [...new Set(have.map((r) => `${r.results}|${r.seed}`))];
  const full =
    seeds.find((s) =>
      LANDSCAPE_ROWS.every((id) =>
        have.some((r) => `${r.results}|${r.seed}` === s && r.row.id === id)
      )
    ) ?? seeds[0];
  return have.filter((r) => `${r.results}|${r.seed}` === full);
}

export function landscape1dChart(records: readonly RunMeasures[], title: string): Chart {
  return chart(
    records.map((r) => {
      const e = r.rows.landscape_1d.extra as { alphas: number[]; losses: number[] };
      return {
        type: "scatter",
        mode: "lines",
        name: `${r.row.label} (seed ${r.seed})`,
        x: e.alphas,
        y: e.losses,
        line: { color: colorOf(r, records), width: 2 },
      };
    }),
    title,
    "α (step along one filter-normalised direction d; α = 1 moves each filter by its own norm)",
    "training loss L(w + α d)",
    { yaxis: { type: "log" } },
  );
}

export function landscape2dChart(records: readonly RunMeasures[], title: string): Chart {
  const n = records.length;
  const all = records.flatMap((r) => (r.rows.landscape_2d.extra.losses as number[][]).flat());
  const zmin = Math.log10(Math.min(...all)), zmax = Math.log10(Math.max(...all));
  const data: PlotlyTrace[] = records.map((r, i) => {
    const e = r.rows.landscape_2d.extra as {
      alphas: number[];
      betas: number[];
      losses: number[][];
    };
    const k = i === 0 ? "" : String(i + 1);
    return {
      type: "contour",
      x: e.alphas,
      y: e.betas,
      z: e.losses.map((row) => row.map((v) => Math.log10(v))),
      zmin,
      zmax,
      colorscale: "Viridis",
      showscale: i === n - 1,
      colorbar: { title: { text: "log₁₀ loss" } },
      contours: { coloring: "heatmap", showlabels: true, labelfont: { size: 9, color: "white" } },
      xaxis: `x${k}`,
      yaxis: `y${k}`,
      name: r.row.label,
      hovertemplate:
        `${r.row.label}<br>α %{x:.2f}, β %{y:.2f}<br>log₁₀ loss %{z:.2f}<extra></extra>`,
    };
  });
  const layout: PlotlyLayout = {
    title: { text: title },
    grid: { rows: 1, columns: n, pattern: "independent", xgap: 0.08 },
    height: 420,
    annotations: records.map((r, i) => ({
      text: `${r.row.label} (seed ${r.seed})`,
      showarrow: false,
      xref: `x${i === 0 ? "" : i + 1} domain`,
      yref: `y${i === 0 ? "" : i + 1} domain`,
      x: 0.5,
      y: 1.1,
    })),
  };
  records.forEach((_, i) => {
    const k = i === 0 ? "" : String(i + 1);
    layout[`xaxis${k}`] = axis("α (direction d₁)");
    layout[`yaxis${k}`] = axis(i === 0 ? "β (direction d₂)" : "", { scaleanchor: `x${k}` });
  });
  return { data, layout };
}

/** Test loss along each run's PGD L-inf direction (solid) and a random sign direction (dotted). */
export function pgdLineChart(records: readonly RunMeasures[], title: string): Chart {
  const data: PlotlyTrace[] = [];
  for (const r of records) {
    const e = r.rows.pgd_loss?.extra as
      | { radii: number[]; pgdLoss: number[]; randomLoss: number[] }
      | undefined;
    if (!e) continue;
    const x = e.radii.map((v) => +(v * 255).toFixed(3));
    const color = colorOf(r, records);
    data.push(
      {
        type: "scatter",
        mode: "lines+markers",
        name: `${r.row.label} s${r.seed}: PGD`,
        legendgroup: r.runId,
        x,
        y: e.pgdLoss,
        line: { color },
      },
      {
        type: "scatter",
        mode: "lines",
        name: `${r.row.label} s${r.seed}: random`,
        legendgroup: r.runId,
        x,
        y: e.randomLoss,
        line: { color, dash: "dot" },
        showlegend: false,
      },
    );
  }
  return chart(
    data,
    title,
    "ε (×1/255): x + (ε/8·255)·δ_PGD, clipped to [0, 1]",
    "mean test cross-entropy",
    {
      yaxis: { type: "log" },
    },
  );
}
