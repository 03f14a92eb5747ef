/**
 * Cost of the AutoAttack stages against PGD's on the small CNN (28x28x1, 10 classes, batch 256),
 * worst case: labels = the model's own predictions and a tiny eps, so every point is attacked and
 * none is fooled (no early exit; APGD-T runs every target on every point, Square every query).
 * APGD-T and Square are timed on a short budget and scaled: their runs are independent when
 * nothing is fooled. Prints ms per example for each full attack and per iteration / query.
 *
 *   bin/deno run -A bench/attack_cost.ts [--widths 8,32] [--batch 256]
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/backend.ts";
import { createModel } from "../lib/models/model.ts";
import { resolveAttack, runAttack } from "../lib/attacks/registry.ts";
import { Rng } from "../lib/util/rng.ts";
import { loadAverage } from "../lib/util/load_average.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    widths: { type: "string", default: "8,32" },
    batch: { type: "string", default: "256" },
  },
});
const backend = await initBackend();
const batch = Number(values.batch);
const EPS = 1e-4;

/** [attack, options, iterations timed, iterations of the full attack] */
const CASES: [string, Record<string, unknown>, number, number][] = [
  ["pgd", { steps: 10 }, 10, 10],
  ["apgd-ce", { steps: 100 }, 100, 100],
  ["apgd-t", { steps: 100, nTargetClasses: 1 }, 100, 900],
  ["square", { queries: 100 }, 100, 5000],
];

console.log(
  `backend ${backend}, batch ${batch}, smallcnn 28x28x1, L-inf eps ${EPS} (nothing fooled)`,
);
console.log(
  `1-minute load average at start: ${
    loadAverage()?.toFixed(2) ?? "n/a"
  } (on ${navigator.hardwareConcurrency} cores; other work inflates every number alike)`,
);
console.log(
  "width  attack   ms/iter/example  x PGD step  full attack ms/example  (full = iterations)",
);
for (const width of values.widths.split(",").map(Number)) {
  const rng = Rng.fromSeed(width);
  const model = createModel({
    arch: "smallcnn",
    width,
    inputShape: [28, 28, 1],
    numClasses: 10,
    mean: [0.286],
    std: [0.353],
  }, rng);
  const x = tf.tensor4d(rng.fillUniform(new Float32Array(batch * 784), 0, 1), [batch, 28, 28, 1]);
  const y = tf.tidy(() => tf.cast(tf.argMax(model.forward(x, "eval"), 1), "int32")) as tf.Tensor1D;
  let pgdPerIter = NaN;
  for (const [attack, options, timed, full] of CASES) {
    const r = resolveAttack({ attack, norm: "linf", eps: EPS, options });
    const once = async () => {
      const t0 = performance.now();
      const adv = await runAttack(r, { model, mode: "eval", rng: Rng.fromSeed(1) }, x, y);
      await adv.data();
      adv.dispose();
      return performance.now() - t0;
    };
    await runAttack(
      resolveAttack({
        attack,
        norm: "linf",
        eps: EPS,
        options: attack === "square"
          ? { queries: 5 }
          : attack === "pgd"
          ? { steps: 2 }
          : { ...options, steps: 5 },
      }),
      { model, mode: "eval", rng: Rng.fromSeed(1) },
      x,
      y,
    ).then((a) => a.dispose()); // warm-up
    const ms = await once();
    const perIter = ms / timed / batch;
    if (attack === "pgd") pgdPerIter = perIter;
    console.log(
      `${String(width).padStart(5)}  ${attack.padEnd(8)} ${perIter.toFixed(4).padStart(15)}  ${
        (perIter / pgdPerIter).toFixed(2).padStart(10)
      }  ${(perIter * full).toFixed(2).padStart(22)}  (${full})`,
    );
  }
  tf.dispose([x, y]);
  model.dispose();
}
