/**
 * Gradient-masking checks to run beside every AutoAttack evaluation (the sanity checks of
 * Athalye et al. 2018, Carlini et al. 2019 and AutoAttack's own checks.py). Each check is a pure
 * function of evaluation results and returns { name, passed, detail }; maskingChecks() runs the
 * few extra evaluations they need on a subset and applies all four:
 *
 * (a) black-box vs white-box: Square may fool at most 1% of all points after APGD-CE and APGD-T
 *     have run (AutoAttack warns above 0.2%; 1% leaves room for a small subset's noise).
 * (b) large radius: APGD-CE at L-inf 0.5 / L2 10 must bring accuracy below 1% (near any image is
 *     reachable there; a model that stays accurate hides its gradients).
 * (c) more steps: PGD-50 and APGD-CE-100 may be above PGD-10 by at most 1 point (their random
 *     starts differ; more steps that help less than that suggest masking).
 * (d) ordering: every column <= clean + 0.5 points (a single attack, run on every example, may
 *     turn a misclassified point correct by chance), and the same attack is non-increasing in
 *     eps within 0.5 points.
 */
import { AttackGraphs } from "./attack_graphs.ts";
import { defaultEngine } from "../backend/speed_settings.ts";
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/data.ts";
import type { Classifier } from "../models/model.ts";
import { datasetBatch } from "../training/batch.ts";
import { type EvalResult, evaluate } from "../training/evaluate.ts";
import { Rng, seedFromString } from "../util/rng.ts";
import { checkNumber, fail } from "../util/validate.ts";
import { apgd } from "./apgd.ts";
import { type Norm, threatLabel, type ThreatModel } from "./attack.ts";
import { type EvalSpec, resolveEval } from "./protocols.ts";

export interface MaskingCheck {
  name: string;
  passed: boolean;
  /** One sentence with the numbers and the threshold. */
  detail: string;
}

export interface MaskingTolerances {
  /** (a) the fraction of all points Square may fool after APGD-CE + APGD-T. */
  squareExtra: number;
  /** (b) the accuracy the large radius must fall below. */
  largeRadius: number;
  /** (c) how far more steps may raise accuracy. */
  moreSteps: number;
  /** (d) how far a column may exceed clean accuracy or a smaller radius. */
  ordering: number;
}

export const MASKING_TOLERANCES: Readonly<MaskingTolerances> = Object.freeze({
  squareExtra: 0.01,
  largeRadius: 0.01,
  moreSteps: 0.01,
  ordering: 0.005,
});

/** The radius of check (b) per norm. */
export const LARGE_RADIUS: Readonly<Record<Norm, number>> = Object.freeze({ linf: 0.5, l2: 10 });

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/** (a) from an AutoAttack column: the points only Square fooled. */
export function checkSquareAfterApgd(
  col: EvalResult["evals"][string],
  tol = MASKING_TOLERANCES.squareExtra,
): MaskingCheck {
  const at = (name: string) => col.stages.find((s) => s.attack === name)?.accuracy;
  const [afterT, afterSquare] = [at("apgd-t"), at("square")];
  if (afterT === undefined || afterSquare === undefined) {
    fail("column", col.key, "an AutoAttack column with apgd-t and square stages");
  }
  const extra = afterT - afterSquare;
  return {
    name: "square-after-apgd",
    passed: extra <= tol,
    detail: `Square fooled ${pct(extra)} of the points after APGD-CE and APGD-T (${col.label}; ` +
      `flagged above ${pct(tol)}): ${extra <= tol ? "no sign" : "a sign"} of gradient masking.`,
  };
}

/** (b) accuracy under a white-box attack at a radius where almost nothing should survive. */
export function checkLargeRadius(
  accuracy: number,
  label: string,
  tol = MASKING_TOLERANCES.largeRadius,
): MaskingCheck {
  const passed = accuracy < tol;
  return {
    name: "large-radius",
    passed,
    detail: `Accuracy under ${label} is ${pct(accuracy)} (must be below ${pct(tol)}): ${
      passed ? "the attack reaches" : "the gradients do not lead"
    } past the decision boundary at a large radius.`,
  };
}

