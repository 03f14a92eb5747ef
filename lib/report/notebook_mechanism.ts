/**
 * The notebook `mechanism_sharpness_vs_robustness`: what its cells call. The measures and
 * findings are computed in lib/analysis/mechanism_*.ts; tables, charts and prose are built in
 * lib/report/mechanism_*.ts. Every number on that page is ours: the paper reports none of them.
 */
export {
  DEFAULT_RESULTS,
  loadMechanism,
  robustKeys,
  robustLabel,
} from "../analysis/mechanism_data.ts";
export { correlations } from "../analysis/mechanism_correlations.ts";
export { equivalenceRows } from "../analysis/mechanism_section3.ts";
export { mechanismFindings } from "../analysis/mechanism_findings.ts";
export {
  correlationTable,
  curvatureDiagnostics,
  equivalenceTable,
  filesMarkdown,
  measuresTable,
  settingsMarkdown,
} from "./mechanism_tables.ts";
export {
  landscape1dChart,
  landscape2dChart,
  landscapeRuns,
  pgdLineChart,
  scatterChart,
  sharpnessVsRhoChart,
} from "./mechanism_charts.ts";
export {
  atComparisonTable,
  findingsMarkdown,
  separationTable,
  verdictMarkdown,
} from "./mechanism_text.ts";
