/**
 * AutoAttack beside PGD-10, read from a results file: per run the gap between the two on the same
 * test points (PGD-10's per-example flags restricted to AutoAttack's first n points), the accuracy
 * after each AutoAttack stage, and row summaries in which the AutoAttack columns carry an honest
 * noise estimate for the claim checks.
 */
import { threatLabel } from "../attacks/attack.ts";
import type { EvalColumn } from "../experiments/columns.ts";
import type { ResultRow } from "../experiments/results.ts";
import { familyOf } from "../training/method.ts";
import { accuracyOnFirst, columnOf, sameThreat, steps } from "./masking.ts";
import type { RowSummary } from "./summary.ts";

export interface AttackGap {
  rowId: string;
  seed: number;
  threat: string;
  /** Test points AutoAttack ran on (the first n of the preset's test set). */
  n: number;
  /** PGD-10 accuracy on those points. */
  pgd10: number;
  autoattack: number;
  /** Accuracy after each stage (APGD-CE, APGD-T, Square). */
  stages: { attack: string; accuracy: number }[];
  /** pgd10 - autoattack: how much PGD-10 overstates robustness on these points. */
  gap: number;
}

/** One gap per (run, AutoAttack column); runs without AutoAttack are left out. */
export function attackGaps(runs: readonly ResultRow[], evals: readonly ResultRow[]): AttackGap[] {
  const out: AttackGap[] = [];
  for (const run of runs) {
    const cols = evals.filter((e) => e.run_key === run.run_key).map(columnOf);
    for (const aa of cols.filter((c) => c.spec.attack === "autoattack")) {
      const n = aa.robust.length;
      const pgd = cols.find((c) => c.spec.attack === "pgd" && steps(c) === 10 && sameThreat(c, aa));
      const pgd10 = pgd ? accuracyOnFirst(pgd, n) : null;
      if (pgd10 === null) continue;
      out.push({
        rowId: String(run.row_id),
        seed: Number(run.seed),
        threat: threatLabel(aa.spec.norm, aa.spec.eps),
        n,
        pgd10,
        autoattack: aa.accuracy,
        stages: aa.stages,
        gap: pgd10 - aa.accuracy,
      });
    }
  }
  return out;
}

/** The gaps grouped by method family (ST, SAM, AT, ...): what the notebook and README summarise. */
export function gapsByFamily(
  gaps: readonly AttackGap[],
  summaries: readonly RowSummary[],
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const g of gaps) {
    const s = summaries.find((x) => x.row.id === g.rowId);
    const family = s ? familyOf(s.row.method) : g.rowId;
    out.set(family, [...(out.get(family) ?? []), g.gap]);
  }
  return out;
}

/** Table records of the gaps (percent, one decimal). */
export function gapRecords(gaps: readonly AttackGap[], label: (rowId: string) => string) {
  const pct = (v: number) => (100 * v).toFixed(1);
  return gaps.map((g) => ({
    row: label(g.rowId),
    seed: g.seed,
    threat: g.threat,
    points: g.n,
    "PGD-10": pct(g.pgd10),
    ...Object.fromEntries(g.stages.map((s) => [`after ${s.attack}`, pct(s.accuracy)])),
    "PGD-10 − AutoAttack": pct(g.gap),
  }));
}

/** The AutoAttack columns of a preset's columns. */
export function autoattackColumns(columns: readonly EvalColumn[]): EvalColumn[] {
  return columns.filter((c) => c.attack === "autoattack");
}

/** The columns of the main table: clean, PGD-10 and AutoAttack (not the masking companions). */
export function tableColumns(columns: readonly EvalColumn[]): EvalColumn[] {
  return columns.filter((c) =>
    c.key === "clean" || c.key.startsWith("pgd10_") || c.attack === "autoattack"
  );
}

/**
 * Row summaries for checking the claims under AutoAttack. AutoAttack ran on one seed's runs and
 * on the first `limit` points, so its own seed-to-seed spread is unknown: the std of PGD-10 at the
 * same threat over the row's seeds stands in for it, and the binomial error uses AutoAttack's
 * point count. Clean accuracy keeps its own statistics. (Stated in the notebook.)
 */
export function autoattackSummaries(
  summaries: readonly RowSummary[],
  columns: readonly EvalColumn[],
): RowSummary[] {
  const aaCols = autoattackColumns(columns);
  const pgdKey = (c: EvalColumn) =>
    columns.find((p) =>
      p.key.startsWith("pgd10_") && p.norm === c.norm &&
      Math.abs((p.eps ?? 0) - (c.eps ?? 0)) < 1e-9
    )?.key;
  return summaries.map((s) => {
    const metrics = { clean: s.metrics.clean };
    for (const c of aaCols) {
      const m = s.metrics[c.key];
      const k = pgdKey(c);
      metrics[c.key as "clean"] = m && k ? { ...m, std: s.metrics[k]?.std ?? NaN } : m;
    }
    const limit = Math.min(...aaCols.map((c) => c.limit ?? Infinity));
    return { ...s, metrics, testSize: Math.min(s.testSize, limit) };
  });
}
