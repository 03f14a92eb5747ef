/**
 * Pieces of plotly charts that the chart-building modules share: titles in the `{text}` form that
 * plotly.js 3 reads, axes that make room for their titles, and dashed marker lines.
 */
import type { Chart, PlotlyLayout, PlotlyTrace } from "./notebook.ts";

/** An axis with a title; `automargin` widens the margin so a long tick label or title is not cut. */
export function axis(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text }, automargin: true, ...extra };
}

/**
 * A chart with a title and two titled axes. Everything in `extra` (shapes, a second y axis, a
 * legend, a height) is merged into the layout.
 */
export function chart(
  data: PlotlyTrace[],
  title: string,
  xTitle: string,
  yTitle: string,
  extra: { xaxis?: Record<string, unknown>; yaxis?: Record<string, unknown> } & PlotlyLayout = {},
): Chart {
  const { xaxis = {}, yaxis = {}, ...rest } = extra;
  return {
    data,
    layout: {
      title: { text: title },
      xaxis: axis(xTitle, xaxis),
      yaxis: axis(yTitle, yaxis),
      ...rest,
    },
  };
}

/** A vertical line across the whole plot at x (a layout shape). */
export function vline(x: number, color: string, dash = "dash"): Record<string, unknown> {
  return {
    type: "line",
    x0: x,
    x1: x,
    yref: "paper",
    y0: 0,
    y1: 1,
    line: { color, dash, width: 1.5 },
  };
}

/** A horizontal line across the whole plot at y (a layout shape). */
export function hline(y: number, color: string, dash = "dash", width = 1.5): Record<string, unknown> {
  return {
    type: "line",
    xref: "paper",
    x0: 0,
    x1: 1,
    y0: y,
    y1: y,
    line: { color, dash, width },
  };
}

/** A legend inside the plot at its top left, on a translucent background so curves show through. */
export const LEGEND_TOP_LEFT = {
  x: 0.01,
  y: 0.99,
  bgcolor: "rgba(255,255,255,0.75)",
} as const;
