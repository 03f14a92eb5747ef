/**
 * From results rows to what the table notebooks show: mean ± std over seeds per grid row, the
 * paper's numbers in the same shape, differences with their uncertainty, and the paper's
 * qualitative claims checked on the data. Pure computation; the notebooks only display.
 *
 * Uncertainty of a difference of two rows' mean accuracies (a, b over n_a, n_b seeds, N test images):
 *   se = sqrt(s_a^2/n_a + s_b^2/n_b + (a(1-a) + b(1-b))/N)
 * i.e. the seed-to-seed spread of each mean plus the binomial sampling error of a finite test set,
 * counted as if the two rows were tested on independent images. They share the test images, so
 * this overstates the test-sampling part: a conservative choice. A difference "holds" when it
 * lies more than 2 se in the claimed direction, is "opposite" beyond 2 se the other way, and is
 * "within noise" otherwise.
 */
import { fileURLToPath } from "node:url";
import { attackPasses, resolveAttack } from "../attacks/registry.ts";
import type { EvalColumn } from "../experiments/columns.ts";
import { ALL_ROWS, GRID, type GridRow, paperRowId } from "../experiments/grid.ts";
import { familyOf, optimizerPasses } from "../training/method.ts";
import { parseCsv, type ResultRow } from "../experiments/results.ts";

export interface Stat {
  mean: number;
  /** Sample standard deviation over seeds (n - 1); NaN for one seed. */
  std: number;
  n: number;
}

export interface RowSummary {
  row: GridRow;
  seeds: number[];
  /** Accuracies (fractions) by column key: "clean", "pgd10_linf_1_255", ... */
  metrics: Record<string, Stat>;
  /** Training seconds per epoch: the median epoch of each run where recorded (NaN for the paper's numbers). */
  epochSeconds: Stat;
  /** Test images per evaluation (Infinity when unknown, e.g. the paper's full test set is used as exact). */
  testSize: number;
  /** 1-minute load average when each run finished (NaN if not recorded). */
  loadAvg: Stat;
}

export function stat(values: readonly number[]): Stat {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((s, x) => s + x, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, std, n };
}

const num = (v: unknown): number => (typeof v === "number" ? v : NaN);

/** Seconds per training epoch of a run: the median epoch where recorded, else the mean. */
function epochSeconds(r: ResultRow): number {
  const med = num(r.median_epoch_seconds);
  return Number.isFinite(med) ? med : num(r.train_seconds) / num(r.epochs);
}

/** Mean ± std per grid row (table order; rows with no results left out). */
export function summarize(
  rows: readonly ResultRow[],
  columns: readonly EvalColumn[],
  gridRows: readonly GridRow[] = ALL_ROWS,
): RowSummary[] {
  const out: RowSummary[] = [];
  for (const row of gridRows) {
    const mine = rows.filter((r) => r.row_id === row.id);
    if (mine.length === 0) continue;
    const metrics: Record<string, Stat> = {};
    for (const c of columns) metrics[c.key] = stat(mine.map((r) => num(r[c.key])));
    out.push({
      row,
      seeds: mine.map((r) => num(r.seed)),
      metrics,
      epochSeconds: stat(mine.map(epochSeconds)),
      testSize: Math.min(...mine.map((r) => num(r.test_size))),
      loadAvg: stat(mine.map((r) => num(r.load_avg_1m))),
    });
  }
  return out;
}

export const PAPER_TABLES_PATH = fileURLToPath(
  new URL("../../data/paper_tables.csv", import.meta.url),
);

/** data/paper_tables.csv column -> our column key. */
const PAPER_CSV_COLUMNS: Record<string, string> = {
  natural: "clean",
  linf_1_255: "pgd10_linf_1_255",
  linf_2_255: "pgd10_linf_2_255",
  l2_16_255: "pgd10_l2_16_255",
  l2_32_255: "pgd10_l2_32_255",
};

/** The paper's std bound ("std < 0.5%"), used where its numbers are compared. */
export const PAPER_STD_BOUND = 0.005;

/**
 * The paper's table for cifar10 (Table 2) or cifar100 (Table 1) as summaries: means of its
 * 3 runs (std not published: NaN here; the paper says < 0.5%), accuracies as fractions.
 */