export interface AccuracyRow {
  label: string;
  accuracy: number;
}

/** (c) each stronger attack (more steps) at most tol above the weaker one. */
export function checkMoreSteps(
  weaker: AccuracyRow,
  stronger: readonly AccuracyRow[],
  tol = MASKING_TOLERANCES.moreSteps,
): MaskingCheck {
  const worse = stronger.filter((r) => r.accuracy > weaker.accuracy + tol);
  const list = stronger.map((r) => `${r.label} ${pct(r.accuracy)}`).join(", ");
  return {
    name: "more-steps",
    passed: worse.length === 0,
    detail: `${weaker.label} ${pct(weaker.accuracy)} vs ${list} (tolerance ${pct(tol)}): ${
      worse.length === 0 ? "more steps never raise accuracy" : `${worse[0].label} is weaker`
    }.`,
  };
}

/** (d) every column <= clean, and each attack non-increasing in eps, within tol. */
export function checkOrdering(r: EvalResult, tol = MASKING_TOLERANCES.ordering): MaskingCheck {
  const cols = Object.values(r.evals);
  const problems: string[] = [];
  for (const c of cols) {
    if (c.accuracy > r.clean + tol) {
      problems.push(`${c.label} ${pct(c.accuracy)} > clean ${pct(r.clean)}`);
    }
  }
  const groups = new Map<string, typeof cols>();
  for (const c of cols) {
    const g = JSON.stringify([c.spec.attack, c.spec.norm, c.spec.options]);
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  for (const g of groups.values()) {
    g.sort((a, b) => a.spec.eps - b.spec.eps);
    for (let i = 1; i < g.length; i++) {
      if (g[i].accuracy > g[i - 1].accuracy + tol) {
        problems.push(
          `${g[i].label} ${pct(g[i].accuracy)} > ${g[i - 1].label} ${pct(g[i - 1].accuracy)}`,
        );
      }
    }
  }
  return {
    name: "ordering",
    passed: problems.length === 0,
    detail: problems.length === 0
      ? `All ${cols.length} columns are at most clean accuracy and non-increasing in eps (tolerance ${
        pct(tol)
      }).`
      : `Accuracy rises where it must not (tolerance ${pct(tol)}): ${problems.join("; ")}.`,
  };
}

export interface MaskingOptions {
  /** Points to check on: the first `limit` of data (default 256). */
  limit?: number;
  seed?: number;
  batchSize?: number;
  /** Stage options of the AutoAttack run, as in EvalSpec.options. */
  autoattack?: Record<string, Record<string, unknown>>;
  /** An evaluation that already holds the AutoAttack column at this threat (then it is not rerun). */
  result?: EvalResult;
  /** Radii for check (d) besides eps (default eps/4 and eps/2), with PGD-10. */
  radii?: number[];
  /** Radius of check (b) (default LARGE_RADIUS[norm]); may exceed 1 (not a pixel budget). */
  largeEps?: number;
  /** APGD-CE steps at the large radius (default 20). */
  largeSteps?: number;
  tolerances?: Partial<MaskingTolerances>;
}

/** Accuracy under APGD-CE at a radius that evaluate() does not accept (L2 > 1). */
async function largeRadiusAccuracy(
  model: Classifier,
  data: Dataset,
  n: number,
  threat: ThreatModel,
  steps: number,
  batchSize: number,
  seed: number,
): Promise<number> {
  const rng = Rng.fromSeed(seedFromString(`${seed}:large:${threat.norm}:${threat.eps}`));
  let hits = 0;
  // The engine evaluate() uses by default (lib/backend/speed_settings.ts): the same numbers.
  const graphs = defaultEngine(tf.getBackend()) === "graph" ? new AttackGraphs() : undefined;
  try {
    for (let s = 0; s < n; s += batchSize) {
      const e = Math.min(n, s + batchSize);
      const { x, y } = datasetBatch(data, s, e);
      const adv = await apgd({ model, mode: "eval", rng, graphs }, x, y, threat, {
        loss: "ce",
        steps,
        restarts: 1,
        rho: 0.75,
      });
      const hit = tf.tidy(() =>
        tf.sum(tf.cast(tf.equal(tf.argMax(model.forward(adv, "eval"), 1), y), "int32"))
      );
      hits += (await hit.data())[0];
      tf.dispose([x, y, adv, hit]);
    }
  } finally {
    graphs?.dispose();
  }
  return hits / n;
}

/**
 * Runs the extra evaluations on the first `limit` points (PGD-10 at eps/4, eps/2, eps; PGD-50 and
 * APGD-CE at eps; AutoAttack at eps unless options.result has it; APGD-CE at the large radius)
 * and returns the four checks (with "ordering-main" for options.result too) and the evaluation.
 */
export async function maskingChecks(
  model: Classifier,
  data: Dataset,
  threat: ThreatModel,
  options: MaskingOptions = {},
): Promise<{ checks: MaskingCheck[]; result: EvalResult; largeRadiusAccuracy: number }> {
  const tol = { ...MASKING_TOLERANCES, ...options.tolerances };
  const limit = Math.min(
    data.n,
    checkNumber("limit", options.limit ?? 256, { integer: true, min: 1 }),
  );
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 256;
  const { norm, eps } = threat;
  const aaSpec: EvalSpec = { attack: "autoattack", norm, eps, options: options.autoattack ?? {} };
  const aaKey = resolveEval(aaSpec).key;
  const given = options.result?.evals[aaKey];
  const radii = [...new Set([...(options.radii ?? [eps / 4, eps / 2]), eps])];
  const evals: EvalSpec[] = [
    ...radii.map((r) => ({ attack: "pgd", norm, eps: r, options: { steps: 10 } })),
    { attack: "pgd", norm, eps, options: { steps: 50 } },
    { attack: "apgd-ce", norm, eps },
    ...(given ? [] : [aaSpec]),
  ];
  const result = await evaluate(model, data, { evals, limit, seed, batchSize, progress: "none" });
  const aa = given ?? result.evals[aaKey];
  const col = (spec: EvalSpec) => result.evals[resolveEval(spec).key];
  const row = (spec: EvalSpec) => ({ label: col(spec).label, accuracy: col(spec).accuracy });

  const largeEps = options.largeEps ?? LARGE_RADIUS[norm];
  checkNumber("largeEps", largeEps, { above: 0 });
  const large = await largeRadiusAccuracy(
    model,
    data,
    limit,
    { norm, eps: largeEps },
    checkNumber("largeSteps", options.largeSteps ?? 20, { integer: true, min: 1 }),
    batchSize,
    seed,
  );
  // A given evaluation is checked on its own points (its clean accuracy), beside the subset's.
  const ordering = [checkOrdering(result, tol.ordering)];
  if (options.result) {
    ordering.push({ ...checkOrdering(options.result, tol.ordering), name: "ordering-main" });
  }
  return {
    checks: [
      checkSquareAfterApgd(aa, tol.squareExtra),
      checkLargeRadius(large, `APGD-CE ${threatLabel(norm, largeEps)}`, tol.largeRadius),
      checkMoreSteps(
        row({ attack: "pgd", norm, eps, options: { steps: 10 } }),
        [
          row({ attack: "pgd", norm, eps, options: { steps: 50 } }),
          row({ attack: "apgd-ce", norm, eps }),
        ],
        tol.moreSteps,
      ),
      ...ordering,
    ],
    result,
    largeRadiusAccuracy: large,
  };
}
