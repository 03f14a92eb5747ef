/**
 * Display helpers for the notebooks: plotly charts (as the plotly mimetype, which JupyterLab draws
 * with the `plotly` Python package and the report template draws with plotly.js) and Markdown.
 * Outside a Jupyter kernel they print a short text instead, so lib code can call them anywhere.
 */

export type PlotlyTrace = Record<string, unknown>;
export type PlotlyLayout = Record<string, unknown>;

const PLOTLY_MIME = "application/vnd.plotly.v1+json";

function inJupyter(): boolean {
  // Outside `deno jupyter`, merely reading Deno.jupyter throws.
  try {
    return typeof (Deno as any).jupyter?.display === "function";
  } catch {
    return false;
  }
}

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

function titleOf(layout: PlotlyLayout): string {
  const t = layout.title as unknown;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as any).text === "string") return (t as any).text;
  return "chart";
}

/** Show a plotly chart. */
export async function showPlot(data: PlotlyTrace[], layout: PlotlyLayout = {}): Promise<void> {
  const spec = { data: plain(data), layout: plain(layout) };
  const text = `[plotly chart: ${titleOf(layout)}]`;
  if (!inJupyter()) {
    console.log(text);
    return;
  }
  await (Deno as any).jupyter.display({ [PLOTLY_MIME]: spec, "text/plain": text }, { raw: true });
}

/** Show Markdown (rendered in JupyterLab and in the HTML report). */
export async function showMarkdown(markdown: string): Promise<void> {
  if (!inJupyter()) {
    console.log(markdown);
    return;
  }
  await (Deno as any).jupyter.display({ "text/markdown": markdown, "text/plain": markdown }, {
    raw: true,
  });
}
