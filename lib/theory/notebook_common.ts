/**
 * What the theorem notebooks' modules (notebook_4_1.ts ... notebook_4_5.ts) share: grids of
 * parameter values, the relative gap they report, and the models they use most.
 */
import type { GaussianModel } from "./gaussian_model.ts";

/** n evenly spaced values from a to b, both included. */
export function linspace(a: number, b: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(`linspace needs n >= 2 points, got ${n}.`);
  }
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** n values from 10^lo to 10^hi, evenly spaced on a log scale, both ends included. */
export function logspace(lo: number, hi: number, n: number): number[] {
  return linspace(lo, hi, n).map((e) => 10 ** e);
}

/** |x - ref| / |ref|. */
export function relGap(x: number, ref: number): number {
  return Math.abs(x - ref) / Math.abs(ref);
}

/** The largest value of `key` over the rows. */
export function maxOf<T>(rows: T[], key: (row: T) => number): number {
  return Math.max(...rows.map(key));
}

/** The model of the restoration notes' check values: p = 0.9, eta = 0.1, d = 100. */
export const CHECK_MODEL: GaussianModel = { p: 0.9, eta: 0.1, d: 100 };

/** The model of the restoration notes' two counter-examples: p = 0.7, eta = 0.5, d = 10. */
export const COUNTER_MODEL: GaussianModel = { p: 0.7, eta: 0.5, d: 10 };
