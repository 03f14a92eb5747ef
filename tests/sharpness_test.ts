/**
 * The mechanism measures (lib/analysis/): checked against closed forms on quadratics with a known
 * spectrum, for determinism in their seed, and for tensor leaks on a tiny CNN.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { createModel, type Model } from "../lib/models/model.ts";
import { Rng } from "../lib/util/rng.ts";
import { batchesOf, modelObjective, type Objective } from "../lib/analysis/objective.ts";
import { sharpness, sharpnessProfile } from "../lib/analysis/sharpness.ts";
import {
  hessianVectorProduct,
  hutchinsonTrace,
  lanczos,
  quotientAtSteps,
  topEigenvalue,
} from "../lib/analysis/hessian.ts";
import { symmetricEigen } from "../lib/analysis/symmetric_eigen.ts";
import { inputGradientNorms, lossAlongDirection } from "../lib/analysis/input_gradients.ts";
import { filterNormalizedDirection, landscape1d, landscape2d } from "../lib/analysis/landscape.ts";
import { firstLayerEquivalence } from "../lib/analysis/first_layer_equivalence.ts";
import {
  bootstrapInterval,
  permutationPValue,
  ranks,
  spearman,
} from "../lib/analysis/correlation.ts";
import {
  appendCacheRows,
  cachePathFor,
  hasGroup,
  readCache,
} from "../lib/analysis/measure_cache.ts";
import {
  computeGroup,
  expectedMeasures,
  resolveSettings,
  settingsKey,
} from "../lib/analysis/measure_run.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

// ---------------------------------------------------------------------------------------------
// Fixtures

/** A random orthogonal n x n matrix (Gram-Schmidt of normal vectors), float64. */
function orthogonal(n: number, rng: Rng): number[][] {
  const q: number[][] = [];
  while (q.length < n) {
    const v = Array.from(rng.fillNormal(new Float32Array(n)), Number);
    for (const u of q) {
      const c = v.reduce((s, x, i) => s + x * u[i], 0);
      v.forEach((_, i) => (v[i] -= c * u[i]));
    }
    const nv = Math.hypot(...v);
    if (nv > 1e-6) q.push(v.map((x) => x / nv));
  }
  return q; // rows are orthonormal
}

/** Q^T diag(lambda) Q. */
function withSpectrum(lambda: number[], rng: Rng): number[][] {
  const n = lambda.length, q = orthogonal(n, rng);
  return Array.from(
    { length: n },
    (_, i) =>
      Array.from(
        { length: n },
        (_, j) => q.reduce((s, row, k) => s + row[i] * lambda[k] * row[j], 0),
      ),
  );
}

/**
 * L(w) = 0.5 w^T A w + b_c^T w on chunk c (A shared, b per chunk); the full loss averages the
 * chunks. Hessian A everywhere.
 */
function quadratic(A: number[][], bs: number[][], w0: number[]): Objective & { w: tf.Variable } {
  const n = w0.length;
  const w = tf.variable(tf.tensor1d(w0), true);
  const At = tf.tensor2d(A.flat(), [n, n]);
  const bT = bs.map((b) => tf.tensor1d(b));
  const lossOf = (c: number) =>
    tf.add(
      tf.mul(0.5, tf.sum(tf.mul(w, tf.squeeze(tf.matMul(At, tf.reshape(w, [n, 1])))))),
      tf.sum(tf.mul(bT[c], w)),
    ) as tf.Scalar;
  const full = (chunk?: number) =>
    chunk === undefined
      ? tf.div(tf.addN(bT.map((_, c) => lossOf(c))), bT.length) as tf.Scalar
      : lossOf(chunk);
  return {
    w,
    params: [w],
    chunks: bs.length,
    loss(chunk) {
      const t = tf.tidy(() => full(chunk));
      const v = t.dataSync()[0];
      t.dispose();
      return v;
    },
    lossAndGrad(chunk) {
      const { value, grads } = tf.variableGrads(() => full(chunk), [w]);
      const v = value.dataSync()[0];
      value.dispose();
      return { loss: v, grads: [grads[w.name]] };
    },
    dispose() {
      tf.dispose([w, At, ...bT]);
    },
  };
}

