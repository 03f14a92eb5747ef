/**
 * The sentences of the claim checks, rendered from their values (lib/analysis/summary.ts's
 * ClaimCheck): the outcome word, the counts and the margins all come from the value.
 */
import type { EvalColumn } from "../experiments/columns.ts";
import {
  type Cell,
  cellRecords,
  type ClaimCheck,
  type ClaimOutcome,
  costChecks,
  type CostRatio,
  formatDiff,
} from "../analysis/summary.ts";

/** The verb form for a count: 1 takes the singular. */
function verb(n: number, singular: string, plural: string): string {
  return n === 1 ? singular : plural;
}

/** "holds", "is not shown (all within noise)", ... as the sentence puts it after "Claim 1a". */
export function outcomePhrase(o: ClaimOutcome): string {
  return {
    holds: "holds",
    "holds in part": "holds in part",
    "shown only weakly": "is shown only weakly",
    "not shown": "is not shown (all within noise)",
    "holds only in part, with exceptions": "holds only in part, with exceptions",
    "does not hold": "does not hold",
  }[o];
}

function listCells(cells: readonly Cell[], columns: readonly EvalColumn[]): string {
  const label = (k: string) => columns.find((c) => c.key === k)?.label ?? k;
  return cells.map((c) => `${c.row} on ${label(c.column)}`).join(", ");
}

function tally(c: ClaimCheck): string {
  return `${c.holds} of ${c.total} comparisons ${
    verb(c.holds, "holds", "hold")
  } beyond 2 SE, ${c.withinNoise} ${verb(c.withinNoise, "is", "are")} within noise, ${c.opposite} ${
    verb(c.opposite, "goes", "go")
  } the opposite way; the point estimate lies on the claimed side in ${c.claimedSide} of ${c.total}`;
}

/** The plain sentence of one claim check. */
export function claimStatement(c: ClaimCheck, columns: readonly EvalColumn[]): string {
  const head = `Claim ${c.id} ${outcomePhrase(c.outcome)}`;
  const opposite = c.cells.filter((x) => x.verdict === "opposite");
  switch (c.id) {
    case "1a":
      return `${head}: ${tally(c)}` +
        (opposite.length ? ` (opposite: ${listCells(opposite, columns)})` : "") + ".";
    case "1b": {
      const n = c.total;
      return `${head}: of ${n} SAM row${n === 1 ? "" : "s"}, ${c.holds} ${
        verb(c.holds, "improves", "improve")
      } clean accuracy beyond 2 SE, ${c.withinNoise} ${
        verb(c.withinNoise, "keeps", "keep")
      } it (within noise), ${c.opposite} ${verb(c.opposite, "loses", "lose")} it` +
        (opposite.length
          ? ` (${
            opposite.map((x) => `${x.row}: ${formatDiff(x.diff, x.verdict, false)} points`).join(
              ", ",
            )
          })`
          : "") +
        ".";
    }
    case "2a": {
      const margins = c.cells.map((x) => x.diff.diff * 100);
      return `${head}: ${tally(c)}; AT's margin over ${c.against} ranges from ${
        Math.min(...margins).toFixed(1)
      } to ${Math.max(...margins).toFixed(1)} points.`;
    }
    case "2b":
      return `${head}: ${c.holds} of ${c.total} AT row${c.total === 1 ? "" : "s"} ${
        verb(c.holds, "loses", "lose")
      } clean accuracy beyond 2 SE, ${c.withinNoise} ${
        verb(c.withinNoise, "is", "are")
      } within noise, ${c.opposite} ${verb(c.opposite, "gains", "gain")} it.`;
  }
}

/** One heading and plain statement per claim. */
export function claimsMarkdown(
  claims: readonly ClaimCheck[],
  columns: readonly EvalColumn[],
  where: string,
): string {
  if (claims.length === 0) {
    return `No claim can be checked ${where}: the ST, SAM or AT rows are missing.`;
  }
  return claims.map((c) => `**${c.claim}** (${c.test}, ${where}): ${claimStatement(c, columns)}`)
    .join("\n\n");
}

/** Claim 1's (SAM − ST) or claim 2's (AT rows) comparisons as table records; [] when unchecked. */
export function claimCellRecords(
  claims: readonly ClaimCheck[],
  columns: readonly EvalColumn[],
  n: "1" | "2",
): Record<string, string>[] {
  const cells = claims.filter((c) => c.id.startsWith(n)).flatMap((c) => c.cells);
  return cellRecords(cells, columns, n === "1" ? "SAM row" : "AT row");
}

/** Plain sentences on the cost claim, rendered from costChecks' values. */
export function costStatements(ratios: readonly CostRatio[]): string[] {
  return costChecks(ratios).map((c) =>
    `${c.what} costs ${c.mean.toFixed(1)}x ST per epoch here (${
      c.rows.map((r) => `${r.row} ${r.ratio.toFixed(2)}x`).join(", ")
    }); the paper says about ${c.claim}x: ${
      c.holds ? "holds (within ±30%)" : "does not hold (outside ±30%)"
    }.`
  );
}
