/**
 * Print a preset's committed results as README-ready markdown: mean ± std per row (accuracy, %),
 * the claim verdicts under PGD-10 and under AutoAttack, and PGD-10 − AutoAttack per family. Reads
 * the results files; trains nothing. README's findings are pasted from this output.
 *
 *   bin/deno run -A scripts/findings.ts [--preset default|full]
 */
import {
  attackGaps,
  autoattackColumns,
  autoattackSummaries,
  gapsByFamily,
  tableColumns,
} from "../lib/analysis/autoattack_view.ts";
import { checkClaims, formatPct, summarize } from "../lib/analysis/summary.ts";
import { maskingChecksOfResults } from "../lib/analysis/masking.ts";
import { evalColumns } from "../lib/experiments/columns.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import { readEvals, readResults } from "../lib/experiments/results.ts";
import { planTable } from "../lib/experiments/table.ts";
import { parseCli, runCli } from "./cli.ts";

const args = parseCli(
  { preset: { type: "string", default: "default" } },
  "usage: bin/deno run -A scripts/findings.ts [--preset NAME]   (Fashion-MNIST results as markdown)",
);

// runCli takes a promise: the synchronous body runs inside one, so its errors get the one-line treatment.
await runCli(() =>
  Promise.resolve().then(() => {
    const plan = planGrid({ dataset: "fashion-mnist", preset: args.preset });
    const all = evalColumns(plan.preset.evals);
    const cols = tableColumns(all).filter((c) =>
      ["clean", "pgd10_linf_2_255", "pgd10_l2_32_255", "pgd10_linf_8_255", "pgd10_l2_128_255"]
        .includes(c.key) || c.attack === "autoattack"
    );
    const summaries = summarize(planTable(plan), all);
    console.log(`| row | seeds | ${cols.map((c) => c.label).join(" | ")} |`);
    console.log(`|---|---|${cols.map(() => "---").join("|")}|`);
    for (const s of summaries) {
      console.log(`| ${s.row.label} | ${s.seeds.length} | ${
        cols.map((c) => formatPct(s.metrics[c.key])).join(" | ")
      } |`);
    }
    const pgd = tableColumns(all).filter((c) =>
      c.attack !== "autoattack"
    );
    console.log("\nUnder PGD-10:");
    for (const c of checkClaims(summaries, pgd)) console.log(`- ${c.claim}: ${c.statement}`);
    const aa = autoattackColumns(all);
    const runs = readResults(plan.resultsPath).filter((r) => plan.existing.has(String(r.run_key)));
    const evals = readEvals(plan.resultsPath);
    const gaps = attackGaps(runs, evals);
    if (gaps.length) {
      console.log("\nUnder AutoAttack (seed 0, its points; PGD-10's seed std stands in):");
      const aaClaims = checkClaims(autoattackSummaries(summaries, all), [all[0], ...aa]);
      for (const c of aaClaims.filter((c) => /^[12]a/.test(c.claim))) {
        console.log(`- ${c.claim}: ${c.statement}`);
      }
      const fam = gapsByFamily(gaps, summaries);
      console.log(
        "\nPGD-10 − AutoAttack on the same points (points, mean [min, max] over runs × threats):",
      );
      for (const [f, v] of fam) {
        const p = (x: number) => (100 * x).toFixed(1);
        console.log(
          `- ${f}: ${p(v.reduce((a, b) => a + b, 0) / v.length)} [${p(Math.min(...v))}, ${
            p(Math.max(...v))
          }] (${v.length})`,
        );
      }
      const checks = maskingChecksOfResults(runs, evals, plan.testSize);
      const failed = checks.flatMap((c) =>
        c.checks.filter((k) => !k.passed).map((k) =>
          `${c.runKey} ${c.threat} ${k.name}: ${k.detail}`
        )
      );
      console.log(
        `\nMasking checks: ${checks.length} AutoAttack evaluations, ${failed.length} failed check(s).`,
      );
      for (const f of failed) console.log(`- ${f}`);
    }
  })
);
