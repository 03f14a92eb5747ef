/**
 * A training method is a pair, as in the authors' train.py (--opt and --adv are independent):
 *   optimizer: any registered optimizer (lib/optim/registry.ts: SGD, SAM/ASAM, LookSAM);
 *   perturb:   none, or any registered attack making the training inputs (PGD for AT).
 * ST, SAM, ASAM, AT and SAM+AT are named instances; `family` names the pair for tables.
 */
import { type AttackSpec, threatLabel } from "../attacks/attack.ts";
import { resolveAttack } from "../attacks/registry.ts";
import { checkKnownKeys, fail } from "../util/validate.ts";
import type { OptimizerSpec } from "../optim/optimizer.ts";
import { resolveOptimizer } from "../optim/registry.ts";

export { type OptimizerSpec } from "../optim/optimizer.ts";
import { SAM_DEFAULT_RHO } from "../optim/sam.ts";
export { SAM_DEFAULT_RHO };

export interface Method {
  /** A registered optimizer and its options, flat: { name: "sam", rho: 0.1, adaptive: false }. */
  optimizer: OptimizerSpec;
  /** The attack that makes the training inputs, or null (clean inputs). */
  perturb: AttackSpec | null;
}

/** Table families: the optimizer's ("" for SGD) and "AT" for attacked inputs, e.g. "SAM+AT". */
export type Family = string;

export const ST: Method = Object.freeze({ optimizer: { name: "sgd" }, perturb: null }) as Method;

export function sam(rho = SAM_DEFAULT_RHO, adaptive = false): Method {
  return { optimizer: { name: "sam", rho, adaptive }, perturb: null };
}

/** PGD adversarial training inputs (the paper's AT rows). */
export function pgdInputs(
  norm: "linf" | "l2",
  eps: number,
  alpha: number,
  steps: number,
): AttackSpec {
  return { attack: "pgd", norm, eps, options: { alpha, steps } };
}

export function at(norm: "linf" | "l2", eps: number, alpha: number, steps: number): Method {
  return { optimizer: { name: "sgd" }, perturb: pgdInputs(norm, eps, alpha, steps) };
}

/** Check a method and fill every default (the optimizer's options, the attack's options). */
export function resolveMethod(m: Method): Method {
  if (m === null || typeof m !== "object") fail("method", m, "{ optimizer, perturb }");
  checkKnownKeys("method", m, ["optimizer", "perturb"]);
  const optimizer = resolveOptimizer(m.optimizer).spec;
  const perturb = m.perturb == null ? null : resolveAttack(m.perturb).spec;
  return { optimizer, perturb };
}

/** The optimizer's own family: "" for plain SGD, "SAM", "ASAM", "LookSAM". */
export function optimizerFamily(m: Method): string {
  const r = resolveOptimizer(m.optimizer);
  return r.plugin.family(r.options);
}

/** Gradient passes of the optimizer per step (SGD 1, SAM 2, LookSAM 1 + 1/k). */
export function optimizerPasses(m: Method): number {
  const r = resolveOptimizer(m.optimizer);
  return r.plugin.gradientPasses(r.options);
}

/** "ST", "SAM", "ASAM", "AT", "SAM+AT", ... from the optimizer's family and the inputs. */
export function familyOf(m: Method): Family {
  const opt = optimizerFamily(m);
  if (!m.perturb) return opt === "" ? "ST" : opt;
  return opt === "" ? "AT" : `${opt}+AT`;
}

const r255 = (v: number) => +(v * 255).toFixed(3);

/** "ST", "SAM rho=0.1", "ASAM rho=1", "AT pgd L∞ 8/255 alpha=2/255 steps=10", "SAM rho=0.1 + AT ...". */
export function describeMethod(m: Method): string {
  const r = resolveOptimizer(m.optimizer);
  const opt = r.plugin.label(r.options);
  if (!m.perturb) return opt || "ST";
  const p = m.perturb;
  const extra = p.options && "alpha" in p.options
    ? ` alpha=${r255(Number(p.options.alpha))}/255 steps=${p.options.steps}`
    : "";
  const atText = `AT ${p.attack} ${threatLabel(p.norm, p.eps)}${extra}`;
  return opt ? `${opt} + ${atText}` : atText;
}

/** The flat results-CSV columns of a method (the columns of the first version kept their names). */
export function methodColumns(m: Method): Record<string, string | number | boolean | null> {
  const r = resolveOptimizer(m.optimizer);
  const p = m.perturb;
  return {
    method: familyOf(m),
    optimizer: r.spec.name,
    ...r.plugin.columns(r.options),
    perturb: p ? p.attack : null,
    norm: p ? p.norm : null,
    eps: p ? p.eps : null,
    alpha: p && p.options && "alpha" in p.options ? Number(p.options.alpha) : null,
    steps: p && p.options && "steps" in p.options ? Number(p.options.steps) : null,
  };
}