export function paperSummaries(
  dataset: "cifar10" | "cifar100",
  path = PAPER_TABLES_PATH,
): RowSummary[] {
  const [header, ...lines] = parseCsv(Deno.readTextFileSync(path)).filter((l) => l.length > 1);
  const records = lines.map((l) => Object.fromEntries(header.map((h, i) => [h, l[i]])));
  const none = stat([]);
  return GRID.flatMap((row) => {
    const rec = records.find((r) => r.dataset === dataset && paperRowId(r) === row.id);
    if (!rec) return [];
    const metrics: Record<string, Stat> = {};
    for (const [csv, key] of Object.entries(PAPER_CSV_COLUMNS)) {
      metrics[key] = { mean: Number(rec[csv]) / 100, std: NaN, n: 3 };
    }
    return [{
      row,
      seeds: [],
      metrics,
      epochSeconds: none,
      testSize: Infinity,
      loadAvg: none,
    }];
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** "81.2 ± 0.4" (percent, 1 decimal, std over seeds); "81.2" for one value; "–" for none. */
export function formatPct(s: Stat | undefined): string {
  if (!s || !Number.isFinite(s.mean)) return "–";
  return Number.isFinite(s.std)
    ? `${(100 * s.mean).toFixed(1)} ± ${(100 * s.std).toFixed(1)}`
    : (100 * s.mean).toFixed(1);
}

/** One display record per row: label, seeds, then each column as "mean ± std" in percent. */
export function tableRecords(
  summaries: readonly RowSummary[],
  columns: readonly EvalColumn[],
): Record<string, string>[] {
  return summaries.map((s) => ({
    row: s.row.label,
    seeds: s.seeds.length ? String(s.seeds.length) : "3 (paper)",
    ...Object.fromEntries(columns.map((c) => [c.label, formatPct(s.metrics[c.key])])),
  }));
}

// ---------------------------------------------------------------------------------------------
// Differences and claims

export interface Diff {
  /** mean(a) - mean(b), as a fraction (0.05 = 5 percentage points). */
  diff: number;
  /** Standard error of diff (see the file comment); NaN when it cannot be computed. */
  se: number;
}

/**
 * mean(a) - mean(b) with its standard error. `fallbackStd` stands in for an unknown std (the
 * paper's numbers: it states std < 0.5%, so 0.005 is used there).
 */
export function difference(a: Stat, b: Stat, testSize: number, fallbackStd = 0): Diff {
  const seedVar = (s: Stat) => {
    const sd = Number.isFinite(s.std) ? s.std : fallbackStd;
    // One seed with a stand-in std (AutoAttack's columns borrow PGD-10's) counts it too.
    return (sd * sd) / Math.max(1, s.n);
  };
  const binom = (s: Stat) => (Number.isFinite(testSize) ? (s.mean * (1 - s.mean)) / testSize : 0);
  const diff = a.mean - b.mean;
  const se = Math.sqrt(seedVar(a) + seedVar(b) + binom(a) + binom(b));
  return { diff, se: Number.isFinite(diff) ? se : NaN };
}

export type Verdict = "holds" | "within noise" | "opposite" | "no data";

/** Does diff lie beyond 2 se in the expected direction (+1: a > b expected, -1: a < b expected)? */
export function verdict(d: Diff, expected: 1 | -1): Verdict {
  if (!Number.isFinite(d.diff)) return "no data";
  // With no sampling error (e.g. both rows at 0% robust accuracy) only the sign decides, and a
  // difference of exactly 0 is no difference.
  const signed = expected * d.diff;
  const z = d.se > 0 ? signed / d.se : signed > 0 ? Infinity : signed < 0 ? -Infinity : 0;
  if (z > 2) return "holds";
  if (z < -2) return "opposite";
  return "within noise";
}

const MARK: Record<Verdict, string> = {
  holds: "✓",
  "within noise": "≈",
  opposite: "✗",
  "no data": "",
};

/** "+12.3 ± 2.1 ✓" in percentage points (no ± when se is 0, e.g. the paper's numbers). */
export function formatDiff(d: Diff, v: Verdict, mark = true): string {
  if (v === "no data") return "–";
  const sign = d.diff >= 0 ? "+" : "−";
  const body = `${sign}${Math.abs(100 * d.diff).toFixed(1)}${
    d.se > 0 ? ` ± ${(100 * d.se).toFixed(1)}` : ""
  }`;
  return mark ? `${body} ${MARK[v]}` : body;
}

export interface Cell {
  row: string;
  column: string;
  diff: Diff;
  verdict: Verdict;
  /** The point estimate lies on the claimed side (significant or not). */
  claimedSide: boolean;
}

/** a - b for each pair and column, with the verdict for the expected sign of each column. */
export function compareRows(
  pairs: readonly { a: RowSummary; b: RowSummary }[],
  columns: readonly EvalColumn[],
  expected: (c: EvalColumn) => 1 | -1,
  fallbackStd = 0,
): Cell[] {
  return pairs.flatMap(({ a, b }) =>
    columns.map((c) => {
      const d = difference(
        a.metrics[c.key] ?? stat([]),
        b.metrics[c.key] ?? stat([]),
        Math.min(a.testSize, b.testSize),
        fallbackStd,
      );
      return {
        row: a.row.id,
        column: c.key,
        diff: d,
        verdict: verdict(d, expected(c)),
        claimedSide: expected(c) * d.diff > 0,
      };
    })
  );
}

/** Cells as display records: one record per compared row, one field per column label. */
export function cellRecords(
  cells: readonly Cell[],
  columns: readonly EvalColumn[],
  rowLabel = "row",
): Record<string, string>[] {
  const rows = [...new Set(cells.map((c) => c.row))];
  return rows.map((r) => ({
    [rowLabel]: r,
    ...Object.fromEntries(columns.map((col) => {
      const cell = cells.find((c) => c.row === r && c.column === col.key);
      return [col.label, cell ? formatDiff(cell.diff, cell.verdict) : "–"];
    })),
  }));
}

/** A claim's outcome from its comparisons (see claimOutcome). */
export type ClaimOutcome =
  | "holds"
  | "holds in part"
  | "shown only weakly"
  | "not shown"
  | "holds only in part, with exceptions"
  | "does not hold";

export type ClaimId = "1a" | "1b" | "2a" | "2b";

/** A claim checked on data: its outcome, the counts it rests on, and every comparison. */
export interface ClaimCheck {
  id: ClaimId;
  /** The claim in words, e.g. "1a. SAM alone raises PGD robust accuracy above ST". */
  claim: string;
  /** What was compared, in words. */
  test: string;
  outcome: ClaimOutcome;
  holds: number;
  withinNoise: number;
  opposite: number;
  /** Comparisons whose point estimate lies on the claimed side (significant or not). */
  claimedSide: number;
  total: number;
  /** The most robust SAM row (claim 2a's comparison row). */
  against?: string;
  cells: Cell[];
}

/**
 * A claim's outcome from its comparisons: "holds" (all beyond 2 SE the claimed way), "holds in
 * part" (at least half do, none go the other way), "shown only weakly" (fewer than half do, none
 * the other way), "not shown" (all within noise), "holds only in part, with exceptions" (some each
 * way), "does not hold" (none the claimed way, some the other).
 */
export function claimOutcome(
  k: { holds: number; withinNoise: number; opposite: number },
  total: number,
): ClaimOutcome {
  if (k.holds === total) return "holds";
  if (k.opposite === 0) {
    if (k.holds === 0) return "not shown";
    return 2 * k.holds >= total ? "holds in part" : "shown only weakly";
  }
  return k.holds > 0 ? "holds only in part, with exceptions" : "does not hold";
}

/** Claim 1b ("keeps or improves"): it holds unless a SAM row loses clean accuracy beyond 2 SE. */
function keepsOutcome(opposite: number, total: number): ClaimOutcome {
  return opposite === 0 ? "holds" : opposite === total ? "does not hold" : "holds in part";
}

function countVerdicts(cells: readonly Cell[]) {
  return {
    holds: cells.filter((c) => c.verdict === "holds").length,
    withinNoise: cells.filter((c) => c.verdict === "within noise").length,
    opposite: cells.filter((c) => c.verdict === "opposite").length,
    claimedSide: cells.filter((c) => c.claimedSide).length,
    total: cells.length,
  };
}

/** The SAM row with the highest mean robust accuracy (averaged over the robust columns). */
export function strongestSam(
  summaries: readonly RowSummary[],
  robust: readonly EvalColumn[],
): RowSummary | undefined {
  const sams = summaries.filter((s) => familyOf(s.row.method) === "SAM");
  const score = (s: RowSummary) => robust.reduce((t, c) => t + (s.metrics[c.key]?.mean ?? 0), 0);
  return sams.reduce<RowSummary | undefined>(
    (best, s) => (!best || score(s) > score(best) ? s : best),
    undefined,
  );
}

/**
 * The paper's qualitative claims, checked on `summaries`:
 *  1a SAM raises robust accuracy over ST; 1b SAM keeps or improves clean accuracy;
 *  2a AT is more robust than (the most robust) SAM; 2b AT loses clean accuracy against ST.
 * (The cost claim is costRatios.) Claims whose rows are missing are left out. The sentences are
 * lib/report/claim_text.ts's.
 */
export function checkClaims(
  summaries: readonly RowSummary[],
  columns: readonly EvalColumn[],
  fallbackStd = 0,
): ClaimCheck[] {
  const robust = columns.filter((c) => c.key !== "clean");
  const clean = columns.filter((c) => c.key === "clean");
  const st = summaries.find((s) => familyOf(s.row.method) === "ST");
  const sams = summaries.filter((s) => familyOf(s.row.method) === "SAM");
  const ats = summaries.filter((s) => familyOf(s.row.method) === "AT");
  const best = strongestSam(summaries, robust);
  const out: ClaimCheck[] = [];
  const make = (
    id: ClaimId,
    claim: string,
    test: string,
    cells: Cell[],
    outcome: (k: ReturnType<typeof countVerdicts>) => ClaimOutcome,
    against?: string,
  ) => {
    const k = countVerdicts(cells);
    out.push({
      id,
      claim,
      test,
      outcome: outcome(k),
      ...k,
      cells,
      ...(against ? { against } : {}),
    });
  };
  const usual = (k: ReturnType<typeof countVerdicts>) => claimOutcome(k, k.total);
  if (st && sams.length) {
    const pairs = sams.map((a) => ({ a, b: st }));
    make(
      "1a",
      "1a. SAM alone raises PGD robust accuracy above ST",
      "SAM − ST, robust columns",
      compareRows(pairs, robust, () => 1, fallbackStd),
      usual,
    );
    make(
      "1b",
      "1b. SAM keeps or improves clean accuracy",
      "SAM − ST, clean accuracy",
      compareRows(pairs, clean, () => 1, fallbackStd),
      (k) => keepsOutcome(k.opposite, k.total),
    );
  }
  if (best && ats.length) {
    make(
      "2a",
      `2a. AT gives far more robustness than SAM (compared with the most robust SAM row, ${best.row.id})`,
      `AT − ${best.row.id}, robust columns`,
      compareRows(ats.map((a) => ({ a, b: best })), robust, () => 1, fallbackStd),
      usual,
      best.row.id,
    );
  }
  if (st && ats.length) {
    make(
      "2b",
      "2b. AT loses clean accuracy (compared with ST)",
      "AT − ST, clean accuracy",
      compareRows(ats.map((a) => ({ a, b: st })), clean, () => -1, fallbackStd),
      usual,
    );
  }
  return out;
}

export interface CostRatio {
  row: string;
  label: string;
  /** Mean training seconds per epoch. */
  epochSeconds: Stat;
  /** Relative to ST's mean seconds per epoch. */
  ratio: number;
  /** Spread of the ratio from the per-seed spread of both (first order). */
  ratioStd: number;
  /** The paper's statement for this row, if it makes one: SAM ~2x, 10-step AT ~10x. */
  paperClaim?: number;
  /**
   * Passes through the model per training step, as the plugins state them: the optimizer's
   * gradient passes (ST 1, SAM 2, LookSAM 1 + 1/k) plus the input attack's passes, input-gradient
   * and forward-only alike (PGD-k: k). So ST 1, SAM 2, AT-10 11, SAM+AT-10 12.
   */
  passes: number;
}

/** Training cost per epoch of every row relative to ST (needs the ST row). */
export function costRatios(summaries: readonly RowSummary[]): CostRatio[] {
  const st = summaries.find((s) => familyOf(s.row.method) === "ST");
  if (!st || !Number.isFinite(st.epochSeconds.mean)) return [];
  const rel = (s: Stat) => (Number.isFinite(s.std) && s.mean > 0 ? s.std / s.mean : 0);
  return summaries.map((s) => {
    const ratio = s.epochSeconds.mean / st.epochSeconds.mean;
    const family = familyOf(s.row.method);
    const steps = Number(s.row.method.perturb?.options?.steps ?? 0);
    const p = s.row.method.perturb;
    const attack = p ? attackPasses(resolveAttack(p)) : { inputGradient: 0, forward: 0 };
    const passes = optimizerPasses(s.row.method) + attack.inputGradient + attack.forward;
    const paperClaim = family === "SAM" ? 2 : family === "AT" && steps === 10 ? 10 : undefined;
    return {
      row: s.row.id,
      label: s.row.label,
      epochSeconds: s.epochSeconds,
      ratio,
      ratioStd: family === "ST" ? 0 : ratio * Math.hypot(rel(s.epochSeconds), rel(st.epochSeconds)),
      paperClaim,
      passes,
    };
  });
}

/** The cost claim as a value: a family's mean ratio to ST against the paper's "about" figure. */
export interface CostCheck {
  /** "SAM" or "10-step PGD AT". */
  what: string;
  /** The paper's figure: 2 (SAM) or 10 (10-step PGD AT). */
  claim: number;
  mean: number;
  rows: CostRatio[];
  /** The mean lies within ±30% of the paper's figure. */
  holds: boolean;
}

/** The cost claim checked for SAM (about 2x ST) and 10-step PGD AT (about 10x), where measured. */
export function costChecks(ratios: readonly CostRatio[]): CostCheck[] {
  const out: CostCheck[] = [];
  for (const [claim, what] of [[2, "SAM"], [10, "10-step PGD AT"]] as const) {
    const rows = ratios.filter((r) => r.paperClaim === claim);
    if (rows.length === 0) continue;
    const mean = rows.reduce((s, r) => s + r.ratio, 0) / rows.length;
    out.push({ what, claim, mean, rows, holds: mean >= 0.7 * claim && mean <= 1.3 * claim });
  }
  return out;
}
