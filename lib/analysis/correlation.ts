/**
 * Rank correlation of a measure with robust accuracy over trained runs, with its uncertainty:
 *
 * - spearman(x, y): Pearson correlation of the ranks (ties get their average rank); NaN when
 *   either side is constant or there are fewer than 3 pairs.
 * - bootstrapInterval: the percentile interval of spearman over resamples of the pairs with
 *   replacement (seeded, from the project's Rng). Resamples whose value is undefined (all x or all
 *   y equal) are dropped and counted. With a handful of runs the interval is wide and coarse: it
 *   is reported as such, never as a test.
 * - permutationPValue: two-sided p-value of |rho| under random pairing; exact (all n!
 *   permutations) for n <= 8, else Monte Carlo with `draws` permutations.
 */
import { Rng } from "../util/rng.ts";

/** Ranks 1..n, ties averaged. */
export function ranks(values: readonly number[]): number[] {
  const idx = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[idx[k][1]] = r;
    i = j + 1;
  }
  return out;
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`pearson: ${n} x values but ${y.length} y values.`);
  if (n < 2) return NaN;
  const mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) {
    throw new RangeError(`spearman: ${x.length} x values but ${y.length} y values.`);
  }
  const ok = x.map((v, i) => Number.isFinite(v) && Number.isFinite(y[i]));
  const xs = x.filter((_, i) => ok[i]), ys = y.filter((_, i) => ok[i]);
  if (xs.length < 3) return NaN;
  return pearson(ranks(xs), ranks(ys));
}

export interface Interval {
  lo: number;
  hi: number;
  /** Resamples that gave a defined value. */
  used: number;
  /** Resamples dropped as undefined (constant x or y). */
  dropped: number;
  level: number;
}

/** Percentile bootstrap interval of spearman(x, y). */
export function bootstrapInterval(
  x: readonly number[],
  y: readonly number[],
  options: { resamples?: number; level?: number; seed?: number } = {},
): Interval {
  const B = options.resamples ?? 2000, level = options.level ?? 0.95;
  const rng = Rng.fromSeed(options.seed ?? 0);
  const n = x.length;
  const vals: number[] = [];
  let dropped = 0;
  for (let b = 0; b < B; b++) {
    const bx: number[] = [], by: number[] = [];
    for (let i = 0; i < n; i++) {
      const j = rng.int(n);
      bx.push(x[j]);
      by.push(y[j]);
    }
    const r = spearman(bx, by);
    if (Number.isFinite(r)) vals.push(r);
    else dropped++;
  }
  vals.sort((a, b) => a - b);
  const q = (p: number) => {
    if (vals.length === 0) return NaN;
    const pos = p * (vals.length - 1);
    const lo = Math.floor(pos), hi = Math.ceil(pos);
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo);
  };
  return { lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2), used: vals.length, dropped, level };
}

function* permutations(n: number): Generator<number[]> {
  const a = Array.from({ length: n }, (_, i) => i);
  const c = new Array(n).fill(0);
  yield [...a];
  for (let i = 0; i < n;) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [a[j], a[i]] = [a[i], a[j]];
      yield [...a];
      c[i]++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

/** Two-sided permutation p-value of spearman(x, y). */
export function permutationPValue(
  x: readonly number[],
  y: readonly number[],
  options: { draws?: number; seed?: number } = {},
): number {
  const observed = Math.abs(spearman(x, y));
  if (!Number.isFinite(observed)) return NaN;
  const n = x.length;
  let hits = 0, total = 0;
  const tolerance = 1e-12;
  if (n <= 8) {
    for (const p of permutations(n)) {
      total++;
      if (Math.abs(spearman(x, p.map((i) => y[i]))) >= observed - tolerance) hits++;
    }
    return hits / total;
  }
  const rng = Rng.fromSeed(options.seed ?? 0);
  const draws = options.draws ?? 10000;
  for (let d = 0; d < draws; d++) {
    const p = rng.permutation(n);
    if (Math.abs(spearman(x, Array.from(p, (i) => y[i]))) >= observed - tolerance) hits++;
  }
  return (hits + 1) / (draws + 1);
}
