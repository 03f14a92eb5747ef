/**
 * The gradient-masking checks of every AutoAttack evaluation in a results file, read from the
 * evaluation rows the preset ran beside it (lib/experiments/columns.ts aaEvals: PGD-50 and
 * APGD-CE-100 at the same threat and points, APGD-CE at L-inf 0.5). The checks themselves are the
 * pure functions of lib/attacks/masking_checks.ts; this file only turns CSV rows into their
 * inputs, so re-rendering a report never reruns an attack.
 *
 * Per AutoAttack column of a run:
 *   (a) square-after-apgd  Square's extra errors after APGD-CE + APGD-T (from the stage accuracies)
 *   (b) large-radius       APGD-CE accuracy at L-inf 0.5 (one per run)
 *   (c) more-steps         PGD-50 and APGD-CE-100 vs PGD-10 on the same first n points (PGD-10's
 *                          per-example flags restricted to them)
 *   (d) ordering           every full-test column <= clean, each attack non-increasing in eps
 * A check whose rows are missing (e.g. a results file from before these columns) is left out.
 */
import {
  checkLargeRadius,
  checkMoreSteps,
  checkOrdering,
  checkSquareAfterApgd,
  type MaskingCheck,
} from "../attacks/masking_checks.ts";
import { threatLabel } from "../attacks/attack.ts";
import { LARGE_LINF } from "../experiments/columns.ts";
import { base64ToFlags, type ResultRow } from "../experiments/results.ts";
import type { EvalColumnResult, EvalResult } from "../training/evaluate.ts";

export interface RunChecks {
  runKey: string;
  /** The AutoAttack column these checks belong to, e.g. "aa_linf_8_255". */
  evalKey: string;
  threat: string;
  n: number;
  checks: MaskingCheck[];
}

/** An evaluations-CSV row as the shape the pure checks take. */
export function columnOf(r: ResultRow): EvalColumnResult {
  const n = Number(r.n);
  const options = typeof r.options === "string" && r.options ? JSON.parse(r.options) : {};
  return {
    key: String(r.eval_key),
    label: `${r.eval_key}`,
    spec: { attack: String(r.attack), norm: r.norm as "linf" | "l2", eps: Number(r.eps), options },
    accuracy: Number(r.accuracy),
    robust: typeof r.robust_flags === "string"
      ? base64ToFlags(r.robust_flags, n)
      : new Uint8Array(),
    stages: typeof r.stages === "string" && r.stages ? JSON.parse(r.stages) : [],
    seconds: Number(r.seconds),
  };
}

/** Accuracy of a column on its first n points, from its per-example flags (null if it has none). */
export function accuracyOnFirst(c: EvalColumnResult, n: number): number | null {
  if (c.robust.length < n) return null;
  let hits = 0;
  for (let i = 0; i < n; i++) hits += c.robust[i];
  return hits / n;
}

const isAutoAttack = (c: EvalColumnResult) => c.spec.attack === "autoattack";
export const sameThreat = (a: EvalColumnResult, b: EvalColumnResult) =>
  a.spec.norm === b.spec.norm && Math.abs(a.spec.eps - b.spec.eps) < 1e-9;
export const steps = (c: EvalColumnResult) => Number(c.spec.options.steps);

/**
 * The checks of one run: `run` is its runs-CSV row (its clean accuracy on all `nTest` points),
 * `rows` its evaluation rows.
 */
export function runMaskingChecks(
  run: ResultRow,
  rows: readonly ResultRow[],
  nTest: number,
): RunChecks[] {
  const cols = rows.map(columnOf);
  const full = cols.filter((c) => Number.isFinite(c.accuracy) && c.robust.length === nTest);
  const ordering = checkOrdering(
    {
      n: nTest,
      clean: Number(run.clean),
      correct: new Uint8Array(),
      evals: Object.fromEntries(full.filter((c) => !isAutoAttack(c)).map((c) => [c.key, c])),
      robust: {},
      seconds: 0,
    } satisfies EvalResult,
  );
  const large = cols.find((c) =>
    c.spec.attack === "apgd-ce" && c.spec.norm === "linf" && c.spec.eps === LARGE_LINF
  );
  return cols.filter(isAutoAttack).map((aa) => {
    const n = aa.robust.length;
    const at = (attack: string, s: number) =>
      cols.find((c) => c.spec.attack === attack && steps(c) === s && sameThreat(c, aa));
    const label = `AutoAttack ${threatLabel(aa.spec.norm, aa.spec.eps)}`;
    const checks: MaskingCheck[] = [checkSquareAfterApgd({ ...aa, label })];
    if (large) {
      checks.push(checkLargeRadius(large.accuracy, `APGD-CE-20 L∞ ${LARGE_LINF}`));
    }
    const pgd10 = at("pgd", 10);
    const pgd10First = pgd10 ? accuracyOnFirst(pgd10, n) : null;
    const stronger = [at("pgd", 50), at("apgd-ce", 100)]
      .filter((c): c is EvalColumnResult => !!c && c.robust.length === n)
      .map((c) => ({
        label: `${c.spec.attack === "pgd" ? "PGD-50" : "APGD-CE-100"}`,
        accuracy: c.accuracy,
      }));
    if (pgd10First !== null && stronger.length) {
      checks.push(checkMoreSteps({ label: `PGD-10 (first ${n})`, accuracy: pgd10First }, stronger));
    }
    checks.push(ordering);
    return {
      runKey: String(run.run_key),
      evalKey: aa.key,
      threat: threatLabel(aa.spec.norm, aa.spec.eps),
      n,
      checks,
    };
  });
}

/** Every run's checks; `evals` holds every evaluation row of the results file. */
export function maskingChecksOfResults(
  runs: readonly ResultRow[],
  evals: readonly ResultRow[],
  nTest: number,
): RunChecks[] {
  const byRun = new Map<string, ResultRow[]>();
  for (const e of evals) byRun.set(String(e.run_key), [...(byRun.get(String(e.run_key)) ?? []), e]);
  return runs.flatMap((r) => runMaskingChecks(r, byRun.get(String(r.run_key)) ?? [], nTest));
}
