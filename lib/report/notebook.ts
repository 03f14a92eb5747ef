/**
 * Display helpers for the notebooks: plotly charts (as the plotly mimetype, which JupyterLab draws
 * with the `plotly` Python package and the report template draws with plotly.js) and Markdown.
 * Outside a Jupyter kernel they print a short text instead, so lib code can call them anywhere.
 */

import { jupyterAvailable } from "../util/jupyter.ts";
export type PlotlyTrace = Record<string, unknown>;
export type PlotlyLayout = Record<string, unknown>;

const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** JSON has no typed arrays: turn them (at any depth) into plain arrays. */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>);
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** A chart as the modules that build them return it: plotly traces and layout. */
export interface Chart {
  data: PlotlyTrace[];
  layout: PlotlyLayout;
}

/** Layout keys whose `title` plotly.js 3 reads only as `{text}`: the chart and every axis. */
const TITLED = /^(?:[xy]axis\d*|legend|coloraxis)$/;

/**
 * plotly.js 3 ignores a title given as a bare string (`title: "..."`, accepted until plotly.js 2),
 * so such charts draw without titles. Turn every string title of the chart, its axes and its legend
 * into `{text: ...}`; titles already in that form, and the rest of the layout, are left as they are.
 */
export function normalizeTitles(layout: PlotlyLayout): PlotlyLayout {
  const fix = (t: unknown) => (typeof t === "string" ? { text: t } : t);
  const out: PlotlyLayout = {};
  for (const [key, value] of Object.entries(layout)) {
    if (key === "title") out[key] = fix(value);
    else if (TITLED.test(key) && value !== null && typeof value === "object" && "title" in value) {
      out[key] = { ...(value as Record<string, unknown>), title: fix((value as any).title) };
    } else out[key] = value;
  }
  return out;
}

/** The chart's title text, or "" if it has none. */
export function titleText(layout: PlotlyLayout): string {
  const t = normalizeTitles(layout).title as unknown;
  return t && typeof t === "object" && typeof (t as any).text === "string" ? (t as any).text : "";
}

/** Show a plotly chart. String titles are sent as `{text}` (see normalizeTitles). */
export async function showPlot(data: PlotlyTrace[], layout: PlotlyLayout = {}): Promise<void> {
  const fixed = normalizeTitles(layout);
  const spec = { data: plain(data), layout: plain(fixed) };
  const text = `[plotly chart: ${titleText(fixed) || "untitled"}]`;
  if (!jupyterAvailable()) {
    console.log(text);
    return;
  }
  await (Deno as any).jupyter.display({ [PLOTLY_MIME]: spec, "text/plain": text }, { raw: true });
}

/** Show a chart built by a lib module (`{data, layout}`). */
export async function showChart(chart: Chart): Promise<void> {
  await showPlot(chart.data, chart.layout);
}

/** Show Markdown (rendered in JupyterLab and in the HTML report). */
export async function showMarkdown(markdown: string): Promise<void> {
  if (!jupyterAvailable()) {
    console.log(markdown);
    return;
  }
  await (Deno as any).jupyter.display({ "text/markdown": markdown, "text/plain": markdown }, {
    raw: true,
  });
}
