/**
 * The masking checks read from evaluation rows (lib/analysis/masking.ts): the right rows feed the
 * right check, PGD-10 is restricted to AutoAttack's points by its flags, and a bad row is flagged.
 */
import assert from "node:assert/strict";
import { attackGaps } from "../lib/analysis/autoattack_view.ts";
import { runMaskingChecks } from "../lib/analysis/masking.ts";
import { flagsToBase64, type ResultRow } from "../lib/experiments/results.ts";

const EPS = 8 / 255;

function row(
  evalKey: string,
  attack: string,
  eps: number,
  steps: number | null,
  flags: number[],
  stages?: { attack: string; accuracy: number }[],
): ResultRow {
  const accuracy = flags.reduce((a, b) => a + b, 0) / flags.length;
  return {
    run_key: "k1",
    eval_key: evalKey,
    attack,
    norm: "linf",
    eps,
    options: JSON.stringify(steps === null ? {} : { steps }),
    n: flags.length,
    accuracy,
    stages: stages ? JSON.stringify(stages) : null,
    robust_flags: flagsToBase64(Uint8Array.from(flags)),
    seconds: 1,
  };
}

const run = { run_key: "k1", clean: 0.75 };
// Four test points; AutoAttack and its companions on the first two.
const pgd10 = row("pgd10_linf_8_255", "pgd", EPS, 10, [1, 1, 1, 0]);
const pgd10Small = row("pgd10_linf_4_255", "pgd", EPS / 2, 10, [1, 1, 1, 0]);
const aaStages = [
  { attack: "apgd-ce", accuracy: 0.5 },
  { attack: "apgd-t", accuracy: 0.5 },
  { attack: "square", accuracy: 0.5 },
];
const aa = row("aa_linf_8_255", "autoattack", EPS, null, [1, 0], aaStages);
const pgd50 = row("pgd50_linf_8_255", "pgd", EPS, 50, [1, 0]);
const apgd = row("apgdce100_linf_8_255", "apgd-ce", EPS, 100, [1, 0]);
const large = row("apgdce20_linf_eps0.5", "apgd-ce", 0.5, 20, [0, 0]);

Deno.test("masking checks from results rows: all four, PGD-10 on AutoAttack's points", () => {
  const [r] = runMaskingChecks(run, [pgd10, pgd10Small, aa, pgd50, apgd, large], 4);
  assert.equal(r.evalKey, "aa_linf_8_255");
  assert.equal(r.n, 2);
  assert.deepEqual(r.checks.map((c) => c.name), [
    "square-after-apgd",
    "large-radius",
    "more-steps",
    "ordering",
  ]);
  for (const c of r.checks) assert.ok(c.passed, c.detail);
  // PGD-10 on the first two points is 100% (flags 1, 1), not its 75% on all four.
  assert.match(r.checks[2].detail, /PGD-10 \(first 2\) 100\.00%/);
});

Deno.test("masking checks from results rows: each failure is flagged, missing rows left out", () => {
  const squareFinds = row("aa_linf_8_255", "autoattack", EPS, null, [0, 0], [
    { attack: "apgd-ce", accuracy: 0.5 },
    { attack: "apgd-t", accuracy: 0.5 },
    { attack: "square", accuracy: 0 },
  ]);
  const survives = row("apgdce20_linf_eps0.5", "apgd-ce", 0.5, 20, [1, 0]);
  const rising = row("pgd10_linf_4_255", "pgd", EPS / 2, 10, [1, 0, 0, 0]); // 25% < 50% at 8/255
  const weaker = row("pgd50_linf_8_255", "pgd", EPS, 50, [1, 1]);
  const pgd10Low = row("pgd10_linf_8_255", "pgd", EPS, 10, [1, 0, 1, 0]);
  const [r] = runMaskingChecks(run, [pgd10Low, rising, squareFinds, weaker, survives], 4);
  const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
  assert.equal(byName["square-after-apgd"].passed, false);
  assert.equal(byName["large-radius"].passed, false);
  assert.equal(byName["more-steps"].passed, false, byName["more-steps"].detail);
  assert.equal(byName["ordering"].passed, false, "25% at 4/255 but 50% at 8/255: rises in eps");
  assert.match(byName["ordering"].detail, /pgd10_linf_8_255 50\.00% > pgd10_linf_4_255 25\.00%/);
  const [r2] = runMaskingChecks(run, [pgd10Low, pgd10Small, squareFinds], 4);
  assert.equal(r2.checks.find((c) => c.name === "ordering")!.passed, true);
  // Without the companion rows only (a) and (d) remain.
  assert.deepEqual(r2.checks.map((c) => c.name), ["square-after-apgd", "ordering"]);
  assert.deepEqual(runMaskingChecks(run, [pgd10], 4), [], "no AutoAttack row, no checks");
});

Deno.test("attackGaps: PGD-10 on AutoAttack's own points (its flags), the stages carried over", () => {
  const gaps = attackGaps(
    [{ run_key: "k1", row_id: "ST", seed: 0, clean: 0.75 }],
    [pgd10, pgd10Small, aa, pgd50],
  );
  assert.equal(gaps.length, 1);
  // PGD-10 is 75% on all four points but 100% on the first two, where AutoAttack leaves 50%.
  assert.deepEqual([gaps[0].n, gaps[0].pgd10, gaps[0].autoattack, gaps[0].gap], [2, 1, 0.5, 0.5]);
  assert.deepEqual(gaps[0].stages.map((s) => s.attack), ["apgd-ce", "apgd-t", "square"]);
  assert.deepEqual(
    attackGaps([{ run_key: "k1", row_id: "ST", seed: 0 }], [aa]),
    [],
    "no PGD-10 row",
  );
});
