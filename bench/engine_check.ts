/**
 * Does the graph engine reproduce the committed results? For one committed run of a results file:
 * every evaluation column the evaluations file has for it, evaluated on its saved model with the
 * eager and the graph engine (flags against the committed rows and against each other), and with
 * --train also the run retrained on both engines (final training loss against the committed one).
 *
 *   TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 bin/deno run -A bench/engine_check.ts \
 *     [--results results/fashion-mnist-default.csv] [--row ST] [--seed 0] [--only REGEX] [--train]
 *
 * Use the thread count the results were made with (the grid's workers: one thread each).
 * bench/NOTES.md (2026-12-07) has the outcome for ST, SAM rho=0.1 and AT L-inf 8/255 seed 0.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/backend.ts";
import { loadDataset } from "../lib/data/registry.ts";
import { subset } from "../lib/data/subset.ts";
import type { Norm } from "../lib/attacks/attack.ts";
import { getPreset } from "../lib/experiments/presets.ts";
import { ALL_ROWS } from "../lib/experiments/grid.ts";
import { runConfig } from "../lib/experiments/plan.ts";
import { evalsPathFor, flagsToBase64, parseCsv } from "../lib/experiments/results.ts";
import { loadModelFile } from "../lib/models/model_file.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { train } from "../lib/training/train.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    results: { type: "string", default: "results/fashion-mnist-default.csv" },
    row: { type: "string", default: "ST" },
    seed: { type: "string", default: "0" },
    only: { type: "string", default: "." },
    train: { type: "boolean", default: false },
  },
});
const readRows = (path: string) => {
  const [h, ...rows] = parseCsv(Deno.readTextFileSync(path));
  return rows.map((r) => Object.fromEntries(h.map((k, i) => [k, r[i]])));
};
await initBackend("tensorflow");
const run = readRows(a.results!).find((r) => r.row_id === a.row && r.seed === a.seed);
if (!run) throw new Error(`No run ${a.row} seed ${a.seed} in ${a.results}.`);
const preset = getPreset(run.dataset, run.preset);
const splits = await loadDataset(run.dataset);
const sized = (d: typeof splits.train, n: number | "all") =>
  n === "all" || n >= d.n ? d : subset(d, n, preset.subsetSeed);
const only = new RegExp(a.only!);
const evals = readRows(evalsPathFor(a.results!)).filter((e) =>
  e.run_key === run.run_key && only.test(e.eval_key)
);
let allSame = true;
if (evals.length) {
  const testSet = sized(splits.test, preset.testSize);
  const { model } = loadModelFile(run.model_file);
  const byN = new Map<number, typeof evals>();
  for (const e of evals) byN.set(Number(e.n), [...(byN.get(Number(e.n)) ?? []), e]);
  const flags: Record<string, Record<string, string>> = { eager: {}, graph: {} };
  for (const engine of ["eager", "graph"] as const) {
    for (const [n, group] of byN) {
      const t0 = performance.now();
      const ev = await evaluate(model, testSet, {
        evals: group.map((e) => ({
          attack: e.attack,
          norm: e.norm as Norm,
          eps: Number(e.eps),
          options: JSON.parse(e.options),
        })),
        limit: n,
        batchSize: preset.evalBatchSize,
        seed: Number(run.seed),
        progress: "none",
        engine,
      });
      for (const e of group) {
        const c = ev.evals[e.eval_key];
        flags[engine][e.eval_key] = flagsToBase64(c.robust);
        const same = flags[engine][e.eval_key] === e.robust_flags;
        allSame &&= same;
        console.log(
          `${engine} ${e.eval_key} (n ${n}): ${c.accuracy} (committed ${e.accuracy}), flags ${
            same ? "=" : "!="
          } committed; ${c.graphSteps ?? 0} graph iterations`,
        );
      }
      console.log(`${engine} n=${n}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  const agree = JSON.stringify(flags.graph) === JSON.stringify(flags.eager);
  console.log(`graph flags ${agree ? "=" : "!="} eager flags in every column`);
  allSame &&= agree;
  model.dispose();
}
if (a.train) {
  const row = ALL_ROWS.find((r) => r.id === run.row_id)!;
  const losses: string[] = [];
  for (const engine of ["eager", "graph"] as const) {
    const t0 = performance.now();
    const r = await train(
      sized(splits.train, preset.trainSize),
      runConfig(preset, row, Number(run.seed)),
      {
        stepEngine: engine,
        progress: "none",
      },
    );
    const loss = String(r.metrics.at(-1)!.trainLoss);
    losses.push(loss);
    console.log(
      `${engine} training: final loss ${loss} (committed ${run.final_train_loss}); ${
        r.graph?.graphSteps ?? 0
      } graph steps; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    r.model.dispose();
  }
  console.log(`graph training ${losses[0] === losses[1] ? "=" : "!="} eager training`);
  allSame &&= losses[0] === losses[1];
}
Deno.exit(allSame ? 0 : 1);
