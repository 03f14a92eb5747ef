/**
 * Writing the results files (lib/experiments/results.ts reads them): rows appended in one atomic
 * write under the file's lock (keyed by its real path), never a duplicate of a finished row, and
 * a file this user may not write or replace refused before any work, in one sentence.
 */
import { accessSync, constants } from "node:fs";
import { dirname } from "node:path";
import { realPathOf, replaceProblem, writeFileAtomic, writeTarget } from "../util/atomic_write.ts";
import { withLock } from "../util/lock.ts";
import {
  type Cell,
  checkHeader,
  EVAL_COLUMNS,
  evalsPathFor,
  finishedOf,
  formatCell,
  headerOf,
  kindOf,
  parseTable,
  readText,
  type ResultRow,
  ResultsFileError,
  rowIdentity,
  RUN_COLUMNS,
} from "./results.ts";

/**
 * Append rows to the CSV at path (created with `columns` as its header if absent) in one atomic
 * write, so they land together or not at all; the existing text is kept byte for byte. A row with
 * a column the header lacks extends the header (older rows then read empty there). A row of a
 * run (evaluation) that already has a finished row in the file is left out: a duplicate is never
 * added. Returns how many rows were added (nothing is written when none).
 */
export function appendRows(
  path: string,
  columns: readonly string[],
  rows: readonly ResultRow[],
): number {
  const kind = kindOf(columns);
  // The real path keys the lock: writers through a symlink and to its target exclude each other.
  return withLock(`${realPathOf(path)}.lock`, `Results file ${path}`, () => {
    const text = readText(path) ?? "";
    let header = [...columns];
    let body = "";
    let fresh = [...rows];
    if (text.trim() !== "") {
      checkHeader(path, headerOf(path, text), columns);
      const table = parseTable(path, text, columns);
      header = table.header;
      if (kind !== "other") {
        const done = finishedOf(kind);
        const have = new Set(table.rows.filter(done).map((r) => rowIdentity(kind, r)));
        fresh = rows.filter((r) => !have.has(rowIdentity(kind, r)));
      }
      const nl = text.indexOf("\n");
      body = nl < 0 ? "" : text.slice(nl + 1);
      if (body !== "" && !body.endsWith("\n")) body += "\n";
    }
    if (fresh.length === 0) return 0;
    const wider = [...header];
    for (const k of [...columns, ...fresh.flatMap(Object.keys)]) {
      if (!wider.includes(k)) wider.push(k);
    }
    const line = (cells: readonly (Cell | undefined)[]) => cells.map(formatCell).join(",");
    const added = fresh.map((row) => `${line(wider.map((h) => row[h]))}\n`).join("");
    writeFileAtomic(path, new TextEncoder().encode(`${line(wider)}\n${body}${added}`));
    return fresh.length;
  });
}

/** Append one row (appendRows); false, writing nothing, when it would be a duplicate. */
export function appendRow(path: string, columns: readonly string[], row: ResultRow): boolean {
  return appendRows(path, columns, [row]) === 1;
}

/** Append a runs row; false when the file already holds a finished row of that run. */
export function appendRun(path: string, row: ResultRow): boolean {
  return appendRow(path, RUN_COLUMNS, row);
}

/** Append an evaluation row; false when that run's evaluation is in the file already. */
export function appendEval(resultsPath: string, row: ResultRow): boolean {
  return appendRow(evalsPathFor(resultsPath), EVAL_COLUMNS, row);
}

/** Whether `path` (not yet existing, perhaps) can be written: its nearest existing folder is one and writable. */
function checkWritable(path: string): void {
  let dir = dirname(writeTarget(path));
  for (;;) {
    let info: Deno.FileInfo | null = null;
    try {
      info = Deno.statSync(dir);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        if (err instanceof Deno.errors.NotADirectory) info = null;
        else throw err;
      }
    }
    if (info && !info.isDirectory) {
      throw new ResultsFileError(
        `Results path ${path} cannot be created: ${dir} is a file, not a folder; name another path with --results.`,
      );
    }
    if (info) break;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new ResultsFileError(
      `Results path ${path} cannot be written: folder ${dir} is not writable; make it writable or name another path with --results.`,
    );
  }
}

/**
 * Check a results path before any work: both files (runs and evaluations) are absent, empty, or
 * this project's CSVs with intact headers that this user owns and may write, and their folder
 * can be written. Reads; writes nothing.
 */
export function checkResultsTarget(path: string): void {
  for (const [p, columns] of [[path, RUN_COLUMNS], [evalsPathFor(path), EVAL_COLUMNS]] as const) {
    const text = readText(p);
    if (text !== null && text.trim() !== "") {
      checkHeader(p, headerOf(p, text), columns);
      parseTable(p, text, columns);
    }
    const refused = replaceProblem(writeTarget(p));
    if (refused) {
      throw new ResultsFileError(
        `Results file ${p} ${refused.why}; ${refused.fix} file with --results.`,
      );
    }
    checkWritable(p);
  }
}

/** Refuse a runs file a script only reads (before any work): missing, or not a runs CSV. */
export function checkRunsFile(path: string, example: string): void {
  const text = readText(path);
  if (text === null) {
    throw new ResultsFileError(
      `Results file ${path} does not exist; name a runs CSV with --results, e.g. ${example}.`,
    );
  }
  if (text.trim() === "") return;
  checkHeader(path, headerOf(path, text), RUN_COLUMNS);
  parseTable(path, text, RUN_COLUMNS);
}
