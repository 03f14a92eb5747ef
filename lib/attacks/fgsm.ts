/**
 * FGSM (Goodfellow et al. 2015): one signed-gradient (L-inf) or normalised-gradient (L2) step of
 * size eps from x, no random start. The weakest white-box attack: the contract test requires
 * every other attack to be at least as strong on a trained model.
 */
import type { Attack } from "./attack.ts";
import { pgdAttack } from "./pgd.ts";
import { checkKnownKeys } from "../util/validate.ts";

export const FGSM: Attack<Record<string, never>> = {
  name: "fgsm",
  summary: "FGSM (Goodfellow et al. 2015): one step of size eps, no random start",
  whiteBox: true,
  resolve(o) {
    checkKnownKeys("fgsm", o, []);
    return {};
  },
  tag: () => "fgsm",
  passes: () => ({ inputGradient: 1, forward: 0 }),
  run(target, x, y, threat) {
    if (threat.eps === 0) return Promise.resolve(x.clone());
    // fgsm() in ./pgd.ts, with its one iteration run through target.graphs when given.
    return pgdAttack(target, x, y, {
      ...threat,
      alpha: threat.eps,
      steps: 1,
      randomStart: false,
      mode: target.mode,
      rng: target.rng,
      moments: target.moments,
      bounds: target.bounds,
    });
  },
};
