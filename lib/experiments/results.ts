/**
 * Results of an experiment, in two append-only CSV files beside each other:
 * - <name>.csv: one row per finished training run (its settings, seed, training metrics, clean
 *   accuracy, wall time, the path of its saved model), keyed by run_key;
 * - <name>.evals.csv: one row per (run, evaluation): the evaluation's key ("pgd10_linf_8_255",
 *   "aa_linf_8_255"), attack, threat, options, number of test points, accuracy, the accuracy after
 *   each stage of a protocol, and the per-example robust flags (base64 bit mask) that AutoAttack-
 *   style worst cases need.
 * A new evaluation of finished runs appends rows; nothing finished is rewritten: an append copies
 * the old text verbatim and adds one line, and a row whose run (or run and evaluation) already
 * has a finished row is not added again. Every write goes to a temporary file in the same
 * directory which is then renamed over the CSV (atomic), under a lock file (lib/util/lock.ts) so
 * concurrent runs cannot lose each other's rows. A file whose header is not this project's is
 * refused, never rewritten. A row is finished when its numbers are finite (a NaN row is not).
 * Reading is strict (csv_rows.ts): one row per line, and a malformed line (an unbalanced quote, a
 * row cut short, a number that is not one, flags without n bits) is set aside and named by
 * auditResults. The lock is keyed on the file's real path (symlinks followed), and a file this
 * user may not replace (read-only, another user's) is refused before any work.
 * Accuracies are fractions in [0, 1].
 */
import type { EvalResult } from "../training/evaluate.ts";
import { methodColumns } from "../training/method.ts";
import type { TrainResult } from "../training/train.ts";
import { type LineProblem, readCsvLines, splitCsvLine } from "./csv_rows.ts";
import { UserError } from "../util/user_error.ts";

/** A results file that is damaged, foreign or unusable; the message names it and the fix. */
export class ResultsFileError extends UserError {
  override name = "ResultsFileError";
}

export type Cell = string | number | boolean | null;
export type ResultRow = Record<string, Cell>;

/** The runs file's columns, in order (the first version's names kept where they still apply). */
export const RUN_COLUMNS = [
  "run_id",
  "run_key",
  "finished_at",
  "dataset",
  "preset",
  "row_id",
  "train_size",
  "test_size",
  "subset_seed",
  "arch",
  "width",
  "method",
  "optimizer",
  "rho",
  "adaptive",
  "perturb",
  "norm",
  "eps",
  "alpha",
  "steps",
  "epochs",
  "batch_size",
  "lr",
  "momentum",
  "weight_decay",
  "augment",
  "running_stats",
  "seed",
  "backend",
  "final_train_loss",
  "clean",
  "train_seconds",
  "median_epoch_seconds",
  "resumed_from_epoch",
  "load_avg_1m",
  "model_file",
] as const;

/** The evaluations file's columns. */
export const EVAL_COLUMNS = [
  "run_key",
  "eval_key",
  "attack",
  "norm",
  "eps",
  "options",
  "n",
  "accuracy",
  "stages",
  "robust_flags",
  "seconds",
  "seed",
  "backend",
  "finished_at",
] as const;

/** The runs-file columns a trained run fills itself: its config, method and training metrics. */
export function trainedRunColumns(t: TrainResult): ResultRow {
  const c = t.config;
  return {
    arch: c.arch,
    width: c.width,
    ...methodColumns(c.method),
    epochs: c.epochs,
    batch_size: c.batchSize,
    lr: c.lr,
    momentum: c.momentum,
    weight_decay: c.weightDecay,
    augment: t.augment,
    running_stats: c.runningStats,
    seed: c.seed,
    final_train_loss: t.metrics.at(-1)?.trainLoss ?? null,
    train_seconds: t.trainSeconds,
    resumed_from_epoch: t.resumedFromEpoch,
  };
}

/** One evaluations-file row per evaluation of `ev`, for the run `runKey`. */
export function evalRows(
  runKey: string,
  ev: EvalResult,
  seed: number,
  backend: string,
): ResultRow[] {
  return Object.values(ev.evals).map((r) => ({
    run_key: runKey,
    eval_key: r.key,
    attack: r.spec.attack,
    norm: r.spec.norm,
    eps: r.spec.eps,
    options: JSON.stringify(r.spec.options),
    n: ev.n,
    accuracy: r.accuracy,
    stages: r.stages.length > 1 ? JSON.stringify(r.stages) : null,
    robust_flags: flagsToBase64(r.robust),
    seconds: r.seconds,
    seed,
    // The evaluations file has no engine column; the backend names it, as for training rows.
    backend: backend + ((r.graphSteps ?? 0) > 0 ? "+graph-steps" : ""),
    finished_at: new Date().toISOString(),
  }));
}