const matVec = (A: number[][], x: number[]) => A.map((r) => r.reduce((s, a, j) => s + a * x[j], 0));
const dotN = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

/** max_{||d|| <= rho} b.d + 0.5 d^T A d (trust-region problem, b != 0), by bisection on mu. */
function trustRegionMax(lambda: number[], Q: number[][], b: number[], rho: number): number {
  // In the eigenbasis: d_k = beta_k / (mu - lambda_k), mu > lambda_max, ||d|| = rho.
  const beta = Q.map((q) => dotN(q, b));
  const lmax = Math.max(...lambda);
  const len = (mu: number) => Math.hypot(...beta.map((bk, k) => bk / (mu - lambda[k])));
  let lo = lmax + 1e-12, hi = lmax + 1e6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (len(mid) > rho) lo = mid;
    else hi = mid;
  }
  const mu = (lo + hi) / 2;
  const d = beta.map((bk, k) => bk / (mu - lambda[k]));
  return d.reduce((s, dk, k) => s + beta[k] * dk + 0.5 * lambda[k] * dk * dk, 0);
}

function tinyModel(seed = 1, width = 2, channels = 1): Model {
  return createModel(
    {
      arch: "smallcnn",
      width,
      inputShape: [8, 8, channels],
      numClasses: 3,
      mean: Array(channels).fill(0.4),
      std: Array(channels).fill(0.3),
    },
    Rng.fromSeed(seed),
  );
}

// ---------------------------------------------------------------------------------------------
// Hessian

Deno.test("hessian: power iteration and Lanczos recover the top eigenvalue of a quadratic with known spectrum", () => {
  const rng = Rng.fromSeed(11);
  const lambda = [10, 6, 4, 3, 2.5, 2, 1.5, 1, 0.5, 0.25, 0.1, -0.5];
  const A = withSpectrum(lambda, rng);
  const q = quadratic(A, [Array(12).fill(0.1)], Array(12).fill(0.2));
  try {
    const p = topEigenvalue(q, { maxIter: 200, tol: 1e-7, rng: 3 });
    tf.dispose(p.vector);
    assert.ok(p.converged, `power iteration did not converge: ${p.history.slice(-3)}`);
    assert.ok(Math.abs(p.eigenvalue - 10) < 1e-3, `power iteration: ${p.eigenvalue}`);
    const l = lanczos(q, { maxIter: 12, tol: 1e-6, rng: 3 });
    assert.ok(Math.abs(l.lambdaMax - 10) < 1e-3, `Lanczos max: ${l.lambdaMax}`);
    assert.ok(Math.abs(l.lambdaMin + 0.5) < 1e-3, `Lanczos min: ${l.lambdaMin}`);
    // A finite-difference H v of a quadratic is exact up to float32 rounding, at any step.
    const v = [tf.tensor1d(Array.from({ length: 12 }, (_, i) => (i % 3) - 1))];
    const exact = matVec(A, Array.from(v[0].dataSync()));
    for (const h of [1e-3, 0.1]) {
      const hv = hessianVectorProduct(q, v, h);
      const got = Array.from(hv[0].dataSync());
      const err = Math.hypot(...got.map((g, i) => g - exact[i])) / Math.hypot(...exact);
      assert.ok(err < 2e-3, `H v at h=${h}: relative error ${err}`);
      tf.dispose(hv);
    }
    const [qa, qb] = quotientAtSteps(q, v, [0.01, 0.1]);
    assert.ok(
      Math.abs(qa - qb) / Math.abs(qa) < 5e-3,
      `quotient depends on h for a quadratic: ${qa} ${qb}`,
    );
    tf.dispose(v);
  } finally {
    q.dispose();
  }
});

