/**
 * Plotly chart specs for the table notebooks (shown with showPlot): the clean-vs-robust
 * trade-off, robust accuracy against the attack radius, and training cost relative to ST.
 * They take RowSummary lists, so our runs and the paper's numbers chart the same way; error bars
 * are the std over seeds where there is one.
 */
import type { EvalColumn } from "../experiments/columns.ts";
import type { GridRow } from "../experiments/grid.ts";
import { familyOf, optimizerFamily } from "../training/method.ts";
import type { PlotlyLayout, PlotlyTrace } from "./notebook.ts";
import { axis } from "./chart_parts.ts";
import type { CostRatio, RowSummary, Stat } from "../analysis/summary.ts";

export interface Chart {
  data: PlotlyTrace[];
  layout: PlotlyLayout;
}

const SYMBOLS: Record<string, string> = {
  ST: "square",
  SAM: "circle",
  ASAM: "circle-open",
  AT: "diamond",
  "SAM+AT": "star",
  "ASAM+AT": "star-open",
};
const SAM_COLORS = ["#9ecae1", "#4292c6", "#08519c"];
const LINF_COLORS = ["#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
const L2_COLORS = ["#a1d99b", "#74c476", "#31a354", "#006d2c"];
const ASAM_COLORS = ["#bcbddc", "#6a51a3"];
const SAM_AT_COLORS = ["#d94801", "#8c2d04"];

/**
 * One colour per grid row: ST black, SAM blues, AT L-inf reds, AT L2 greens, ASAM purples, SAM+AT
 * oranges (darker = stronger). Each group has its own palette, so no two rows share a colour.
 */
export function rowColor(row: GridRow, index: number): string {
  if (row.group === "ST") return "#222222";
  const palette = {
    SAM: SAM_COLORS,
    "AT-linf": LINF_COLORS,
    "AT-l2": L2_COLORS,
    ASAM: ASAM_COLORS,
    "SAM+AT": SAM_AT_COLORS,
  }[row.group as string] ?? L2_COLORS;
  return palette[Math.min(index, palette.length - 1)];
}

function colorsOf(summaries: readonly RowSummary[]): Map<string, string> {
  const seen: Record<string, number> = {};
  const out = new Map<string, string>();
  for (const s of summaries) {
    const i = seen[s.row.group] ?? 0;
    seen[s.row.group] = i + 1;
    out.set(s.row.id, rowColor(s.row, i));
  }
  return out;
}

const pct = (
  s: Stat | undefined,
) => (s && Number.isFinite(s.mean) ? +(100 * s.mean).toFixed(2) : null);
const pctStd = (
  s: Stat | undefined,
) => (s && Number.isFinite(s.std) ? +(100 * s.std).toFixed(2) : 0);

/**
 * Clean accuracy (x) against robust accuracy (y), one panel per robust column (up to 4, in a
 * 2x2 grid), one marker per grid row with std error bars.
 */
export function tradeoffChart(
  summaries: readonly RowSummary[],
  robust: readonly EvalColumn[],
  title: string,
): Chart {
  const panels = robust.slice(0, 4);
  const colors = colorsOf(summaries);
  const cols = panels.length > 1 ? 2 : 1;
  const rows = Math.ceil(panels.length / cols);
  const data: PlotlyTrace[] = [];
  panels.forEach((col, p) => {
    const axis = p === 0 ? "" : String(p + 1);
    for (const s of summaries) {
      data.push({
        type: "scatter",
        mode: "markers",
        name: s.row.label,
        legendgroup: s.row.id,
        showlegend: p === 0,
        x: [pct(s.metrics.clean)],
        y: [pct(s.metrics[col.key])],
        error_x: { type: "data", array: [pctStd(s.metrics.clean)], visible: true, thickness: 1 },
        error_y: { type: "data", array: [pctStd(s.metrics[col.key])], visible: true, thickness: 1 },
        marker: {
          color: colors.get(s.row.id),
          size: 10,
          symbol: SYMBOLS[familyOf(s.row.method)],
        },
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
        hovertemplate: `${s.row.label}<br>clean %{x:.1f}%<br>${col.label} %{y:.1f}%<extra></extra>`,
      });
    }
  });
  const layout: PlotlyLayout = {
    title: { text: title },
    grid: { rows, columns: cols, pattern: "independent", ygap: 0.4, xgap: 0.12 },
    height: 380 * rows + 80,
    legend: { orientation: "v" },
    annotations: panels.map((col, p) => ({
      text: col.label,
      showarrow: false,
      xref: `x${p === 0 ? "" : p + 1} domain`,
      yref: `y${p === 0 ? "" : p + 1} domain`,
      x: 0.5,
      y: 1.1,
      font: { size: 13 },
    })),
  };
  panels.forEach((_, p) => {
    const k = p === 0 ? "" : String(p + 1);
    layout[`xaxis${k}`] = axis("clean accuracy (%)");
    layout[`yaxis${k}`] = axis("robust accuracy (%)");
  });
  return { data, layout };
}

/**
 * Accuracy against the attack radius, L-inf and L2 panels side by side, one line per grid row;
 * radius 0 is the clean accuracy.
 */
export function robustVsEpsChart(
  summaries: readonly RowSummary[],
  columns: readonly EvalColumn[],
  title: string,
): Chart {
  const colors = colorsOf(summaries);
  const data: PlotlyTrace[] = [];
  (["linf", "l2"] as const).forEach((norm, p) => {
    const cols = columns.filter((c) => c.norm === norm).sort((a, b) => (a.eps ?? 0) - (b.eps ?? 0));
    if (cols.length === 0) return;
    for (const s of summaries) {
      const stats = [s.metrics.clean, ...cols.map((c) => s.metrics[c.key])];
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: s.row.label,
        legendgroup: s.row.id,
        showlegend: p === 0,
        x: [0, ...cols.map((c) => +((c.eps ?? 0) * 255).toFixed(3))],
        y: stats.map(pct),
        error_y: { type: "data", array: stats.map(pctStd), visible: true, thickness: 1 },
        line: {
          color: colors.get(s.row.id),
          width: optimizerFamily(s.row.method) !== "" ? 2.5 : 1.5,
          dash: s.row.method.perturb ? "dot" : "solid",
        },
        marker: { color: colors.get(s.row.id), size: 6 },
        xaxis: p === 0 ? "x" : "x2",
        yaxis: p === 0 ? "y" : "y2",
        hovertemplate: `${s.row.label}<br>ε %{x}/255: %{y:.1f}%<extra></extra>`,
      });
    }
  });
  return {
    data,
    layout: {
      title: { text: title },
      grid: { rows: 1, columns: 2, pattern: "independent", xgap: 0.1 },
      height: 600,
      xaxis: axis("L∞ radius ε (×1/255; 0 = clean)"),
      xaxis2: axis("L2 radius ε (×1/255; 0 = clean)"),
      yaxis: axis("accuracy under PGD-10 (%)"),
      yaxis2: axis("accuracy under PGD-10 (%)"),
    },
  };
}

