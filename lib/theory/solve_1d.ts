/**
 * Small 1-D solvers for the theory code (pure TS; exported for the tests): a downhill bracket, a
 * golden-section minimiser and Brent's root finder. The minimisers take a comparison
 * lower(x1, x2) = "the objective at x1 is below that at x2", so callers can compare exactly
 * (lib/theory/gaussian_model.ts errorComparison) where the objective's values would round to the
 * same double.
 */

export type Lower = (x1: number, x2: number) => boolean;

const GOLDEN = 0.3819660112501051; // (3 - sqrt(5)) / 2
const PHI = 1.618033988749895;

/**
 * Walk downhill from [x0, x0 + step], growing the step by the golden ratio, until the objective
 * rises again; returns an interval that holds the minimum of a unimodal objective.
 */
export function bracketMinimum(lower: Lower, x0: number, step: number): [number, number] {
  let a = x0, b = x0 + step;
  if (lower(a, b)) [a, b] = [b, a];
  let c = b + PHI * (b - a);
  for (let i = 0; lower(c, b); i++) {
    if (i > 200) {
      throw new Error("bracketMinimum found no minimum: the objective keeps decreasing.");
    }
    a = b;
    b = c;
    c = b + PHI * (b - a);
  }
  return a < c ? [a, c] : [c, a];
}

/**
 * Golden-section search for the minimum of a unimodal objective on [lo, hi], until the interval is
 * narrower than relTol * max(1, |x|). Needs only comparisons; copes with kinks.
 */
export function minimizeGolden(lower: Lower, lo: number, hi: number, relTol: number): number {
  let a = lo, b = hi;
  let x1 = a + GOLDEN * (b - a), x2 = b - GOLDEN * (b - a);
  for (let i = 0; i < 500 && b - a > relTol * Math.max(1, Math.abs(a), Math.abs(b)); i++) {
    if (!lower(x2, x1)) {
      b = x2;
      x2 = x1;
      x1 = a + GOLDEN * (b - a);
    } else {
      a = x1;
      x1 = x2;
      x2 = b - GOLDEN * (b - a);
    }
  }
  return lower(x2, x1) ? x2 : x1;
}

/** Brent–Dekker root finder on a bracket [lo, hi] where f changes sign, to relTol relative. */
export function findRoot(f: (x: number) => number, lo: number, hi: number, relTol: number): number {
  let a = lo, b = hi;
  let fa = f(a), fb = f(b);
  if (fa === 0) return a;
  if (fb === 0) return b;
  if (!(Math.sign(fa) * Math.sign(fb) < 0)) {
    throw new Error(`findRoot needs f to change sign on [${lo}, ${hi}]; got f = ${fa} and ${fb}.`);
  }
  let c = a, fc = fa, d = b - a, e = d;
  for (let iter = 0; iter < 300; iter++) {
    if (Math.sign(fb) === Math.sign(fc)) {
      c = a;
      fc = fa;
      d = b - a;
      e = d;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tol = 2 * Number.EPSILON * Math.abs(b) + 0.5 * relTol * Math.abs(b) + 1e-300;
    const mid = 0.5 * (c - b);
    if (Math.abs(mid) <= tol || fb === 0) return b;
    if (Math.abs(e) < tol || Math.abs(fa) <= Math.abs(fb)) {
      d = mid;
      e = mid;
    } else {
      const s = fb / fa;
      let p: number, q: number;
      if (a === c) {
        p = 2 * mid * s;
        q = 1 - s;
      } else {
        const qa = fa / fc, r = fb / fc;
        p = s * (2 * mid * qa * (qa - r) - (b - a) * (r - 1));
        q = (qa - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (2 * p < Math.min(3 * mid * q - Math.abs(tol * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = mid;
        e = mid;
      }
    }
    a = b;
    fa = fb;
    b += Math.abs(d) > tol ? d : mid > 0 ? tol : -tol;
    fb = f(b);
  }
  return b;
}
