/**
 * The smallest difference between two rows that a grid can tell from noise: 2 standard errors of
 * a difference (summary.ts `difference`), at each column's typical accuracy and seed spread.
 * MDE = 2 * sqrt(2 s² / k + 2 a(1 - a) / N), s the median std over rows, k seeds, N test points.
 */
import type { EvalColumn } from "../experiments/columns.ts";
import type { RowSummary } from "./summary.ts";

export interface DetectableEffect {
  key: string;
  label: string;
  /** Minimum detectable difference, as a fraction (0.03 = 3 points). */
  mde: number;
  seeds: number;
  testSize: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

export function detectableEffects(
  summaries: readonly RowSummary[],
  columns: readonly EvalColumn[],
): DetectableEffect[] {
  return columns.flatMap((c) => {
    const stats = summaries.map((s) => s.metrics[c.key]).filter((m) =>
      m && Number.isFinite(m.mean)
    );
    if (stats.length === 0) return [];
    const std = median(stats.map((m) => m.std).filter(Number.isFinite));
    const seeds = Math.max(...stats.map((m) => m.n));
    const a = median(stats.map((m) => m.mean));
    const n = Math.min(...summaries.map((s) => s.testSize), c.limit ?? Infinity);
    const seedPart = Number.isFinite(std) ? (2 * std * std) / seeds : 0;
    return [{
      key: c.key,
      label: c.label,
      mde: 2 * Math.sqrt(seedPart + (2 * a * (1 - a)) / n),
      seeds,
      testSize: n,
    }];
  });
}
