/**
 * The wide view analyses read: one row per finished run, its runs-file columns plus one column
 * per evaluation key holding the accuracy ("pgd10_linf_8_255": 0.354), and "<key>_n" holding the
 * number of test points that evaluation used.
 */
import type { GridPlan } from "./plan.ts";
import type { ResultRow } from "./results.ts";

export function wideRows(
  runs: readonly ResultRow[],
  evals: ReadonlyMap<string, ReadonlyMap<string, ResultRow>>,
): ResultRow[] {
  return runs.map((r) => {
    const out: ResultRow = { ...r };
    for (const [key, e] of evals.get(String(r.run_key)) ?? []) {
      out[key] = e.accuracy;
      out[`${key}_n`] = e.n;
    }
    return out;
  });
}

/** The finished runs of a plan in the wide view (reads files; trains nothing). */
export function planTable(plan: GridPlan): ResultRow[] {
  const runs = plan.runs.map((r) => plan.existing.get(r.runKey)).filter((r): r is ResultRow => !!r);
  return wideRows(runs, plan.evals);
}
