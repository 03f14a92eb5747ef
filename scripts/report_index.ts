/**
 * Print the report index's claims section as HTML (scripts/report.py embeds it): the paper's three
 * claims and, for every dataset and preset, whether each holds. Reads results; trains nothing.
 */
import { claimsOverview } from "../lib/analysis/claims_overview.ts";
import { claimsIndexHtml } from "../lib/report/index_claims.ts";

console.log(claimsIndexHtml(claimsOverview()));