/** results/x.csv -> results/x.evals.csv */
export function evalsPathFor(resultsPath: string): string {
  return resultsPath.replace(/(\.csv)?$/i, ".evals.csv");
}

/** Per-example 0/1 flags as a base64 bit mask (bit i of byte i>>3, least significant first). */
export function flagsToBase64(flags: Uint8Array): string {
  const bytes = new Uint8Array(Math.ceil(flags.length / 8));
  flags.forEach((f, i) => {
    if (f) bytes[i >> 3] |= 1 << (i & 7);
  });
  let bin = "";
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  return btoa(bin);
}

export function base64ToFlags(text: string, n: number): Uint8Array {
  const bin = atob(text);
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) flags[i] = (bin.charCodeAt(i >> 3) >> (i & 7)) & 1;
  return flags;
}

export function formatCell(v: Cell | undefined): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Parse CSV text (RFC 4180 quoting) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function parseCell(s: string): Cell {
  if (s === "") return null;
  if (s === "true") return true;
  if (s === "false") return false;
  if (
    /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) || s === "NaN" || /^[-+]?Infinity$/.test(s)
  ) {
    return Number(s);
  }
  return s;
}

export function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (err instanceof Deno.errors.IsADirectory) {
      throw new ResultsFileError(
        `Results path ${path} is a directory; name a CSV file with --results.`,
      );
    }
    if (err instanceof Deno.errors.NotADirectory) {
      throw new ResultsFileError(
        `Results path ${path} lies under a file, not a folder; name another path with --results.`,
      );
    }
    throw new ResultsFileError(
      `Results file ${path} cannot be read (${
        (err as Error).message
      }); fix its permissions or name another file with --results.`,
    );
  }
}

/** Columns that hold numbers: a cell there that is not one (e.g. "abc") sets its line aside. */
const NUMERIC = new Set([
  "clean",
  "train_size",
  "test_size",
  "seed",
  "final_train_loss",
  "train_seconds",
  "n",
  "eps",
  "accuracy",
  "seconds",
  "value",
  "se",
]);

/** Why a row's typed cells are damaged, or null: numbers that are not, flags without n bits. */
function cellProblem(row: ResultRow, cells: Record<string, string>): string | null {
  for (const [name, raw] of Object.entries(cells)) {
    if (NUMERIC.has(name) && raw !== "" && typeof row[name] !== "number") {
      return `holds ${JSON.stringify(raw.slice(0, 40))} in column ${name}, not a number`;
    }
  }
  const flags = row.robust_flags, n = row.n;
  if (typeof flags === "string" && typeof n === "number" && Number.isFinite(n)) {
    if (flags.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(flags)) {
      return "has robust_flags that are not base64";
    }
    const bytes = flags.length / 4 * 3 - (flags.match(/=+$/)?.[0].length ?? 0);
    if (bytes !== Math.ceil(n / 8)) {
      return `has robust_flags of ${bytes} bytes, n = ${n} needs ${Math.ceil(n / 8)}`;
    }
  }
  return null;
}

/** The column list a header is written from (runs, evaluations, or the caller's), if any. */
function knownColumns(header: string[], columns?: readonly string[]): readonly string[] | null {
  const starts = (c: readonly string[]) => c.slice(0, 3).every((h, i) => header[i] === h);
  return columns ?? [RUN_COLUMNS, EVAL_COLUMNS].find(starts) ?? null;
}

/** A table read strictly: its rows, typed, and the lines set aside. */
interface Table {
  header: string[];
  rows: ResultRow[];
  problems: LineProblem[];
}

function restore(path: string): string {
  return `restore the file (e.g. git checkout -- ${path}) or name another file with --results.`;
}

