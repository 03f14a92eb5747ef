/**
 * The report index's claims table: the paper's three claims, and for every dataset and preset
 * whether each holds, rendered from the claim values of lib/analysis/claims_overview.ts, each
 * linking to the page that shows the numbers. Says whose numbers each row is.
 */
import { type ClaimSource, type CostSummary, PAPER_CLAIMS } from "../analysis/claims_overview.ts";
import type { ClaimCheck } from "../analysis/summary.ts";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

type Mood = "holds" | "mixed" | "fails" | "none";

function checkText(c: ClaimCheck): { text: string; mood: Mood } {
  const mood: Mood = c.outcome === "holds"
    ? "holds"
    : c.outcome === "does not hold" || c.outcome === "not shown"
    ? "fails"
    : "mixed";
  const n = {
    "1a": `${c.holds} of ${c.total} SAM − ST comparisons beyond 2 SE`,
    "1b": `${c.opposite} of ${c.total} SAM rows lose clean accuracy beyond 2 SE`,
    "2a": `${c.holds} of ${c.total} AT − SAM comparisons beyond 2 SE`,
    "2b": `${c.holds} of ${c.total} AT rows lose clean accuracy beyond 2 SE`,
  }[c.id];
  return { text: `${c.id} ${c.outcome} (${n})`, mood };
}

function costText(s: ClaimSource, cost?: CostSummary): { text: string; mood: Mood } {
  if (!cost) {
    return s.whose === "paper"
      ? { text: "cost: stated by the paper, its tables have no timings", mood: "none" }
      : { text: "cost: no timings", mood: "none" };
  }
  const parts = [
    cost.sam !== undefined ? `SAM ${cost.sam.toFixed(1)}x` : "",
    cost.at10 !== undefined ? `10-step AT ${cost.at10.toFixed(1)}x` : "",
  ].filter(Boolean).join(", ");
  return {
    text: `cost ${cost.holds ? "holds" : "does not hold"} (${parts} ST; ±30%)`,
    mood: cost.holds ? "holds" : "fails",
  };
}

const COLOR: Record<Mood, string> = {
  holds: "#e5f5e0",
  mixed: "#fff7bc",
  fails: "#fde0dd",
  none: "#f0f0f0",
};

function cell(s: ClaimSource, checks: readonly string[]): string {
  const parts = checks.map((id) => {
    if (id === "cost") return costText(s, s.cost);
    const c = s.claims!.find((x) => x.id === id);
    return c ? checkText(c) : { text: `${id}: rows missing`, mood: "none" as Mood };
  });
  const moods = parts.map((p) => p.mood).filter((m) => m !== "none");
  const mood: Mood = moods.length === 0
    ? "none"
    : moods.every((m) => m === "holds")
    ? "holds"
    : moods.some((m) => m === "fails")
    ? "fails"
    : "mixed";
  return `<td style="background:${COLOR[mood]}">${parts.map((p) => esc(p.text)).join("<br>")}</td>`;
}

/** The claims section of the index: the three claims, then the table. */
export function claimsIndexHtml(sources: readonly ClaimSource[]): string {
  const claims = PAPER_CLAIMS.map((c) => `<li>${esc(c.text)}</li>`).join("");
  const head = PAGE_HEAD + PAPER_CLAIMS.map((c) => `<th>Claim ${c.id}</th>`).join("") + "</tr>";
  const rows = sources.map((s) =>
    `<tr><td><a href="${s.notebook}.html">${esc(s.title)}</a><div class="s">${
      s.whose === "paper"
        ? "the paper's numbers"
        : s.claims
        ? `our numbers: ${s.runs?.found} of ${s.runs?.planned} runs`
        : "ours: none yet"
    }</div></td>${
      s.claims
        ? PAPER_CLAIMS.map((c) => cell(s, c.checks)).join("")
        : `<td colspan="${PAPER_CLAIMS.length}" style="background:${COLOR.none}">No numbers of ours exist yet (${
          s.runs?.planned ?? 0
        } runs planned, none finished): nothing to check.</td>`
    }</tr>`
  ).join("\n");
  return `<h2>The paper's three claims, and whether they hold</h2>
<ol>${claims}</ol>
<p class="s">Each cell is computed from the numbers when the report is rendered (claim checks in
<code>lib/analysis/summary.ts</code>: a comparison counts when it lies beyond 2 standard errors; the
paper's own tables use its stated std bound of 0.5%). 1a: SAM − ST on the robust columns (PGD-10);
1b: SAM − ST clean; 2a: AT − the most robust SAM row, robust columns; 2b: AT − ST clean. Rows
marked "the paper's" check the paper's published numbers; rows marked "ours" check this project's
runs. Green: every check holds; yellow: in part; red: not shown or the other way; grey: nothing to check.</p>
<div style="overflow-x:auto"><table>${head}
${rows}
</table></div>`;
}

const PAGE_HEAD = "<tr><th>Numbers (whose; page)</th>";
