/**
 * Spearman rank correlations of every mechanism measure with robust accuracy, per results file and
 * subset of runs, with a bootstrap interval and an exact permutation p-value. All ours.
 */
import { bootstrapInterval, type Interval, permutationPValue, spearman } from "./correlation.ts";
import { MEASURES, robustKeys, robustLabel, type RunMeasures } from "./mechanism_data.ts";

export interface CorrelationRow {
  /** "<file>: <subset name>", as the table shows it. */
  subset: string;
  file: string;
  subsetName: string;
  robust: string;
  measure: string;
  n: number;
  spearman: number;
  ci: Interval;
  p: number;
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
          out.push({
            subset: `${file}: ${sub.name}`,
            file,
            subsetName: sub.name,
            robust: robustLabel(rk),
            measure: m.label,
            n: pts.length,
            spearman: spearman(x, y),
            ci: bootstrapInterval(x, y, { resamples: 2000, seed: 0 }),
            p: permutationPValue(x, y),
          });
        }
      }
    }
  }
  return out;
}
