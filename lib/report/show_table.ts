/**
 * Tables as the notebooks show them: every row (polars' own display stops at 50 rows without a
 * word), a visible row count, floats rounded for reading, "–" for a missing value (never `null`),
 * and a horizontal scroll container so a wide table never spills out of the page's column.
 */
import pl from "nodejs-polars";
import { roundSignificant } from "./table.ts";
import { jupyterAvailable } from "../util/jupyter.ts";

export interface TableOptions {
  /** Significant digits of every float (default 4). */
  digits?: number;
  /** Significant digits of named columns, overriding `digits`. */
  columns?: Record<string, number>;
  /** What "–" means in this table (default: "no value: not applicable or not measured"). */
  missing?: string;
  /** Why a table has no rows, said in its count line instead of "0 rows × 0 columns". */
  empty?: string;
}

/** The class of the scroll container and of the row count: the report check looks for both. */
export const TABLE_CLASS = "sam-table";
export const COUNT_CLASS = "sam-table-count";

/** Rows as objects (any interface of plain fields) or a polars DataFrame. */
type Rows = readonly object[] | pl.DataFrame;

function recordsOf(rows: Rows): Record<string, unknown>[] {
  return Array.isArray(rows)
    ? (rows as Record<string, unknown>[]).slice()
    : (rows as pl.DataFrame).toRecords();
}

function isMissing(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

/** One cell as text: "–" when missing, floats to `digits` significant digits. */
export function cellText(v: unknown, digits: number): string {
  if (isMissing(v)) return "–";
  if (typeof v === "number") return String(roundSignificant(v, digits));
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const escape = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export interface DisplayTable {
  header: string[];
  cells: string[][];
  html: string;
  text: string;
}

/** The table's header, cell texts, HTML and plain text. */
export function renderTable(rows: Rows, options: TableOptions = {}): DisplayTable {
  const { digits = 4, columns = {} } = options;
  roundSignificant(0.5, digits); // validates digits
  const records = recordsOf(rows);
  const header = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const unknown = Object.keys(columns).filter((c) => !header.includes(c));
  if (records.length > 0 && unknown.length > 0) {
    throw new RangeError(`table: no column ${unknown.join(", ")} in [${header}].`);
  }
  const cells = records.map((r) => header.map((h) => cellText(r[h], columns[h] ?? digits)));
  const anyMissing = records.some((r) => header.some((h) => isMissing(r[h])));
  const numeric = header.map((_, j) =>
    records.length > 0 &&
    records.every((r) => typeof r[header[j]] === "number" || isMissing(r[header[j]]))
  );
  const count = records.length === 0 && options.empty
    ? `0 rows — ${options.empty}.`
    : `${records.length} row${records.length === 1 ? "" : "s"} × ${header.length} column${
      header.length === 1 ? "" : "s"
    }, all shown` +
      (anyMissing
        ? `; – = ${options.missing ?? "no value (not applicable or not measured)"}`
        : "") +
      ".";
  const td = (j: number) =>
    `style="white-space:nowrap;text-align:${numeric[j] ? "right" : "left"}"`;
  const html = `<div class="${TABLE_CLASS}" style="overflow-x:auto;max-width:100%">` +
    `<table><thead><tr>${
      header.map((h, j) => `<th ${td(j)}>${escape(h)}</th>`).join("")
    }</tr></thead>` +
    `<tbody>${
      cells.map((row) => `<tr>${row.map((c, j) => `<td ${td(j)}>${escape(c)}</td>`).join("")}</tr>`)
        .join("")
    }</tbody></table></div>` +
    `<p class="${COUNT_CLASS}" style="color:#555;font-size:0.85em;margin:0.3em 0">${
      escape(count)
    }</p>`;
  const text = [header.join("\t"), ...cells.map((r) => r.join("\t")), count].join("\n");
  return { header, cells, html, text };
}

/**
 * A table for a notebook's last expression: Deno's kernel displays it through
 * Symbol.for("Jupyter.display") as HTML (and text for a terminal).
 */
export function table(rows: Rows, options: TableOptions = {}) {
  const t = renderTable(rows, options);
  return {
    ...t,
    [Symbol.for("Jupyter.display")]: () => ({ "text/html": t.html, "text/plain": t.text }),
  };
}

/** Show a table now (inside a cell, not only as its last expression). */
export async function showTable(rows: Rows, options: TableOptions = {}): Promise<void> {
  const t = renderTable(rows, options);
  if (!jupyterAvailable()) {
    console.log(t.text);
    return;
  }
  await (Deno as any).jupyter.display({ "text/html": t.html, "text/plain": t.text }, { raw: true });
}
