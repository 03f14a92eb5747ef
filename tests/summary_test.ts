/** Summaries over seeds, differences with their uncertainty, claim checks, cost ratios, chart specs. */
import assert from "node:assert/strict";
import { costChart, robustVsEpsChart, tradeoffChart } from "../lib/report/charts.ts";
import { titleProblems } from "./chart_titles.ts";
import {
  evalColumns,
  EXTENDED_EVALS as EXTENDED_EVAL_ATTACKS,
  PAPER_COLUMNS,
} from "../lib/experiments/columns.ts";
import { GRID } from "../lib/experiments/grid.ts";
import { familyOf } from "../lib/training/method.ts";
import type { ResultRow } from "../lib/experiments/results.ts";
import {
  checkClaims,
  costRatios,
  difference,
  formatDiff,
  formatPct,
  PAPER_STD_BOUND,
  paperSummaries,
  stat,
  summarize,
  verdict,
} from "../lib/analysis/summary.ts";
import { claimStatement, costStatements } from "../lib/report/claim_text.ts";

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("stat: mean and sample std; one value has no std", () => {
  const s = stat([0.8, 0.82, 0.84]);
  close(s.mean, 0.82);
  close(s.std, 0.02);
  assert.equal(s.n, 3);
  assert.ok(Number.isNaN(stat([0.5]).std));
  assert.equal(formatPct(s), "82.0 ± 2.0");
  assert.equal(formatPct(stat([0.5])), "50.0");
});

Deno.test("difference: seed spread plus binomial test error; verdict at 2 SE", () => {
  const a = { mean: 0.5, std: 0.02, n: 4 };
  const b = { mean: 0.4, std: 0.02, n: 4 };
  const d = difference(a, b, 1000);
  close(d.diff, 0.1);
  close(d.se, Math.sqrt(0.0004 / 4 * 2 + (0.25 + 0.24) / 1000));
  assert.equal(verdict(d, 1), "holds");
  assert.equal(verdict(d, -1), "opposite");
  assert.equal(verdict({ diff: 0.01, se: 0.01 }, 1), "within noise");
  // No sampling error (two rows both at 0% robust accuracy): the sign alone decides, 0 is no difference.
  assert.equal(verdict({ diff: 0, se: 0 }, 1), "within noise");
  assert.equal(verdict({ diff: 0.002, se: 0 }, 1), "holds");
  assert.equal(verdict({ diff: -0.002, se: 0 }, 1), "opposite");
  assert.equal(formatDiff(d, "holds"), "+10.0 ± 2.6 ✓");
});

Deno.test("the paper's own numbers: Table 2 rows parse and its claims mostly hold", () => {
  const paper = paperSummaries("cifar10");
  assert.equal(paper.length, 12);
  close(paper[0].metrics.clean.mean, 0.946);
  close(paper.find((s) => s.row.id === "AT-l2-128")!.metrics.pgd10_linf_2_255.mean, 0.784);
  const claims = checkClaims(paper, PAPER_COLUMNS, PAPER_STD_BOUND);
  assert.deepEqual(claims.map((c) => c.claim.slice(0, 3)), ["1a.", "1b.", "2a.", "2b."]);
  // SAM-0.05 on L-inf 2/255 is +0.5 points: within the paper's own noise bound.
  assert.equal(claims[0].holds, 11);
  assert.equal(claims[0].withinNoise, 1);
  // AT-linf-8 is below SAM-0.2 on L2 16/255 (82.5 vs 84.0): reported, not hidden.
  assert.equal(claims[2].opposite, 1);
  assert.match(
    claimStatement(claims[2], PAPER_COLUMNS),
    /^Claim 2a holds only in part, with exceptions: 31 of 32/,
  );
});

function fakeRows(): ResultRow[] {
  const rows: ResultRow[] = [];
  const cols = evalColumns(EXTENDED_EVAL_ATTACKS);
  for (const seed of [0, 1, 2]) {
    for (const r of GRID) {
      const fam = familyOf(r.method);
      const steps = Number(r.method.perturb?.options?.steps ?? 0);
      const base = fam === "ST" ? 0.8 : fam === "SAM" ? 0.79 : 0.75;
      const rob = fam === "ST" ? 0.3 : fam === "SAM" ? 0.4 : 0.65;
      const row: ResultRow = {
        row_id: r.id,
        seed,
        epochs: 10,
        train_seconds: 10 * (fam === "ST" ? 1 : fam === "SAM" ? 2 : steps + 1) *
          (1 + 0.01 * seed),
        eval_seconds: 5,
        test_size: 1000,
        clean: base + 0.005 * seed,
        load_avg_1m: 1,
      };
      for (const c of cols.slice(1)) row[c.key] = rob + 0.005 * seed;
      rows.push(row);
    }
  }
  return rows;
}

Deno.test("summarize + checkClaims + costRatios on synthetic runs", () => {
  const cols = evalColumns(EXTENDED_EVAL_ATTACKS);
  const sums = summarize(fakeRows(), cols);
  assert.equal(sums.length, 12);
  assert.deepEqual(sums[0].seeds, [0, 1, 2]);
  const claims = checkClaims(sums, cols);
  assert.equal(claims[0].holds, 3 * 8); // SAM +10 points on every robust column
  assert.equal(claims[1].withinNoise, 3); // SAM clean -1 point: within noise at N = 1000
  assert.match(
    claimStatement(claims[1], cols),
    /^Claim 1b holds: of 3 SAM rows, 0 improve clean accuracy beyond 2 SE, 3 keep it/,
  );
  assert.equal(claims[3].holds, 8); // AT -5 points clean
  const ratios = costRatios(sums);
  close(ratios.find((r) => r.row === "SAM-0.1")!.ratio, 2);
  close(ratios.find((r) => r.row === "AT-linf-8")!.ratio, 11);
  const said = costStatements(ratios);
  assert.equal(said.length, 2);
  assert.match(said[0], /^SAM costs 2\.0x ST per epoch here .* about 2x: holds \(within ±30%\)\.$/);
  assert.match(said[1], /^10-step PGD AT costs 11\.0x ST .* about 10x: holds \(within ±30%\)\.$/);
  // Only some rows: the claims whose rows are missing are left out.
  assert.equal(checkClaims(sums.filter((s) => familyOf(s.row.method) !== "AT"), cols).length, 2);
});