Deno.test("hessian: Hutchinson's trace lies within 3 standard errors of the true trace (5 seeds)", () => {
  const rng = Rng.fromSeed(5);
  const lambda = [5, 4, 3, 2, 1, 0.5, -1, 2, 3, 1];
  const A = withSpectrum(lambda, rng); // not diagonal: Rademacher probes have nonzero variance
  const truth = lambda.reduce((a, b) => a + b, 0);
  const q = quadratic(A, [Array(10).fill(0)], Array(10).fill(0.3));
  try {
    let within1 = 0;
    for (let seed = 0; seed < 5; seed++) {
      const t = hutchinsonTrace(q, { probes: 30, rng: seed, fdStep: 0.01 });
      assert.ok(t.standardError > 0, "a non-diagonal A gives probe variance");
      const gap = Math.abs(t.trace - truth);
      assert.ok(
        gap <= 3 * t.standardError,
        `seed ${seed}: ${t.trace} vs ${truth}, se ${t.standardError}`,
      );
      if (gap <= t.standardError) within1++;
    }
    assert.ok(within1 >= 1, "at least one of five estimates is within 1 SE");
  } finally {
    q.dispose();
  }
});

Deno.test("hessian: the symmetric eigen-solver matches a known spectrum", () => {
  const lambda = [-2, 0.5, 1, 3, 7];
  const A = withSpectrum(lambda, Rng.fromSeed(2));
  const { values, vectors } = symmetricEigen(A);
  values.forEach((v, i) => assert.ok(Math.abs(v - lambda[i]) < 1e-10, `${v} vs ${lambda[i]}`));
  for (let j = 0; j < 5; j++) {
    const x = vectors.map((r) => r[j]);
    const Ax = matVec(A, x);
    Ax.forEach((a, i) => assert.ok(Math.abs(a - values[j] * x[i]) < 1e-9));
  }
});

// ---------------------------------------------------------------------------------------------
// Sharpness

Deno.test("sharpness: a linear loss gives rho ||b|| in one step; adaptive gives rho ||w * b||; m-sharpness averages chunks", () => {
  const b1 = [0.3, -0.4, 1.2, 0.0, 0.5], b2 = [1, 1, -1, 0.2, 0];
  const w0 = [0.5, -2, 1, 0.1, 3];
  const zero = Array.from({ length: 5 }, () => Array(5).fill(0));
  const q = quadratic(zero, [b1, b2], w0);
  try {
    const b = b1.map((x, i) => (x + b2[i]) / 2);
    const rho = 0.3;
    const s1 = sharpness(q, rho, { steps: 1 });
    assert.ok(Math.abs(s1.sharpness - rho * Math.hypot(...b)) < 1e-5, `${s1.sharpness}`);
    const s3 = sharpness(q, rho, { steps: 3 });
    assert.ok(
      Math.abs(s3.sharpness - rho * Math.hypot(...b)) < 1e-5,
      "more steps stay at the optimum",
    );
    const ad = sharpness(q, rho, { steps: 2, adaptive: true });
    const tb = b.map((x, i) => Math.abs(w0[i]) * x);
    assert.ok(Math.abs(ad.sharpness - rho * Math.hypot(...tb)) < 1e-5, `adaptive ${ad.sharpness}`);
    const m = sharpness(q, rho, { steps: 1, perChunk: true });
    const want = rho * (Math.hypot(...b1) + Math.hypot(...b2)) / 2;
    assert.ok(Math.abs(m.sharpness - want) < 1e-5, `m-sharpness ${m.sharpness} vs ${want}`);
    // The parameters come back exactly.
    assert.deepEqual(Array.from(q.w.dataSync()), Array.from(new Float32Array(w0)));
  } finally {
    q.dispose();
  }
});

