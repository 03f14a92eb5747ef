/**
 * Results CSV: one row per finished run (settings, metrics, seed, backend, wall time).
 *
 * The header is stable: RESULT_COLUMNS in that order (the paper's four robust columns included),
 * then any further metric columns (e.g. "linf_8_255") in the order they first appear. Appending a
 * row with a new column rewrites the file with the longer header; old rows get empty cells there.
 * Every write goes to a temporary file in the same directory which is then renamed over the CSV
 * (atomic), under a lock file so concurrent runs cannot lose each other's rows.
 * Accuracies are fractions in [0, 1].
 */
import { dirname } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import type { EvalResult } from "../training/evaluate.ts";
import type { TrainConfig, TrainResult } from "../training/train.ts";

export type Cell = string | number | boolean | null;
export type ResultRow = Record<string, Cell>;

export const ROBUST_COLUMNS = ["linf_1_255", "linf_2_255", "l2_16_255", "l2_32_255"] as const;

export const RESULT_COLUMNS = [
  "run_id",
  "finished_at",
  "dataset",
  "train_size",
  "test_size",
  "arch",
  "width",
  "method",
  "rho",
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
  ...ROBUST_COLUMNS,
  "train_seconds",
  "eval_seconds",
] as const;

export interface RowParts {
  runId?: string;
  dataset: string;
  trainSize: number;
  testSize: number;
  train: Pick<TrainResult, "metrics" | "trainSeconds" | "augment"> & { config: TrainConfig };
  eval: EvalResult;
  backend: string;
  /** Extra columns (e.g. a preset name); appended after the standard ones. */
  extra?: ResultRow;
}

/** The CSV row of one finished run. */
export function makeResultRow(p: RowParts): ResultRow {
  const c = p.train.config;
  const last = p.train.metrics[p.train.metrics.length - 1];
  const row: ResultRow = {
    run_id: p.runId ?? null,
    finished_at: new Date().toISOString(),
    dataset: p.dataset,
    train_size: p.trainSize,
    test_size: p.testSize,
    arch: c.arch,
    width: c.width,
    method: c.method,
    rho: c.rho ?? null,
    norm: c.norm ?? null,
    eps: c.eps ?? null,
    alpha: c.alpha ?? null,
    steps: c.steps ?? null,
    epochs: c.epochs,
    batch_size: c.batchSize,
    lr: c.lr,
    momentum: c.momentum,
    weight_decay: c.weightDecay,
    augment: p.train.augment,
    running_stats: c.runningStats,
    seed: c.seed,
    backend: p.backend,
    final_train_loss: last ? last.trainLoss : null,
    clean: p.eval.clean,
    train_seconds: p.train.trainSeconds,
    eval_seconds: p.eval.seconds,
  };
  for (const k of ROBUST_COLUMNS) row[k] = null;
  Object.assign(row, p.eval.robust, p.extra ?? {});
  return row;
}

function formatCell(v: Cell | undefined): string {
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

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** The rows of a results CSV (numbers parsed, empty cells null); [] when the file does not exist. */
export function readResults(path: string): ResultRow[] {
  const text = readText(path);
  if (text === null || text.trim() === "") return [];
  const [header, ...rows] = parseCsv(text);
  return rows.filter((r) => !(r.length === 1 && r[0] === "")).map((r) => {
    const out: ResultRow = {};
    header.forEach((h, i) => (out[h] = parseCell(r[i] ?? "")));
    return out;
  });
}

function withLock<T>(path: string, body: () => T): T {
  const lock = `${path}.lock`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      Deno.openSync(lock, { write: true, createNew: true }).close();
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      try {
        // A lock older than a minute was left by a killed process.
        const age = Date.now() - (Deno.statSync(lock).mtime?.getTime() ?? Date.now());
        if (age > 60_000) Deno.removeSync(lock);
      } catch { /* it went away meanwhile */ }
      if (Date.now() > deadline) {
        throw new Error(
          `Results file ${path} stayed locked for 30 s; delete ${lock} if no run is writing.`,
        );
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); // sleep 50 ms
    }
  }
  try {
    return body();
  } finally {
    try {
      Deno.removeSync(lock);
    } catch { /* already gone */ }
  }
}

/** Append one row to the CSV at path (created with its header if absent), atomically. */
export function appendResult(path: string, row: ResultRow): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  withLock(path, () => {
    const text = readText(path);
    const existing = text && text.trim() !== "" ? parseCsv(text) : [];
    const oldHeader = existing.length ? existing[0] : [...RESULT_COLUMNS];
    const header = [...oldHeader];
    for (const k of [...RESULT_COLUMNS, ...Object.keys(row)]) {
      if (!header.includes(k)) header.push(k);
    }
    const lines = [header.map((h) => formatCell(h)).join(",")];
    for (const r of existing.slice(1)) {
      if (r.length === 1 && r[0] === "") continue;
      const byName = new Map(oldHeader.map((h, i) => [h, r[i] ?? ""]));
      lines.push(header.map((h) => formatCell(byName.get(h) ?? "")).join(","));
    }
    lines.push(header.map((h) => formatCell(row[h])).join(","));
    writeFileAtomic(path, new TextEncoder().encode(lines.join("\n") + "\n"));
  });
}