/** The header line's cells; a header with an unbalanced quote is not this project's. */
export function headerOf(path: string, text: string): string[] {
  const end = text.indexOf("\n");
  const header = splitCsvLine(text.slice(0, end < 0 ? text.length : end).replace(/\r$/, ""));
  if (header === null) {
    throw new ResultsFileError(
      `Results file ${path} has an unbalanced quote in its header; ${restore(path)}`,
    );
  }
  return header;
}

/**
 * Header and rows of CSV text, strictly (csv_rows.ts): a malformed line is set aside and named in
 * problems. Rows longer than a header that lacks columns of its kind mean a cut header: refused.
 */
export function parseTable(path: string, text: string, columns?: readonly string[]): Table {
  const header = headerOf(path, text);
  const names = new Set(header);
  if (names.size !== header.length || names.has("")) {
    throw new ResultsFileError(
      `Results file ${path} has an empty or repeated column name in its header; ${restore(path)}`,
    );
  }
  const known = knownColumns(header, columns);
  const lines = readCsvLines(text, known?.length ?? header.length);
  const long = lines.problems.find((p) => p.why.startsWith("has ") && p.why.includes("cells"));
  if (long && (header.length < (known?.length ?? Infinity) || lines.rows.length === 0)) {
    throw new ResultsFileError(
      `Results file ${path} is damaged: data row ${long.line - 1} ${
        long.why.replace(", the header names", " but the header names only")
      } (a truncated header, or not a results CSV); ${restore(path)}`,
    );
  }
  const problems = [...lines.problems];
  const rows: ResultRow[] = [];
  for (const { line, cells } of lines.rows) {
    const row: ResultRow = {};
    const raw: Record<string, string> = {};
    header.forEach((h, i) => {
      raw[h] = cells[i] ?? "";
      row[h] = parseCell(raw[h]);
    });
    const why = cellProblem(row, raw);
    if (why) problems.push({ line, why });
    else rows.push(row);
  }
  problems.sort((a, b) => a.line - b.line);
  return { header, rows, problems };
}

/** The rows and the lines set aside of a CSV file (both empty when it does not exist). */
export function readTable(
  path: string,
  columns?: readonly string[],
): { rows: ResultRow[]; problems: LineProblem[] } {
  const text = readText(path);
  if (text === null || text.trim() === "") return { rows: [], problems: [] };
  const { rows, problems } = parseTable(path, text, columns);
  return { rows, problems };
}

/**
 * The well-formed rows of a results CSV (numbers parsed, empty cells null); [] when the file does
 * not exist. Malformed lines are left out (auditResults names them).
 */
export function readResults(path: string, columns?: readonly string[]): ResultRow[] {
  return readTable(path, columns).rows;
}

/** "r.csv line 7 has an unbalanced quote; it is set aside ...": one sentence per line set aside. */
export function describeLineProblem(path: string, p: LineProblem): string {
  return `${path} line ${p.line} ${p.why}; it is set aside (read as absent, so its work runs again): repair or delete that line.`;
}

/** The columns every file of a kind must have (besides starting like its column list). */
const REQUIRED: Record<string, readonly string[]> = {
  runs: ["run_key", "clean"],
  evals: ["run_key", "eval_key", "n", "accuracy"],
};

/** Which file a column list is for; "other" (e.g. a measurement cache): header prefix check only. */
export const kindOf = (columns: readonly string[]) =>
  columns === EVAL_COLUMNS ? "evals" : columns === RUN_COLUMNS ? "runs" : "other";

/**
 * Why a header is not this project's, or null: it must start with the kind's columns in order
 * (later versions may append columns; committed files have exactly these) and hold its key columns.
 */
function headerProblem(header: string[], columns: readonly string[]): string | null {
  const kind = kindOf(columns);
  const n = Math.min(header.length, columns.length);
  const prefixOk = header.slice(0, n).every((h, i) => h === columns[i]);
  const missing = (REQUIRED[kind] ?? []).filter((c) => !header.includes(c));
  if (prefixOk && missing.length === 0) return null;
  const first = header.join(",");
  return `is not ${
    kind === "evals" ? "an evaluations" : "a results"
  } CSV of this project (its header ${
    prefixOk ? `lacks ${missing.join(", ")}` : `starts ${JSON.stringify(first.slice(0, 40))}`
  }, expected ${columns.slice(0, 3).join(",")},...)`;
}