Deno.test("sharpness: a convex quadratic reaches its trust-region maximum (closed form)", () => {
  const rng = Rng.fromSeed(9);
  const lambda = [8, 3, 2, 1, 0.5, 0.2];
  const Q = orthogonal(6, rng);
  const A = Array.from(
    { length: 6 },
    (_, i) =>
      Array.from(
        { length: 6 },
        (_, j) => Q.reduce((s, row, k) => s + row[i] * lambda[k] * row[j], 0),
      ),
  );
  const w0 = [0.2, -0.1, 0.3, 0.05, -0.2, 0.1];
  const b = [0.5, 0.1, -0.3, 0.2, 0.0, 0.4];
  const q = quadratic(A, [b], w0);
  try {
    const g = matVec(A, w0).map((x, i) => x + b[i]); // gradient at w0
    for (const rho of [0.05, 0.2, 1]) {
      const want = trustRegionMax(lambda, Q, g, rho);
      const got = sharpness(q, rho, { steps: 60, stepSize: 0.3 });
      assert.ok(
        Math.abs(got.sharpness - want) / want < 2e-3,
        `rho ${rho}: ascent ${got.sharpness} vs closed form ${want}`,
      );
      assert.ok(
        got.sharpness >= got.firstStep - 1e-7,
        "the best iterate is at least SAM's first step",
      );
      assert.ok(got.deltaNorm <= rho * (1 + 1e-5));
    }
    // Along the top eigenvector the first step is already optimal: rho ||g|| + lambda rho^2 / 2.
    const top = Q[0];
    const along = quadratic(A, [top], Array(6).fill(0)); // gradient at 0 = the unit eigenvector
    try {
      const s = sharpness(along, 0.5, { steps: 5 });
      assert.ok(Math.abs(s.sharpness - (0.5 + 0.5 * 8 * 0.25)) < 1e-4, `${s.sharpness}`);
    } finally {
      along.dispose();
    }
  } finally {
    q.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// Models: determinism and leaks

function modelFixture(seed = 1) {
  const model = tinyModel(seed);
  const data = toyDataset(64, 8, 1, 3, 3);
  return { model, data };
}

Deno.test("measures: same seed, same numbers; another seed, other random directions", () => {
  const { model, data } = modelFixture();
  try {
    const run = (seed: number) => {
      const obj = modelObjective(model, batchesOf(data, 64, 32), "train");
      try {
        const s = sharpnessProfile(obj, [0.05, 0.1], { steps: 3 });
        const l = lanczos(obj, { maxIter: 4, rng: seed, fdStep: 0.03 });
        const t = hutchinsonTrace(obj, { probes: 3, rng: seed, fdStep: 0.03 });
        const land = landscape1d(obj, { points: 5, seed });
        return [...s.map((x) => x.sharpness), l.lambdaMax, t.trace, ...land.losses];
      } finally {
        obj.dispose();
      }
    };
    const a = run(0), b = run(0), c = run(1);
    assert.deepEqual(a, b);
    assert.deepEqual(a.slice(0, 2), c.slice(0, 2), "sharpness has no randomness");
    assert.notDeepEqual(a.slice(2), c.slice(2), "the seed changes the probes and directions");
  } finally {
    model.dispose();
  }
});

Deno.test("measures: no tensor leak over repeated calls, and the weights come back exactly", async () => {
  const { model, data } = modelFixture(2);
  const before = Array.from(model.params[0].dataSync());
  try {
    const once = async () => {
      const obj = modelObjective(model, batchesOf(data, 64, 32), "train");
      try {
        sharpnessProfile(obj, [0.1], { steps: 2 });
        sharpnessProfile(obj, [0.1], { steps: 2, adaptive: true, perChunk: true });
        tf.dispose(topEigenvalue(obj, { maxIter: 3 }).vector);
        lanczos(obj, { maxIter: 3 });
        const withVec = lanczos(obj, { maxIter: 3 }, undefined, true);
        quotientAtSteps(obj, withVec.vector!, [0.01]);
        tf.dispose(withVec.vector!);
        hutchinsonTrace(obj, { probes: 2 });
        landscape1d(obj, { points: 3 });
        landscape2d(obj, { points: 2 });
      } finally {
        obj.dispose();
      }
      const test = batchesOf(data, 32, 16);
      try {
        inputGradientNorms(model, test);
        lossAlongDirection(model, test, { steps: 2, radii: [0, 8 / 255] });
        lossAlongDirection(model, test, { norm: "l2", eps: 0.5, steps: 2, radii: [0.5] });
        firstLayerEquivalence(model, test, { cgIters: 3 });
      } finally {
        tf.dispose(test.flatMap((b) => [b.x, b.y]));
      }
      const s = resolveSettings({
        trainImages: 64,
        batchSize: 32,
        hessianImages: 32,
        powerIters: 2,
        probes: 2,
        testImages: 32,
        pgdImages: 16,
        equivalenceImages: 32,
        landscapeImages: 32,
        landscapePoints1d: 3,
        landscapePoints2d: 2,
        rhos: [0.1],
      });
      for (const g of ["sharpness", "hessian", "input", "equivalence", "landscape"] as const) {
        await computeGroup(model, { train: data, test: data }, s, g);
      }
    };
    await once(); // the first call may create kernels' cached constants
    const start = tf.memory().numTensors;
    await once();
    await once();
    assert.equal(tf.memory().numTensors, start, "live tensors grew over repeated calls");
    assert.deepEqual(Array.from(model.params[0].dataSync()), before);
  } finally {
    model.dispose();
  }
});

Deno.test("input gradients: the PGD line starts at the clean loss and PGD beats the random direction", () => {
  const { model, data } = modelFixture(4);
  const test = batchesOf(data, 64, 32);
  try {
    const g = inputGradientNorms(model, test);
    assert.ok(g.meanL1 >= g.meanL2 && g.meanL2 > 0);
    const curve = lossAlongDirection(model, test, { eps: 0.1, steps: 5, radii: [0, 0.05, 0.1] });
    assert.ok(Math.abs(curve.pgdLoss[0] - g.meanLoss) < 1e-5, "radius 0 is the clean loss");
    assert.ok(Math.abs(curve.randomLoss[0] - g.meanLoss) < 1e-5);
    assert.ok(curve.pgdLoss[2] > curve.randomLoss[2], "PGD's direction raises the loss more");
    assert.ok(curve.pgdLoss[2] >= curve.pgdLoss[0]);
  } finally {
    tf.dispose(test.flatMap((b) => [b.x, b.y]));
    model.dispose();
  }
});

Deno.test("landscape: filter-normalised directions match each filter's norm and zero 1-D parameters", () => {
  const model = tinyModel(3, 4);
  try {
    const d = filterNormalizedDirection(model.params, Rng.fromSeed(0));
    model.params.forEach((w, i) => {
      if (w.rank <= 1) {
        assert.equal(tf.tidy(() => tf.max(tf.abs(d[i]))).dataSync()[0], 0);
        return;
      }
      const axes = Array.from({ length: w.rank - 1 }, (_, k) => k);
      const fnorm = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), axes));
      const [wn, dn] = tf.tidy(() => [fnorm(w), fnorm(d[i])]);
      const a = wn.dataSync(), b = dn.dataSync();
      a.forEach((x, k) => assert.ok(Math.abs(x - b[k]) < 1e-4 * Math.max(1, x)));
      tf.dispose([wn, dn]);
    });
    tf.dispose(d);
  } finally {
    model.dispose();
  }
});