Deno.test("chart specs: one trace per row and panel, plain numbers", () => {
  const cols = evalColumns(EXTENDED_EVAL_ATTACKS);
  const sums = summarize(fakeRows(), cols);
  const t = tradeoffChart(sums, cols.slice(1, 5), "t");
  assert.equal(t.data.length, 12 * 4);
  assert.equal((t.data[0] as any).x[0], 80.5);
  const e = robustVsEpsChart(sums, cols, "e");
  assert.equal(e.data.length, 24);
  assert.deepEqual((e.data[0] as any).x, [0, 1, 2, 4, 8]);
  const c = costChart(costRatios(sums), "c");
  assert.equal((c.data[0] as any).y.length, 12);
  JSON.stringify([t, e, c]); // serialisable
  // plotly.js 3 draws only {text} titles: checked here too, so a bare string fails before a render.
  for (const [name, chart] of [["tradeoff", t], ["robust vs eps", e], ["cost", c]] as const) {
    assert.deepEqual(titleProblems(chart), [], `${name} chart titles`);
  }
});

Deno.test("a claim with few significant cells is called weak, and the side of each estimate is counted", () => {
  const cols = evalColumns(EXTENDED_EVAL_ATTACKS);
  // SAM beats ST by 10 points on one robust column only, by 0.5 (noise) on the other seven.
  const rows = fakeRows().map((r) => {
    if (!String(r.row_id).startsWith("SAM")) return r;
    const out: ResultRow = { ...r };
    cols.slice(1).forEach((c, i) => (out[c.key] = 0.31 + (i === 0 ? 0.1 : 0)));
    return out;
  });
  const [claim1a] = checkClaims(summarize(rows, cols), cols);
  assert.equal(claim1a.holds, 3);
  assert.match(
    claimStatement(claim1a, cols),
    /^Claim 1a is shown only weakly: 3 of 24 comparisons hold beyond 2 SE, 21 are within noise, 0 go the opposite way; the point estimate lies on the claimed side in 24 of 24\.$/,
  );
});

Deno.test("each claim's outcome and sentence flip with the data", () => {
  const cols = evalColumns(EXTENDED_EVAL_ATTACKS);
  const shift = (fam: string, key: "clean" | "robust", by: number) =>
    fakeRows().map((r) => {
      if (!String(r.row_id).startsWith(fam)) return r;
      const out: ResultRow = { ...r };
      for (const c of cols) {
        if ((key === "clean") === (c.key === "clean")) out[c.key] = Number(r[c.key]) + by;
      }
      return out;
    });
  const claim = (rows: ResultRow[], id: string) => {
    const c = checkClaims(summarize(rows, cols), cols).find((x) => x.id === id)!;
    return { outcome: c.outcome, text: claimStatement(c, cols) };
  };
  // 1a: SAM +10 points robust in fakeRows; SAM -20 points makes it go the other way.
  assert.equal(claim(fakeRows(), "1a").outcome, "holds");
  const no1a = claim(shift("SAM", "robust", -0.2), "1a");
  assert.equal(no1a.outcome, "does not hold");
  assert.match(no1a.text, /^Claim 1a does not hold: 0 of 24 .* 24 go the opposite way/);
  // 1b: SAM -1 point clean keeps it; -10 points loses it.
  const lost = claim(shift("SAM", "clean", -0.09), "1b");
  assert.equal(lost.outcome, "does not hold");
  assert.match(
    lost.text,
    /^Claim 1b does not hold: of 3 SAM rows, 0 improve .* 3 lose it \(SAM-0\.05: −10\.0/,
  );
  // 2a: AT +25 points over SAM; AT at SAM's level is within noise.
  assert.match(
    claim(fakeRows(), "2a").text,
    /^Claim 2a holds: 64 of 64 .* margin over SAM-0\.05 ranges from 25\.0/,
  );
  const level = claim(shift("AT", "robust", -0.25), "2a");
  assert.equal(level.outcome, "not shown");
  assert.match(level.text, /^Claim 2a is not shown \(all within noise\)/);
  // 2b: AT -5 points clean holds; AT +10 points clean goes the other way.
  const gains = claim(shift("AT", "clean", 0.15), "2b");
  assert.equal(gains.outcome, "does not hold");
  assert.match(gains.text, /^Claim 2b does not hold: 0 of 8 AT rows lose .* 8 gain it\.$/);
});

Deno.test("the cost sentence flips when SAM's measured cost leaves ±30% of the paper's 2x", () => {
  const cols = evalColumns(EXTENDED_EVAL_ATTACKS);
  const slowSam = fakeRows().map((r) =>
    String(r.row_id).startsWith("SAM") ? { ...r, train_seconds: 4 * Number(r.train_seconds) } : r
  );
  const said = costStatements(costRatios(summarize(slowSam, cols)));
  assert.match(said[0], /^SAM costs 8\.0x ST .* about 2x: does not hold \(outside ±30%\)\.$/);
  assert.match(said[1], /about 10x: holds/);
});
