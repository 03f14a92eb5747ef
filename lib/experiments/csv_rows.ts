/**
 * Strict reading of the project's CSV files (results, evaluations, measure caches, shards). The
 * writer (results.ts) puts one row per physical line, quotes a cell only when it holds a quote or
 * a comma, and ends the file with a newline. So each line is parsed on its own: a line that is
 * malformed (an unbalanced quote, too few or too many cells, cut by a kill or a short copy) is
 * named by its line number and set aside, and can never swallow the rows after it.
 */

/** A data line of a table: its 1-based line number in the file and its cells. */
export interface TableLine {
  line: number;
  cells: string[];
}

/** A line that was set aside, and why (a phrase: "has an unbalanced quote"). */
export interface LineProblem {
  line: number;
  why: string;
}

/** The cells of one line, or null when its quotes do not balance (RFC 4180 quoting). */
export function splitCsvLine(line: string): string[] | null {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null; // no closing quote on this line
        cell += line.slice(i, q);
        if (line[q + 1] === '"') {
          cell += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      if (i < line.length && line[i] !== ",") return null; // text after the closing quote
    } else {
      const comma = line.indexOf(",", i);
      cell = line.slice(i, comma < 0 ? line.length : comma);
      if (cell.includes('"')) return null; // a quote inside an unquoted cell
      i = comma < 0 ? line.length : comma;
    }
    cells.push(cell);
    if (i >= line.length) return cells;
    i++; // the comma
  }
}

/**
 * The header and the well-formed data lines of CSV text, and the lines set aside. A data line
 * must have as many cells as the header, or (rows written before a later column was appended to
 * the header) at least `minCells`. Blank lines are skipped. A file that does not end with a
 * newline was cut inside its last line, which is set aside even when all its cells are there.
 * header is null when the header line itself has an unbalanced quote (the caller refuses the
 * file); longRows counts lines longer than the header (a cut header, when all are).
 */
export function readCsvLines(
  text: string,
  minCells = Infinity,
): { header: string[] | null; rows: TableLine[]; problems: LineProblem[]; longRows: number } {
  const lines = text.split("\n");
  const cut = !text.endsWith("\n");
  if (!cut) lines.pop(); // the empty string after the final newline
  const strip = (l: string) => (l.endsWith("\r") ? l.slice(0, -1) : l);
  const header = lines.length ? splitCsvLine(strip(lines[0])) : null;
  const rows: TableLine[] = [];
  const problems: LineProblem[] = [];
  let longRows = 0;
  if (header === null) return { header, rows, problems, longRows };
  const width = header.length;
  const least = Math.min(width, minCells);
  lines.slice(1).forEach((raw, i) => {
    const line = i + 2;
    const text = strip(raw);
    if (text === "") return;
    const cells = splitCsvLine(text);
    const last = i === lines.length - 2;
    if (cells === null) problems.push({ line, why: "has an unbalanced quote" });
    else if (cells.length > width) {
      longRows++;
      problems.push({ line, why: `has ${cells.length} cells, the header names ${width}` });
    } else if (cells.length < least) {
      problems.push({ line, why: `is cut: ${cells.length} of ${width} cells` });
    } else if (last && cut) {
      problems.push({ line, why: "is cut (the file does not end with a newline)" });
    } else rows.push({ line, cells });
  });
  return { header, rows, problems, longRows };
}
