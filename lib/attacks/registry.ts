/**
 * Every attack by name. Adding an attack is one file implementing Attack (./attack.ts) and one
 * line here; the contract test (tests/attacks_contract_test.ts) then runs it too.
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  type Attack,
  type AttackPasses,
  type AttackSpec,
  type AttackTarget,
  checkThreat,
  threatKey,
  threatLabel,
} from "./attack.ts";
import { APGD_CE, APGD_DLR, APGD_T } from "./apgd.ts";
import { FGSM } from "./fgsm.ts";
import { PGD } from "./pgd.ts";
import { SQUARE } from "./square.ts";
import { OptionError } from "../util/validate.ts";

export const ATTACKS: Readonly<Record<string, Attack>> = Object.freeze({
  [FGSM.name]: FGSM,
  [PGD.name]: PGD,
  [APGD_CE.name]: APGD_CE,
  [APGD_T.name]: APGD_T,
  [APGD_DLR.name]: APGD_DLR,
  [SQUARE.name]: SQUARE,
});

export function attackNames(): string[] {
  return Object.keys(ATTACKS);
}

/** The registered attack of that name; unknown names get one sentence listing the known ones. */
export function getAttack(name: string): Attack {
  if (typeof name !== "string" || !Object.hasOwn(ATTACKS, name)) {
    throw new OptionError(
      `Unknown attack ${JSON.stringify(name)}: use one of ${attackNames().join(", ")}.`,
    );
  }
  return ATTACKS[name];
}

/** A spec with its threat checked and every option resolved (defaults filled). */
export interface ResolvedAttack {
  attack: Attack;
  spec: AttackSpec & { options: Record<string, unknown> };
  /** Column key, e.g. "pgd10_linf_8_255". */
  key: string;
  /** Display label, e.g. "PGD-10 L∞ 8/255". */
  label: string;
}

export function resolveAttack(spec: AttackSpec): ResolvedAttack {
  const attack = getAttack(spec.attack);
  checkThreat(spec, `${spec.attack}.`);
  const options = attack.resolve(spec.options ?? {}, spec);
  const tag = attack.tag(options);
  return {
    attack,
    spec: { ...spec, options },
    key: `${tag}_${threatKey(spec.norm, spec.eps)}`,
    label: `${tagLabel(tag)} ${threatLabel(spec.norm, spec.eps)}`,
  };
}

/**
 * Passes through the model per example of a resolved attack (./attack.ts AttackPasses), checked:
 * every registered attack states its own, so none can be priced by a guess.
 */
export function attackPasses(r: ResolvedAttack): AttackPasses {
  const p = r.attack.passes(r.spec.options);
  for (const k of ["inputGradient", "forward"] as const) {
    if (typeof p?.[k] !== "number" || !Number.isFinite(p[k]) || p[k] < 0) {
      throw new Error(
        `Attack ${r.attack.name} states ${k} passes ${p?.[k]}: expected a finite number >= 0.`,
      );
    }
  }
  return { inputGradient: p.inputGradient, forward: p.forward };
}

/** "pgd10" -> "PGD-10", "apgdce100" -> "APGDCE-100", "fgsm" -> "FGSM". */
function tagLabel(tag: string): string {
  const m = /^([a-z-]+?)(\d+)?$/.exec(tag);
  return m ? `${m[1].toUpperCase()}${m[2] ? `-${m[2]}` : ""}` : tag;
}

/** Run a resolved attack on a batch. */
export function runAttack(
  r: ResolvedAttack,
  target: AttackTarget,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): Promise<tf.Tensor4D> {
  return r.attack.run(target, x, y, { norm: r.spec.norm, eps: r.spec.eps }, r.spec.options);
}
