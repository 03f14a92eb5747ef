/**
 * What attacks cost, as each registered attack states it (Attack.passes): the counts per attack,
 * a protocol's sum over its stages, and the planner's and the cost table's prices taken from them
 * rather than from attack names.
 */
import assert from "node:assert/strict";
import type { Attack, AttackSpec } from "../lib/attacks/attack.ts";
import { evalPasses, resolveEval, STAGE_SURVIVAL } from "../lib/attacks/protocols.ts";
import { attackPasses, ATTACKS, resolveAttack } from "../lib/attacks/registry.ts";
import { costRatios, type RowSummary } from "../lib/analysis/summary.ts";
import type { GridRow } from "../lib/experiments/grid.ts";
import {
  attackSteps,
  FORWARD_PASS_IN_STEPS,
  relativeEvalCost,
  trainMsPerImage,
} from "../lib/experiments/plan.ts";
import { getPreset } from "../lib/experiments/presets.ts";
import { at, type Method, sam, ST } from "../lib/training/method.ts";

const linf = (attack: string, options: Record<string, unknown> = {}): AttackSpec => ({
  attack,
  norm: "linf",
  eps: 8 / 255,
  options,
});
const passesOf = (spec: AttackSpec) => attackPasses(resolveAttack(spec));

Deno.test("attack passes: each registered attack counts its own passes from its options", () => {
  assert.deepEqual(passesOf(linf("fgsm")), { inputGradient: 1, forward: 0 });
  assert.deepEqual(passesOf(linf("pgd")), { inputGradient: 10, forward: 0 });
  assert.deepEqual(passesOf(linf("pgd", { steps: 7 })), { inputGradient: 7, forward: 0 });
  assert.deepEqual(passesOf(linf("apgd-ce")), { inputGradient: 100, forward: 0 });
  assert.deepEqual(passesOf(linf("apgd-ce", { steps: 20, restarts: 2 })), {
    inputGradient: 40,
    forward: 0,
  });
  assert.deepEqual(passesOf(linf("apgd-dlr", { steps: 30 })), { inputGradient: 30, forward: 0 });
  // APGD-T: one run per (target class, restart).
  assert.deepEqual(passesOf(linf("apgd-t")), { inputGradient: 900, forward: 0 });
  assert.deepEqual(passesOf(linf("apgd-t", { steps: 10, restarts: 2, nTargetClasses: 3 })), {
    inputGradient: 60,
    forward: 0,
  });
  // Square: black-box, forward passes only.
  assert.deepEqual(passesOf(linf("square")), { inputGradient: 0, forward: 5000 });
  assert.deepEqual(passesOf(linf("square", { queries: 100, restarts: 2 })), {
    inputGradient: 0,
    forward: 200,
  });
});

Deno.test("attack passes: every registered attack states a count at its defaults, for both norms", () => {
  for (const [name, attack] of Object.entries(ATTACKS)) {
    assert.equal(typeof attack.passes, "function", `${name} has no passes()`);
    for (const norm of ["linf", "l2"] as const) {
      const p = attackPasses(resolveAttack({ attack: name, norm, eps: 0.1 }));
      const total = p.inputGradient + p.forward;
      assert.ok(Number.isFinite(total) && total >= 1, `${name} ${norm}: ${JSON.stringify(p)}`);
      // A white-box attack needs gradients; a black-box one must not claim any.
      assert.equal(p.inputGradient > 0, attack.whiteBox, name);
    }
  }
  // A plugin (untyped JavaScript, say) stating no count is refused, never priced by a guess.
  const pgd = ATTACKS["pgd"];
  const silent = { ...pgd, passes: () => ({}) } as unknown as Attack;
  const r = resolveAttack(linf("pgd"));
  assert.throws(
    () => attackPasses({ ...r, attack: silent }),
    /Attack pgd states inputGradient passes undefined/,
  );
});

Deno.test("attack passes: a protocol sums its stages, each on the share of points assumed to reach it", () => {
  const aa = resolveEval(linf("autoattack"));
  const s = STAGE_SURVIVAL;
  assert.deepEqual(evalPasses(aa), { inputGradient: 100 + s * 900, forward: s * s * 5000 });
  // One attack: its own count, no survival weighting.
  assert.deepEqual(evalPasses(resolveEval(linf("pgd", { steps: 20 }))), {
    inputGradient: 20,
    forward: 0,
  });
});

Deno.test("planner: evaluations and training priced from the attacks' passes, not their names", () => {
  assert.equal(relativeEvalCost(resolveEval(linf("pgd"))), 1);
  assert.equal(relativeEvalCost(resolveEval(linf("fgsm"))), 0.1);
  // PGD-100 and APGD-CE-100 make the same passes, so they cost the same.
  assert.equal(
    relativeEvalCost(resolveEval(linf("pgd", { steps: 100 }))),
    relativeEvalCost(resolveEval(linf("apgd-ce"))),
  );
  const aa = relativeEvalCost(resolveEval(linf("autoattack")));
  assert.ok(Math.abs(aa - (100 + 450 + 1250 * FORWARD_PASS_IN_STEPS) / 10) < 1e-9);
  assert.equal(attackSteps({ inputGradient: 3, forward: 23 }), 3 + 23 * FORWARD_PASS_IN_STEPS);

  const cost = getPreset("fashion-mnist", "default").cost;
  const row = (method: Method): GridRow => ({
    id: "x",
    group: "AT",
    method,
    paper: false,
    label: "x",
  } as unknown as GridRow);
  assert.equal(trainMsPerImage(cost, row(ST)), cost.trainMs.ST);
  assert.equal(trainMsPerImage(cost, row(sam(0.1))), cost.trainMs.SAM);
  assert.ok(
    Math.abs(trainMsPerImage(cost, row(at("linf", 8 / 255, 2 / 255, 10))) - cost.trainMs.AT10) <
      1e-9,
  );
  // Inputs made by another attack are priced by its passes: APGD-CE with 10 steps as PGD-10,
  // FGSM as one step (never as an unstated default of 10).
  const other = (attack: string, options = {}): Method => ({
    optimizer: { name: "sgd" },
    perturb: linf(attack, options),
  });
  assert.equal(
    trainMsPerImage(cost, row(other("apgd-ce", { steps: 10 }))),
    trainMsPerImage(cost, row(at("linf", 8 / 255, 2 / 255, 10))),
  );
  assert.equal(
    trainMsPerImage(cost, row(other("fgsm"))),
    trainMsPerImage(cost, row(at("linf", 8 / 255, 8 / 255, 1))),
  );
});

Deno.test("cost table: passes per step are the optimizer's gradient passes plus the attack's", () => {
  const summary = (id: string, method: Method, seconds: number) =>
    ({
      row: { id, group: "AT", method, paper: false, label: id },
      epochSeconds: { mean: seconds, std: 0, n: 1 },
    }) as unknown as RowSummary;
  const satAt: Method = { ...sam(0.1), perturb: at("linf", 8 / 255, 2 / 255, 10).perturb };
  const ratios = costRatios([
    summary("ST", ST, 1),
    summary("SAM", sam(0.1), 2),
    summary("AT", at("linf", 8 / 255, 2 / 255, 10), 10),
    summary("SAM+AT", satAt, 12),
    summary("SQ", { optimizer: { name: "sgd" }, perturb: linf("square", { queries: 50 }) }, 3),
  ]);
  assert.deepEqual(ratios.map((r) => r.passes), [1, 2, 11, 12, 51]);
});
