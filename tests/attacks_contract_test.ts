/**
 * The contract every registered attack keeps, checked on a small trained model (tests/
 * attack_fixture.ts) in both norms: results inside the eps-ball (1e-6) and the [0, 1] box,
 * identical for the same Rng seed, accuracy never above clean, never weaker than FGSM, and no
 * tensor left behind. A newly registered attack runs here with its defaults unless QUICK lists
 * cheaper options for it.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { NORMS, type ThreatModel } from "../lib/attacks/attack.ts";
import { ATTACKS, resolveAttack, runAttack } from "../lib/attacks/registry.ts";
import { Rng } from "../lib/util/rng.ts";
import { accuracy, batchOf, trainSmallModel } from "./attack_fixture.ts";

/** Test-sized budgets (the defaults are AutoAttack's: 100 steps, 9 targets, 5000 queries). */
const QUICK: Record<string, Record<string, unknown>> = {
  "apgd-ce": { steps: 20 },
  "apgd-dlr": { steps: 20 },
  "apgd-t": { steps: 20, nTargetClasses: 3 },
  square: { queries: 300 },
};
/** Radii where FGSM leaves some accuracy on the fixture model (L2 at the largest allowed eps). */
const EPS = { linf: 0.15, l2: 1 } as const;

const { model, test } = await trainSmallModel();
const { x, y } = batchOf(test, 100);
const clean = await accuracy(model, x, y);
const cleanX = x.dataSync() as Float32Array;

async function attackOnce(name: string, threat: ThreatModel, seed: number) {
  const r = resolveAttack({ attack: name, ...threat, options: QUICK[name] ?? {} });
  const adv = await runAttack(r, { model, mode: "eval", rng: Rng.fromSeed(seed) }, x, y);
  const values = Float32Array.from(await adv.data());
  const acc = await accuracy(model, adv, y);
  adv.dispose();
  return { values, acc };
}

/** max over examples of ||adv - x|| in the norm. */
function largestStep(adv: Float32Array, norm: "linf" | "l2"): number {
  const d = adv.length / x.shape[0];
  let worst = 0;
  for (let i = 0; i < x.shape[0]; i++) {
    let m = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      const v = Math.abs(adv[j] - cleanX[j]);
      m = norm === "linf" ? Math.max(m, v) : m + v * v;
    }
    worst = Math.max(worst, norm === "linf" ? m : Math.sqrt(m));
  }
  return worst;
}

Deno.test("attack contract: every registered attack, both norms, on a trained model", async (t) => {
  assert.ok(clean > 0.6, `the fixture model is undertrained (clean ${clean})`);
  for (const norm of NORMS) {
    const threat = { norm, eps: EPS[norm] };
    const fgsm = (await attackOnce("fgsm", threat, 1)).acc;
    assert.ok(fgsm > 0.02, `FGSM leaves nothing to compare at ${norm} ${threat.eps} (${fgsm})`);
    for (const name of Object.keys(ATTACKS)) {
      await t.step(`${name} ${norm} eps ${threat.eps}`, async () => {
        const before = tf.memory().numTensors;
        const a = await attackOnce(name, threat, 7);
        const b = await attackOnce(name, threat, 7);
        assert.equal(tf.memory().numTensors, before, "tensors leaked");
        assert.ok(a.values.every((v, i) => v === b.values[i]), "not deterministic in its seed");
        assert.ok(a.values.every((v) => v >= 0 && v <= 1), "outside [0, 1]");
        const step = largestStep(a.values, norm);
        assert.ok(step <= threat.eps + 1e-6, `outside the eps-ball: ${step} > ${threat.eps}`);
        assert.ok(a.acc <= clean, `accuracy ${a.acc} above clean ${clean}`);
        assert.ok(a.acc <= fgsm, `weaker than FGSM: ${a.acc} > ${fgsm}`);
      });
    }
  }
});

Deno.test("attack contract: eps = 0 returns x unchanged", async () => {
  for (const name of Object.keys(ATTACKS)) {
    const r = resolveAttack({ attack: name, norm: "linf", eps: 0, options: QUICK[name] ?? {} });
    const adv = await runAttack(r, { model, mode: "eval", rng: Rng.fromSeed(0) }, x, y);
    assert.ok((adv.dataSync() as Float32Array).every((v, i) => v === cleanX[i]), name);
    adv.dispose();
  }
});
