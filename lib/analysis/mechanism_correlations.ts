/**
 * Spearman rank correlations of every mechanism measure with robust accuracy, per results file and
 * subset of runs, with a bootstrap interval and an exact permutation p-value. All ours.
 */
import { bootstrapInterval, type Interval, permutationPValue, spearman } from "./correlation.ts";
import { MEASURES, robustKeys, type RunMeasures } from "./mechanism_data.ts";
import { robustLabel } from "./robust_column.ts";
import type { DatasetName } from "../data/dataset.ts";

export interface CorrelationRow {
  /** "<file>: <subset name>", as the table shows it. */
  subset: string;
  file: string;
  /** The file's dataset (it fixes the robust column the findings read: robust_column.ts). */
  dataset: DatasetName;
  subsetName: string;
  robust: string;
  measure: string;
  n: number;
  spearman: number;
  ci: Interval;
  p: number;
  /** Why spearman is NaN, in words: a side the same for every run has no ranks to correlate. */
  undefinedWhy?: string;
}

function undefinedWhy(x: readonly number[], y: readonly number[]): string | undefined {
  const constant = (v: readonly number[]) => v.every((a) => a === v[0]);
  if (constant(y)) return "robust accuracy is the same for every run";
  if (constant(x)) return "the measure is the same for every run";
  return undefined;
}

export const SUBSETS: readonly { name: string; keep: (r: RunMeasures) => boolean }[] = [
  { name: "all runs", keep: () => true },
  { name: "ST + SAM only", keep: (r) => r.row.group === "ST" || r.row.group === "SAM" },
];

/** Spearman of every measure with every robust column, per subset and results file. */
export function correlations(records: readonly RunMeasures[]): CorrelationRow[] {
  const out: CorrelationRow[] = [];
  const files = [...new Set(records.map((r) => r.results))];
  for (const file of files) {
    const mine = records.filter((r) => r.results === file);
    for (const sub of SUBSETS) {
      const rs = mine.filter(sub.keep);
      for (const rk of robustKeys(rs, 3)) {
        for (const m of MEASURES) {
          const pts = rs.filter((r) =>
            Number.isFinite(r.values[m.key]) && Number.isFinite(r.robust[rk])
          );
          if (pts.length < 3) continue;
          const x = pts.map((r) => r.values[m.key]), y = pts.map((r) => r.robust[rk]);
          const rho = spearman(x, y);
          const why = Number.isFinite(rho) ? undefined : undefinedWhy(x, y);
          out.push({
            subset: `${file}: ${sub.name}`,
            file,
            dataset: pts[0].dataset,
            subsetName: sub.name,
            robust: robustLabel(rk),
            measure: m.label,
            n: pts.length,
            spearman: rho,
            ci: bootstrapInterval(x, y, { resamples: 2000, seed: 0 }),
            p: permutationPValue(x, y),
            ...(why ? { undefinedWhy: why } : {}),
          });
        }
      }
    }
  }
  return out;
}