Deno.test("first-layer equivalence: with as many output channels as inputs the weight perturbation is an input perturbation", () => {
  // conv 3x3, 2 -> 2 channels: a square operator, so the least-squares residual must vanish.
  // (Not 1 -> 1: tfjs-node's input gradient of a conv2d with one input and one output channel is
  // wrong, <x, grad> != f(x) for a linear f; the wasm backend gets it right. 2 -> 2 is exact.)
  const model = tinyModel(5, 2, 2);
  const data = toyDataset(16, 8, 2, 3, 1);
  const batches = batchesOf(data, 16, 16);
  try {
    const r = firstLayerEquivalence(model, batches, {
      cgIters: 200,
      atRadii: [{ norm: "linf", eps: 8 / 255 }],
    });
    assert.ok(r.residual < 1e-2, `residual ${r.residual}`);
    assert.ok(r.share > 0 && r.share < 1);
    assert.ok(
      r.unit.minRadiusL2 <= r.unit.lsL2 * (1 + 1e-3),
      "no input perturbation is smaller than ||a|| / sigma_max",
    );
    // A wider layer cannot be matched exactly.
    const wide = tinyModel(5, 8, 2);
    try {
      const w = firstLayerEquivalence(wide, batches, { cgIters: 100, atRadii: [] });
      assert.ok(w.residual > r.residual);
    } finally {
      wide.dispose();
    }
  } finally {
    tf.dispose(batches.flatMap((b) => [b.x, b.y]));
    model.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// Correlation and cache

Deno.test("correlation: Spearman, ties, exact permutation p-value, bootstrap interval", () => {
  assert.deepEqual(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  assert.equal(spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 100]), 1);
  assert.equal(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]), -1);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  // n = 5, perfect order: only the identity and the reversal reach |rho| = 1 among 120 pairings.
  assert.ok(Math.abs(permutationPValue([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) - 2 / 120) < 1e-12);
  const x = [0.1, 0.5, 0.2, 0.9, 0.4, 0.3], y = [1, 3, 2, 6, 5, 4];
  const ci = bootstrapInterval(x, y, { resamples: 500, seed: 1 });
  const r = spearman(x, y);
  assert.ok(ci.lo <= r && r <= ci.hi, `${ci.lo} ${r} ${ci.hi}`);
  assert.equal(ci.used + ci.dropped, 500);
  assert.deepEqual(
    bootstrapInterval(x, y, { resamples: 200, seed: 3 }),
    bootstrapInterval(x, y, { resamples: 200, seed: 3 }),
  );
});

Deno.test("cache: rows round-trip and the settings key selects the group", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-sharpness-" });
  try {
    const results = `${dir}/x.csv`;
    assert.equal(cachePathFor(results), `${dir}/x.sharpness.csv`);
    const s = resolveSettings();
    const key = settingsKey(s, "sharpness");
    assert.notEqual(key, settingsKey(resolveSettings({ rhos: [0.3] }), "sharpness"));
    assert.equal(settingsKey(s, "input"), settingsKey(resolveSettings({ rhos: [0.3] }), "input"));
    appendCacheRows(results, [{
      run_key: "kabc",
      run_id: "x-ST-seed0-kabc",
      row_id: "ST",
      seed: 0,
      group: "sharpness",
      measure: "sharpness",
      variant: "rho=0.05",
      settings_key: key,
      value: 0.0123,
      se: null,
      extra: { trajectory: [0.01, 0.0123], note: 'a,b "quoted"' },
      seconds: 1.5,
      backend: "tensorflow",
      load_avg_1m: 2,
      finished_at: "2026-01-01T00:00:00Z",
    }]);
    const rows = readCache(results);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].value, 0.0123);
    assert.deepEqual(rows[0].extra, { trajectory: [0.01, 0.0123], note: 'a,b "quoted"' });
    assert.ok(hasGroup(rows, "kabc", "sharpness", key, ["sharpness|rho=0.05"]));
    assert.ok(!hasGroup(rows, "kabc", "hessian", key, ["sharpness|rho=0.05"]));
    // One measure of the six the default settings give is not the whole group.
    assert.ok(!hasGroup(rows, "kabc", "sharpness", key, expectedMeasures(s, "sharpness")));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