/** Refuse a header that is not this project's (headerProblem), leaving the file unchanged. */
export function checkHeader(path: string, header: string[], columns: readonly string[]): void {
  const problem = headerProblem(header, columns);
  if (problem === null) return;
  throw new ResultsFileError(
    `${path} ${problem}; it was left unchanged: name a new file with --results or move this one away.`,
  );
}

/**
 * A file this project wrote, read strictly for merging or caching: null when it does not exist,
 * else its rows and lines set aside, or `damage` (a phrase) when the file as a whole is unusable
 * (empty, its header cut or not the kind's). Never throws for a damaged file.
 */
export function readOwnTable(
  path: string,
  columns: readonly string[],
): { rows: ResultRow[]; problems: LineProblem[]; damage?: string } | null {
  const text = readText(path);
  if (text === null) return null;
  if (text.trim() === "") return { rows: [], problems: [], damage: "is empty (no header)" };
  if (!text.includes("\n")) {
    return {
      rows: [],
      problems: [],
      damage: "is damaged: its header is cut (the file does not end with a newline)",
    };
  }
  try {
    const problem = headerProblem(headerOf(path, text), columns);
    if (problem) return { rows: [], problems: [], damage: `is damaged: it ${problem}` };
    return parseTable(path, text, columns);
  } catch (err) {
    if (!(err instanceof ResultsFileError)) throw err;
    return { rows: [], problems: [], damage: `is unreadable (${err.message})` };
  }
}

/** A runs row is finished when its clean accuracy is a finite number (a NaN row is not). */
export function isFinishedRun(r: ResultRow): boolean {
  return typeof r.run_key === "string" && typeof r.clean === "number" && Number.isFinite(r.clean);
}

/** An evaluation row is finished when its accuracy and point count are finite numbers. */
export function isFinishedEval(r: ResultRow): boolean {
  return typeof r.run_key === "string" && typeof r.eval_key === "string" &&
    [r.accuracy, r.n].every((v) => typeof v === "number" && Number.isFinite(v));
}

/** The identity of a row: a runs row by run_key, an evaluation row by run, evaluation and n. */
export function rowIdentity(kind: string, r: ResultRow): string {
  return kind === "evals" ? `${r.run_key}/${r.eval_key}@${r.n}` : String(r.run_key);
}

export const finishedOf = (kind: string) => (kind === "evals" ? isFinishedEval : isFinishedRun);

/**
 * One sentence per questionable row of a results file: a malformed line (set aside), a row
 * holding NaN where a number belongs (counted as unfinished, so its work runs again) and repeated
 * finished rows (one copy is used). Only rows of `keys` (run keys) when given; every malformed
 * line (its run key cannot be trusted). `show` spells the paths in the sentences.
 */
export function auditResults(
  resultsPath: string,
  keys?: ReadonlySet<string>,
  show: (path: string) => string = (p) => p,
): string[] {
  const notes: string[] = [];
  for (
    const [file, kind] of [[resultsPath, "runs"], [evalsPathFor(resultsPath), "evals"]] as const
  ) {
    const table = readTable(file);
    const p = show(file);
    notes.push(...table.problems.map((problem) => describeLineProblem(p, problem)));
    const rows = table.rows.filter((r) => !keys || keys.has(String(r.run_key)));
    const done = finishedOf(kind);
    const count = new Map<string, number>();
    for (const r of rows.filter(done)) {
      const id = rowIdentity(kind, r);
      count.set(id, (count.get(id) ?? 0) + 1);
    }
    for (const r of rows) {
      const id = rowIdentity(kind, r);
      if (done(r) || count.has(id)) continue;
      notes.push(
        kind === "runs"
          ? `${p}: the row of run ${r.row_id} seed ${r.seed} (${r.run_key}) has clean = ${r.clean}; it counts as unfinished and the run is trained again.`
          : `${p}: evaluation ${r.eval_key} of run ${r.run_key} has accuracy = ${r.accuracy}; it counts as missing and runs again.`,
      );
      count.set(id, 0); // once per identity
    }
    for (const [id, k] of count) {
      if (k > 1) {
        notes.push(`${p} holds ${k} finished rows of ${id}; one is used, the others are ignored.`);
      }
    }
  }
  return notes;
}

export function readEvals(resultsPath: string): ResultRow[] {
  return readResults(evalsPathFor(resultsPath));
}

// Writing: appending rows atomically and refusing files this user may not replace.
export * from "./results_write.ts";
