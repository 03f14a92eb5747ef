/**
 * Evaluation protocols: an ensemble of registered attacks run in sequence, each only on the
 * points still robust (AutoAttack's worst case per example). An evaluation (EvalSpec) names
 * either one attack or one protocol; for a protocol, `options` holds each stage's options under
 * the stage's attack name, e.g. { "apgd-t": { nTargetClasses: 9 }, square: { queries: 5000 } }.
 */
import type { AttackPasses, AttackSpec } from "./attack.ts";
import { attackNames, attackPasses, resolveAttack, type ResolvedAttack } from "./registry.ts";
import { threatKey, threatLabel } from "./attack.ts";
import { OptionError } from "../util/validate.ts";

export interface Protocol {
  /** Column-key tag, e.g. "aa". */
  tag: string;
  label: string;
  summary: string;
  /** Registered attack names, in the order they run. */
  stages: readonly string[];
}

export const PROTOCOLS: Readonly<Record<string, Protocol>> = Object.freeze({
  autoattack: {
    tag: "aa",
    label: "AutoAttack",
    summary:
      "APGD-CE -> APGD-T (targeted DLR) -> Square, each on the points still robust (Croce & Hein 2020)",
    stages: ["apgd-ce", "apgd-t", "square"],
  },
});

/** One attack or one protocol at one threat. */
export type EvalSpec = AttackSpec;

export interface ResolvedEval {
  /** Column key: "pgd10_linf_8_255", "aa_linf_8_255". */
  key: string;
  label: string;
  /** The protocol name, when this evaluation is one. */
  protocol?: string;
  spec: AttackSpec & { options: Record<string, unknown> };
  stages: ResolvedAttack[];
}

export function resolveEval(spec: EvalSpec): ResolvedEval {
  if (spec === null || typeof spec !== "object") {
    throw new OptionError(
      `Invalid evaluation ${JSON.stringify(spec)}: expected { attack, norm, eps }.`,
    );
  }
  const name = spec.attack;
  if (typeof name === "string" && Object.hasOwn(PROTOCOLS, name)) {
    const p = PROTOCOLS[name];
    const given = spec.options ?? {};
    const unknown = Object.keys(given).filter((k) => !p.stages.includes(k));
    if (unknown.length) {
      throw new OptionError(
        `Unknown stage ${JSON.stringify(unknown[0])} in the options of ${name}: its stages are ${
          p.stages.join(", ")
        }.`,
      );
    }
    const stages = p.stages.map((a) =>
      resolveAttack({ attack: a, norm: spec.norm, eps: spec.eps, options: given[a] ?? {} })
    );
    // A stage run with a non-default budget names it in the key and label ("aa-square1000_..."),
    // so results of two budgets never share a column.
    const changed = stages.filter((s) =>
      s.attack.tag(s.spec.options) !==
        s.attack.tag(s.attack.resolve({}, { norm: spec.norm, eps: spec.eps }))
    ).map((s) => s.attack.tag(s.spec.options));
    const budget = changed.length ? `-${changed.join("-")}` : "";
    return {
      key: `${p.tag}${budget}_${threatKey(spec.norm, spec.eps)}`,
      label: `${p.label}${changed.length ? ` (${changed.join(", ")})` : ""} ${
        threatLabel(spec.norm, spec.eps)
      }`,
      protocol: name,
      spec: {
        attack: name,
        norm: spec.norm,
        eps: spec.eps,
        options: Object.fromEntries(stages.map((s) => [s.spec.attack, s.spec.options])),
      },
      stages,
    };
  }
  if (typeof name !== "string" || !attackNames().includes(name)) {
    throw new OptionError(
      `Unknown attack ${JSON.stringify(name)}: use one of ${
        [...attackNames(), ...Object.keys(PROTOCOLS)].join(", ")
      }.`,
    );
  }
  const r = resolveAttack(spec);
  return { key: r.key, label: r.label, spec: r.spec, stages: [r] };
}

/**
 * The share of the points that survive each protocol stage (later stages run only on the points
 * still robust): assumed 1/2 per stage for cost estimates.
 */
export const STAGE_SURVIVAL = 0.5;

/**
 * Passes through the model per example of an evaluation: its attack's, or for a protocol the sum
 * of its stages', each stage weighted by the share of points assumed to reach it (STAGE_SURVIVAL).
 */
export function evalPasses(ev: ResolvedEval): AttackPasses {
  const total = { inputGradient: 0, forward: 0 };
  let alive = 1;
  for (const st of ev.stages) {
    const p = attackPasses(st);
    total.inputGradient += alive * p.inputGradient;
    total.forward += alive * p.forward;
    if (ev.protocol) alive *= STAGE_SURVIVAL;
  }
  return total;
}
