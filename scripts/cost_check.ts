/**
 * The cost model against the clock: for a preset's finished runs, the seconds each training and
 * each evaluation took (from the results CSVs) beside what `--dry-run` would have estimated for it
 * (lib/experiments/plan.ts with the preset's CostModel). Use it after a quiet run to recalibrate
 * lib/experiments/presets.ts; a ratio far from 1 means the dry-run estimate is wrong.
 *
 *   bin/deno run -A scripts/cost_check.ts [--dataset NAME] [--preset default|full|cpu] [--results FILE]
 */
import { resolveEval } from "../lib/attacks/protocols.ts";
import {
  estimateEvalSeconds,
  estimateTrainSeconds,
  planGrid,
  shownPath,
} from "../lib/experiments/plan.ts";
import { checkRunsFile } from "../lib/experiments/results.ts";
import { formatDuration } from "../lib/util/progress.ts";
import { parseCli, runCli } from "./cli.ts";

const args = parseCli(
  {
    dataset: { type: "string", default: "fashion-mnist" },
    preset: { type: "string", default: "default" },
    results: { type: "string" },
  },
  "usage: bin/deno run -A scripts/cost_check.ts [--dataset NAME] [--preset NAME] [--results FILE]",
);

await runCli(() =>
  Promise.resolve().then(() => {
    const plan = planGrid({
      dataset: args.dataset,
      preset: args.preset,
      resultsPath: args.results,
    });
    checkRunsFile(args.results ?? shownPath(plan.resultsPath), `results/${args.dataset}-${args.preset}.csv`);
    const p = plan.preset;
    const groups = new Map<string, { measured: number; estimated: number; count: number }>();
    const add = (group: string, measured: number, estimated: number) => {
      const g = groups.get(group) ?? { measured: 0, estimated: 0, count: 0 };
      g.measured += measured;
      g.estimated += estimated;
      g.count++;
      groups.set(group, g);
    };
    for (const run of plan.runs) {
      const done = plan.existing.get(run.runKey);
      if (!done) continue;
      const nTrain = Number(done.train_size);
      add(
        `train ${run.row.id}`,
        Number(done.train_seconds),
        estimateTrainSeconds(p, run.row, nTrain),
      );
      for (const e of p.evals) {
        const ev = resolveEval(e);
        const row = plan.evals.get(run.runKey)?.get(ev.key);
        if (!row) continue;
        // n = 0 for the clean pass: each evaluation row times its attack only.
        const est = estimateEvalSeconds(p, [{ eval: ev, n: Number(row.n) }], 0);
        add(
          `eval ${ev.key.replace(/_(linf|l2)_.*$/, "")} (${Number(row.n)} pts)`,
          Number(row.seconds),
          est,
        );
      }
    }
    console.log(
      `${p.dataset}/${p.name}: measured seconds against the dry-run's cost model (${p.cost.measuredOn})`,
    );
    console.log("| what | count | measured | estimated | measured / estimated |");
    console.log("|---|---|---|---|---|");
    let m = 0, e = 0;
    for (const [k, g] of [...groups].sort()) {
      m += g.measured;
      e += g.estimated;
      console.log(
        `| ${k} | ${g.count} | ${formatDuration(g.measured)} | ${formatDuration(g.estimated)} | ${
          (g.measured / g.estimated).toFixed(2)
        } |`,
      );
    }
    console.log(`| all | | ${formatDuration(m)} | ${formatDuration(e)} | ${(m / e).toFixed(2)} |`);
  })
);
