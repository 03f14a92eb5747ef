/**
 * Population logistic loss of the Gaussian model's linear classifier (lib/theory/toy_model.ts)
 * at theta = (theta1, c, ..., c) (float64, no sampling), and the points that ST, exact min-max SAM
 * and first-order SAM reach on it: the references that lib/theory/toy_loop.ts's training runs are
 * compared with. Derived in this project.
 *
 * Why the logistic loss lands on the theorems: the model's log-odds are
 *   log P(y=+1|x)/P(y=-1|x) = x1 ln(p/(1-p)) + 2 eta (x2 + ... + x(d+1)),
 * linear in x, so logistic regression is well specified and its population optimum is
 * theta = (ln(p/(1-p)), 2 eta, ..., 2 eta): w = w_ST. The worst L-inf attack of size eps on the
 * non-robust features (for thetaRest > 0) shifts them to N((eta - eps) y, 1), so the optimum of
 * the robust logistic loss is the same with eta - eps: w = w_AT. SAM has no such identity: see
 * logisticSamExact / logisticSamFirstOrder below, which give the population values of the two
 * SAM variants on the logistic loss, to compare with the 0-1-loss w_SAM of the paper.
 *
 * The margin y theta.x is s*theta1 + c*S with s = y*x1 = +1 (prob. p) or -1, and
 * S = y*(x2 + ... + x(d+1)) ~ N(d eta, d). Expectations over S use the trapezoid rule on a
 * standard normal z (S = d eta + sqrt(d) z): the integrand is analytic in a strip, so the rule
 * converges exponentially; the step is chosen from c*sqrt(d) to keep its error below ~1e-15.
 */
import { checkNumber } from "../util/validate.ts";
import { findRoot, type GaussianModel, minimizeGolden } from "./gaussian_model.ts";

export interface LogisticPoint {
  loss: number;
  /** dL/dtheta1. */
  g1: number;
  /** dL/dc (c moves all d non-robust weights together: the sum of their partial derivatives). */
  gc: number;
}

function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

function sigmoid(t: number): number {
  return t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
}

/** Population logistic loss and gradient at theta = (theta1, c*1) (see the section comment). */
export function logisticPopulation(m: GaussianModel, theta1: number, c: number): LogisticPoint {
  const sd = Math.sqrt(m.d), mean = m.d * m.eta;
  const spread = Math.abs(c) * sd;
  const h = Math.min(0.1, 0.45 / Math.max(spread, 1e-9)); // strip of half-width pi/spread
  const zMax = 12;
  const k = Math.ceil(zMax / h);
  let loss = 0, g1 = 0, gc = 0;
  for (let i = -k; i <= k; i++) {
    const z = i * h;
    const weight = h * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    const sum = mean + sd * z;
    for (const [s, prob] of [[1, m.p], [-1, 1 - m.p]]) {
      const margin = s * theta1 + c * sum;
      const dl = -sigmoid(-margin); // d/dmargin of log(1 + exp(-margin))
      const wgt = weight * prob;
      loss += wgt * softplus(-margin);
      g1 += wgt * dl * s;
      gc += wgt * dl * sum;
    }
  }
  return { loss, g1, gc };
}

/** Root of f on an interval grown from [a, b] until f changes sign. */
function rootGrowing(f: (t: number) => number, a: number, b: number): number {
  let lo = a, hi = b;
  for (let i = 0; f(lo) * f(hi) > 0; i++) {
    if (i > 60) throw new Error("logistic_population: no sign change found for a root.");
    const width = hi - lo;
    lo -= width;
    hi += width;
  }
  return findRoot(f, lo, hi, 1e-13);
}

/** theta1 minimising the population loss for fixed c (the loss is convex in theta1). */
function bestTheta1(m: GaussianModel, c: number): number {
  return rootGrowing((t) => logisticPopulation(m, t, c).g1, -1, 1);
}

/** Golden-section minimum of a convex f over c > 0, bracketed from c0. */
function minimizeOverC(f: (c: number) => number, c0: number): number {
  let lo = c0 / 2, hi = c0 * 2;
  while (f(lo / 2) < f(lo)) lo /= 2;
  while (f(hi * 2) < f(hi)) hi *= 2;
  return minimizeGolden((a, b) => f(a) < f(b), lo / 2, hi * 2, 1e-10);
}

export interface LogisticOptimum {
  theta1: number;
  c: number;
  /** theta1 / c. */
  w: number;
  /** rho / c (NaN where there is no rho). */
  rhoW: number;
}

/**
 * The population minimiser of the logistic loss, found numerically (theta1 for each c, then c).
 * The claim it checks: (ln(p/(1-p)), 2 eta), i.e. w = w_ST. With eta replaced by eta - eps it is the
 * minimiser of the robust logistic loss under the worst eps attack on the non-robust features.
 */
export function logisticOptimum(m: GaussianModel): LogisticOptimum {
  const c = minimizeOverC((cc) => logisticPopulation(m, bestTheta1(m, cc), cc).loss, 2 * m.eta);
  const theta1 = bestTheta1(m, c);
  return { theta1, c, w: theta1 / c, rhoW: NaN };
}

