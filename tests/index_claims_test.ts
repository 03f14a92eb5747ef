/** The report index's claims table follows the claim values: a flipped outcome flips its cell. */
import assert from "node:assert/strict";
import { evalColumns, EXTENDED_EVALS } from "../lib/experiments/columns.ts";
import { GRID } from "../lib/experiments/grid.ts";
import { familyOf } from "../lib/training/method.ts";
import { checkClaims, summarize } from "../lib/analysis/summary.ts";
import type { ResultRow } from "../lib/experiments/results.ts";
import type { ClaimSource } from "../lib/analysis/claims_overview.ts";
import { claimsIndexHtml } from "../lib/report/index_claims.ts";

function source(samGain: number): ClaimSource {
  const cols = evalColumns(EXTENDED_EVALS);
  const rows: ResultRow[] = [0, 1, 2].flatMap((seed) =>
    GRID.map((r) => {
      const fam = familyOf(r.method);
      const rob = fam === "ST" ? 0.3 : fam === "SAM" ? 0.3 + samGain : 0.65;
      const row: ResultRow = {
        row_id: r.id,
        seed,
        test_size: 1000,
        clean: (fam === "AT" ? 0.75 : 0.8) + 0.005 * seed,
      };
      for (const c of cols.slice(1)) row[c.key] = rob + 0.005 * seed;
      return row;
    })
  );
  return {
    title: "Test set, preset x (ours)",
    whose: "ours",
    dataset: "fashion-mnist",
    notebook: "table_fashion_mnist",
    claims: checkClaims(summarize(rows, cols), cols),
    cost: { sam: 2, at10: 10, holds: true },
    runs: { found: 36, planned: 36 },
  };
}

Deno.test("claim 1's cell says 'holds' or 'does not hold' as the SAM − ST comparisons do", () => {
  const up = claimsIndexHtml([source(0.1)]);
  assert.match(up, /#e5f5e0">1a holds \(24 of 24 SAM − ST comparisons beyond 2 SE\)/);
  const down = claimsIndexHtml([source(-0.1)]);
  assert.match(down, /#fde0dd">1a does not hold \(0 of 24 SAM − ST comparisons beyond 2 SE\)/);
  assert.doesNotMatch(down, /1a holds/);
});

Deno.test("a dataset without numbers of ours says so in one cell and claims nothing", () => {
  const none: ClaimSource = {
    title: "CIFAR-10 (JPEG q75 copy), preset cpu (ours)",
    whose: "ours",
    dataset: "cifar10-jpeg",
    preset: "cpu",
    notebook: "table2_cifar10",
    runs: { found: 0, planned: 36 },
  };
  const html = claimsIndexHtml([none]);
  assert.match(
    html,
    /colspan="3"[^>]*>No numbers of ours exist yet \(36 runs planned, none finished\)/,
  );
  assert.match(html, /ours: none yet/);
  assert.doesNotMatch(html, /<td[^>]*>[^<]*\b(holds|does not hold)\b/);
});
