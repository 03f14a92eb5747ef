/**
 * A training method is a pair, as in the authors' train.py (--opt and --adv are independent):
 *   optimizer: SGD, or SAM(rho) wrapped around it (adaptive = ASAM);
 *   perturb:   none, or any registered attack making the training inputs (PGD for AT).
 * ST, SAM, ASAM, AT and SAM+AT are named instances; `family` names the pair for tables.
 */
import { type AttackSpec, threatLabel } from "../attacks/attack.ts";
import { resolveAttack } from "../attacks/registry.ts";
import { checkBoolean, checkChoice, checkKnownKeys, checkNumber, fail } from "../util/validate.ts";

export const OPTIMIZERS = ["sgd", "sam"] as const;
export type OptimizerName = typeof OPTIMIZERS[number];

export type OptimizerSpec =
  | { name: "sgd" }
  | { name: "sam"; rho: number; adaptive: boolean };

export interface Method {
  optimizer: OptimizerSpec;
  /** The attack that makes the training inputs, or null (clean inputs). */
  perturb: AttackSpec | null;
}

export const FAMILIES = ["ST", "SAM", "ASAM", "AT", "SAM+AT", "ASAM+AT"] as const;
export type Family = typeof FAMILIES[number];

/** The authors' code default radius for SAM. */
export const SAM_DEFAULT_RHO = 0.05;

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

/** Check a method and fill every default (SAM's rho and adaptive, the attack's options). */
export function resolveMethod(m: Method): Method {
  if (m === null || typeof m !== "object") fail("method", m, "{ optimizer, perturb }");
  checkKnownKeys("method", m, ["optimizer", "perturb"]);
  const o = m.optimizer as Record<string, unknown> | undefined;
  if (o === null || typeof o !== "object") {
    fail("method.optimizer", o, `{ name: one of ${OPTIMIZERS.join(", ")} }`);
  }
  const name = checkChoice("method.optimizer.name", o.name, OPTIMIZERS);
  let optimizer: OptimizerSpec;
  if (name === "sgd") {
    checkKnownKeys("method.optimizer", o, ["name"]);
    optimizer = { name };
  } else {
    checkKnownKeys("method.optimizer", o, ["name", "rho", "adaptive"]);
    optimizer = {
      name,
      rho: checkNumber("rho", o.rho ?? SAM_DEFAULT_RHO, { min: 0 }),
      adaptive: checkBoolean("adaptive", o.adaptive ?? false),
    };
  }
  const perturb = m.perturb == null ? null : resolveAttack(m.perturb).spec;
  return { optimizer, perturb };
}

export function familyOf(m: Method): Family {
  const opt = m.optimizer.name === "sgd" ? "" : m.optimizer.adaptive ? "ASAM" : "SAM";
  if (!m.perturb) return opt === "" ? "ST" : opt as Family;
  return (opt === "" ? "AT" : `${opt}+AT`) as Family;
}

const r255 = (v: number) => +(v * 255).toFixed(3);

/** "ST", "SAM rho=0.1", "ASAM rho=1", "AT pgd L∞ 8/255 alpha=2/255 steps=10", "SAM rho=0.1 + AT ...". */
export function describeMethod(m: Method): string {
  const o = m.optimizer;
  const opt = o.name === "sam" ? `${o.adaptive ? "ASAM" : "SAM"} rho=${o.rho}` : "";
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
  const o = m.optimizer;
  const p = m.perturb;
  return {
    method: familyOf(m),
    optimizer: o.name,
    rho: o.name === "sam" ? o.rho : null,
    adaptive: o.name === "sam" ? o.adaptive : null,
    perturb: p ? p.attack : null,
    norm: p ? p.norm : null,
    eps: p ? p.eps : null,
    alpha: p && p.options && "alpha" in p.options ? Number(p.options.alpha) : null,
    steps: p && p.options && "steps" in p.options ? Number(p.options.steps) : null,
  };
}
