/**
 * What every rendered report page must not do to a reader, checked on its HTML and its executed
 * notebook: a table cut short without a visible row count (polars stops at 50 rows silently), a
 * `null` cell, a quoted JS string as a cell's result, a table that can be wider than its column
 * without a scroll container, and, on the index, a summary cut mid-sentence or with raw backticks.
 */
import { COUNT_CLASS, TABLE_CLASS } from "./show_table.ts";

export const SCROLL_STYLE_ID = "sam-at-table-scroll";

/** Problems of one rendered page (its .html). */
export function htmlProblems(html: string): string[] {
  const out: string[] = [];
  const scrollCss = html.includes(`id="${SCROLL_STYLE_ID}"`);
  // Output areas that hold HTML tables: ours carry their count right after the table.
  // Each HTML output runs from its mimetype marker to the next output or cell.
  const outputs = html.split(/data-mime-type="text\/html"/).slice(1)
    .map((part) => part.split(/<div class="jp-OutputArea-child|<div class="jp-Cell /)[0]);
  for (const o of outputs) {
    if (!o.includes("<table")) continue;
    const rows = (o.match(/<tbody>([\s\S]*?)<\/tbody>/)?.[1].match(/<tr/g) ?? []).length;
    const count = o.match(new RegExp(`class="${COUNT_CLASS}"[^>]*>(\\d+) rows? `));
    if (!count) out.push(`an HTML table (${rows} rows shown) without a visible row count`);
    else if (Number(count[1]) !== rows) {
      out.push(`a table says ${count[1]} rows but shows ${rows}`);
    }
    if (!o.includes(`class="${TABLE_CLASS}" style="overflow-x:auto`)) {
      out.push("an HTML table without its scroll container");
    }
  }
  if ((html.includes("<table") && !scrollCss)) {
    out.push(`tables but no #${SCROLL_STYLE_ID} style: a wide one would be clipped`);
  }
  const nulls = html.match(/<td[^>]*>\s*(null|undefined|NaN)\s*<\/td>/g) ?? [];
  if (nulls.length) {
    out.push(`${nulls.length} table cell(s) showing ${nulls[0]!.replace(/<[^>]+>/g, "")}`);
  }
  return out;
}

type Notebook = {
  cells: {
    cell_type: string;
    outputs?: { output_type: string; data?: Record<string, unknown> }[];
  }[];
};

/** Problems of one executed notebook: a quoted string as a cell's result. */
export function notebookProblems(nb: Notebook): string[] {
  const out: string[] = [];
  nb.cells.forEach((c, i) => {
    for (const o of c.outputs ?? []) {
      if (o.output_type !== "execute_result") continue;
      const text = o.data?.["text/plain"];
      const s = Array.isArray(text) ? text.join("") : String(text ?? "");
      if (Object.keys(o.data ?? {}).length === 1 && /^["'`]/.test(s)) {
        out.push(`cell ${i + 1} shows a quoted string as its result: ${s.slice(0, 60)}`);
      }
    }
  });
  return out;
}

/** Problems of the index: each page's summary must be whole sentences without Markdown marks. */
export function indexProblems(html: string): string[] {
  const out: string[] = [];
  for (
    const m of html.matchAll(
      /<a href="([^"]+)\.html">[^<]*<\/a><div class="s">([^<]*)<\/div><\/td><td>/g,
    )
  ) {
    const summary = m[2].trim();
    if (!summary) out.push(`${m[1]}: no summary`);
    else if (!/[.!?)]$/.test(summary)) {
      out.push(`${m[1]}: summary cut mid-sentence: "${summary.slice(-40)}"`);
    }
    if (summary.includes("`")) out.push(`${m[1]}: summary with raw backticks`);
  }
  return out;
}
