/**
 * Compute (or complete) the cache of the mechanism measures for a results file:
 *
 *   bin/deno task sharpness [--results results/fashion-mnist-full.csv] [--rows ST,SAM-0.2]
 *                           [--seeds 0] [--groups sharpness,hessian,input,equivalence,landscape]
 *                           [--landscape-rows ST,SAM-0.2,AT-linf-8] [--backend tensorflow]
 *                           [--data-dir PATH]
 *
 * Every finished run with a saved model file gets its measures; what the cache
 * (results/<name>.sharpness.csv) already has under the same settings is skipped. The logic is
 * computeMeasureCache in lib/analysis/measure_run.ts; this file parses the command line.
 */
import {
  computeMeasureCache,
  DEFAULT_SETTINGS,
  LANDSCAPE_ROWS,
} from "../lib/analysis/measure_run.ts";
import { cachePathFor, MEASURE_GROUPS, type MeasureGroup } from "../lib/analysis/measure_cache.ts";
import { parseBackend } from "../lib/backend/backend.ts";
import { ALL_ROWS, rowById } from "../lib/experiments/grid.ts";
import { checkRunsFile } from "../lib/experiments/results.ts";
import { fail, parseCli, runCli } from "./cli.ts";

const HELP =
  `Sharpness, curvature, input-gradient, first-layer and landscape measures of trained runs.

usage: bin/deno task sharpness [options]

  --results PATH       runs CSV (default results/fashion-mnist-full.csv); the cache is
                       <name>.sharpness.csv beside it
  --rows LIST          comma list of row ids (default: every run with a model file)
  --seeds LIST         comma list of seeds (default: all)
  --groups LIST        ${MEASURE_GROUPS.join(",")} (default: all)
  --landscape-rows L   rows that get 1-D/2-D landscapes (default ${LANDSCAPE_ROWS.join(",")})
  --backend NAME       tensorflow | tensorflow-gpu | wasm (default: SAM_AT_BACKEND or tensorflow)
  --data-dir PATH      where the runs' dataset is (default: the dataset's own place)
  --help               this text

Settings of every measure (lib/analysis/measure_run.ts DEFAULT_SETTINGS; the cache is keyed by them):
${
  Object.entries(DEFAULT_SETTINGS).map(([k, v]) =>
    `  ${k.padEnd(19)}${Array.isArray(v) ? v.join(", ") : typeof v === "number" ? +v.toPrecision(6) : v}`
  ).join("\n")
}`;

const list = (v: string | undefined) => v?.split(",").map((s) => s.trim()).filter(Boolean);

await runCli(async () => {
  const a = parseCli({
    results: { type: "string", default: "results/fashion-mnist-full.csv" },
    rows: { type: "string" },
    seeds: { type: "string" },
    groups: { type: "string" },
    "landscape-rows": { type: "string" },
    backend: { type: "string" },
    "data-dir": { type: "string" },
  }, HELP);
  const rows = list(a.rows);
  const unknown = rows?.find((r) => !rowById(r));
  if (unknown !== undefined) {
    fail(
      `Unknown row ${JSON.stringify(unknown)}: use a comma list of ${
        ALL_ROWS.map((r) => r.id).join(", ")
      }.`,
    );
  }
  checkRunsFile(a.results, "results/fashion-mnist-full.csv");
  const groups = list(a.groups);
  const bad = groups?.find((g) => !(MEASURE_GROUPS as readonly string[]).includes(g));
  if (bad) fail(`Unknown group ${JSON.stringify(bad)}: use ${MEASURE_GROUPS.join(", ")}.`);
  const seeds = list(a.seeds)?.map(Number);
  if (seeds?.some((s) => !Number.isInteger(s) || s < 0)) {
    fail(`--seeds must be whole numbers, got ${a.seeds}.`);
  }
  const r = await computeMeasureCache({
    resultsPath: a.results,
    rows,
    seeds,
    groups: groups as MeasureGroup[] | undefined,
    landscapeRows: list(a["landscape-rows"]),
    backend: a.backend ? parseBackend(a.backend) : undefined,
    dataDir: a["data-dir"],
  });
  for (const c of r.computed) console.log(`  ${c.run_id} ${c.group}: ${c.seconds.toFixed(1)} s`);
  console.log(`cache: ${cachePathFor(a.results)} (${r.rows.length} rows for the current settings)`);
});