/**
 * Training seconds per epoch relative to ST per grid row (bars, ± the spread over seeds), beside
 * the paper's statements (SAM ~2x, 10-step AT ~10x) and the count of forward-backward passes per step.
 */
export function costChart(ratios: readonly CostRatio[], title: string): Chart {
  const x = ratios.map((r) => r.row);
  return {
    data: [
      {
        type: "bar",
        name: "measured (seconds per epoch ÷ ST's)",
        x,
        y: ratios.map((r) => +r.ratio.toFixed(3)),
        // Narrow caps: the passes' marks (wide dashes) stay distinguishable from them.
        error_y: {
          type: "data",
          array: ratios.map((r) => +r.ratioStd.toFixed(3)),
          visible: true,
          width: 3,
          color: "#333",
        },
        marker: { color: "#4292c6" },
        text: ratios.map((r) => `${r.ratio.toFixed(1)}x`),
        // Inside the bar at its foot: above the bar the label sat on the paper's and the passes'
        // markers (both drawn at about the bar's height).
        textposition: "inside",
        insidetextanchor: "start",
        textangle: 0,
        textfont: { color: "white" },
        hovertemplate: "%{x}: %{y:.2f}x ST<extra></extra>",
      },
      {
        type: "scatter",
        mode: "markers",
        name: "paper: SAM ≈ 2x, 10-step AT ≈ 10x",
        x: ratios.filter((r) => r.paperClaim).map((r) => r.row),
        y: ratios.filter((r) => r.paperClaim).map((r) => r.paperClaim),
        marker: { symbol: "diamond-wide", size: 14, color: "#de2d26" },
      },
      {
        type: "scatter",
        mode: "markers",
        name: "forward-backward passes per step (ST = 1)",
        x,
        y: ratios.map((r) => r.passes),
        marker: { symbol: "line-ew-open", size: 30, color: "#666", line: { width: 2 } },
      },
    ],
    layout: {
      title: { text: title },
      xaxis: { automargin: true },
      yaxis: axis("time per epoch ÷ ST's", { rangemode: "tozero" }),
      height: 480,
      // Below the x axis: automargin moves the (rotated) row labels, so anchor the legend to the
      // bottom of the whole chart rather than a fixed distance under the plot.
      legend: { orientation: "h", yref: "container", y: 0, yanchor: "bottom" },
      margin: { b: 40 },
    },
  };
}