/**
 * Exact min-max of the population logistic loss with the perturbation on theta1 only:
 * argmin over (theta1, c) of max_{|delta| <= rho} L(theta1 + delta, c). L is convex in theta1, so
 * the inner maximum is at an end, and the outer optimum balances L(theta1 + rho) = L(theta1 - rho)
 * (solved for theta1 at each c; then the balanced value is minimised over c).
 */
export function logisticSamExact(
  m: GaussianModel,
  rho: number,
  fixedC?: number,
): LogisticOptimum {
  checkNumber("rho", rho, { above: 0 });
  const balanced = (c: number) => {
    const t0 = bestTheta1(m, c);
    return findRoot(
      (t) => logisticPopulation(m, t + rho, c).loss - logisticPopulation(m, t - rho, c).loss,
      t0 - rho,
      t0 + rho,
      1e-13,
    );
  };
  const c = fixedC !== undefined
    ? checkNumber("fixedC", fixedC, { above: 0 })
    : minimizeOverC((cc) => logisticPopulation(m, balanced(cc) + rho, cc).loss, 2 * m.eta);
  const theta1 = balanced(c);
  return { theta1, c, w: theta1 / c, rhoW: rho / c };
}

/**
 * Where first-order SAM with the perturbation on theta1 only comes to rest on the population
 * loss. Its ascent step is e = rho * sign(dL/dtheta1), so near the surface dL/dtheta1 = 0 the
 * updates alternate between the gradients at theta1 + rho and theta1 - rho (a sliding mode).
 * The rest point: dL/dtheta1(theta1, c) = 0, and a mixture f*grad L(theta1 + rho, c) +
 * (1 - f)*grad L(theta1 - rho, c) = 0 in both coordinates. So theta1 is the plain-loss optimum for
 * its c, unlike the exact min-max (logisticSamExact), which balances the two losses instead.
 * With the non-robust weights fixed at `fixedC`, only the first condition is left: theta1 is
 * the plain-loss optimum, and at fixedC = 2 eta w is exactly w_ST, whatever rho.
 */
export function logisticSamFirstOrder(
  m: GaussianModel,
  rho: number,
  fixedC?: number,
): LogisticOptimum {
  checkNumber("rho", rho, { above: 0 });
  if (fixedC !== undefined) {
    const t = bestTheta1(m, checkNumber("fixedC", fixedC, { above: 0 }));
    return { theta1: t, c: fixedC, w: t / fixedC, rhoW: rho / fixedC };
  }
  const residual = (c: number) => {
    const t = bestTheta1(m, c);
    const plus = logisticPopulation(m, t + rho, c), minus = logisticPopulation(m, t - rho, c);
    const f = minus.g1 / (minus.g1 - plus.g1); // theta1 component zero
    return f * plus.gc + (1 - f) * minus.gc;
  };
  const c = rootGrowing(residual, 1.5 * m.eta, 2.5 * m.eta);
  const theta1 = bestTheta1(m, c);
  return { theta1, c, w: theta1 / c, rhoW: rho / c };
}

/**
 * Asymptotic standard error of w = theta1 / mean(thetaRest) for logistic regression on n samples
 * (the maximum-likelihood estimate, at its population optimum (ln(p/(1-p)), 2 eta)). The Fisher
 * information splits into the plane of (theta1, the all-ones direction) and its orthogonal
 * complement, so (theta1, mean(thetaRest)) has covariance K^-1 / n with the 2x2 matrix
 * K = E[l''(margin) (s, S)(s, S)^T] (s = y x1, S = y sum x_i); the delta method gives w's error.
 * For AT pass the model with eta - eps: the attacked data follow it.
 */
export function logisticStandardErrorW(m: GaussianModel, n: number): number {
  checkNumber("n", n, { integer: true, min: 1 });
  const theta1 = Math.log(m.p) - Math.log1p(-m.p), c = 2 * m.eta;
  const sd = Math.sqrt(m.d), mean = m.d * m.eta;
  const h = 0.02, k = Math.ceil(12 / h);
  let kss = 0, ksS = 0, kSS = 0;
  for (let i = -k; i <= k; i++) {
    const z = i * h;
    const weight = h * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    const sum = mean + sd * z;
    for (const [s, prob] of [[1, m.p], [-1, 1 - m.p]]) {
      const q = sigmoid(s * theta1 + c * sum);
      const curv = weight * prob * q * (1 - q);
      kss += curv;
      ksS += curv * s * sum;
      kSS += curv * sum * sum;
    }
  }
  const det = kss * kSS - ksS * ksS;
  const [v11, v12, v22] = [kSS / det, -ksS / det, kss / det]; // K^-1
  const [a, b] = [1 / c, -theta1 / (c * c)]; // gradient of theta1 / c
  return Math.sqrt((a * a * v11 + 2 * a * b * v12 + b * b * v22) / n);
}
