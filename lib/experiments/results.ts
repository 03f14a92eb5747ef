/**
 * Results of an experiment, in two append-only CSV files beside each other:
 * - <name>.csv: one row per finished training run (its settings, seed, training metrics, clean
 *   accuracy, wall time, the path of its saved model), keyed by run_key;
 * - <name>.evals.csv: one row per (run, evaluation): the evaluation's key ("pgd10_linf_8_255",
 *   "aa_linf_8_255"), attack, threat, options, number of test points, accuracy, the accuracy after
 *   each stage of a protocol, and the per-example robust flags (base64 bit mask) that AutoAttack-
 *   style worst cases need.
 * A new evaluation of finished runs appends rows; nothing finished is rewritten. Every write goes
 * to a temporary file in the same directory which is then renamed over the CSV (atomic), under a
 * lock file so concurrent runs cannot lose each other's rows. Accuracies are fractions in [0, 1].
 */
import { dirname } from "node:path";
import type { EvalResult } from "../training/evaluate.ts";
import { methodColumns } from "../training/method.ts";
import type { TrainResult } from "../training/train.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";

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
export function evalRows(runKey: string, ev: EvalResult, seed: number, backend: string): ResultRow[] {
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
    backend,
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

/**
 * Append one row to the CSV at path (created with `columns` as its header if absent), atomically.
 * A row with a column the header lacks extends the header; old rows get empty cells there.
 */
export function appendRow(path: string, columns: readonly string[], row: ResultRow): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  withLock(path, () => {
    const text = readText(path);
    const existing = text && text.trim() !== "" ? parseCsv(text) : [];
    const oldHeader = existing.length ? existing[0] : [...columns];
    const header = [...oldHeader];
    for (const k of [...columns, ...Object.keys(row)]) {
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

export function appendRun(path: string, row: ResultRow): void {
  appendRow(path, RUN_COLUMNS, row);
}

export function appendEval(resultsPath: string, row: ResultRow): void {
  appendRow(evalsPathFor(resultsPath), EVAL_COLUMNS, row);
}

export function readEvals(resultsPath: string): ResultRow[] {
  return readResults(evalsPathFor(resultsPath));
}
