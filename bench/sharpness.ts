/**
 * Time of each mechanism measure (lib/analysis/measure_run.ts) on one trained model, with the
 * default settings, without touching the cache:
 *
 *   bin/deno task bench-sharpness [--results results/fashion-mnist-full.csv] [--row ST] [--seed 0]
 *                                 [--landscape] [--repeat 1]
 *
 * Prints seconds per measure group and per measure run (the sum without landscapes: "all measures
 * for one run"), the 1-minute load average before and after, the core count, and the live tensor
 * count before and after (a leak check). The cores may be shared with other work (a background
 * training run): the load average says how busy they were.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { loadDataset } from "../lib/data/registry.ts";
import { loadModelFile } from "../lib/models/model_file.ts";
import {
  computeGroup,
  measurableRuns,
  resolveSettings,
  runData,
} from "../lib/analysis/measure_run.ts";
import { batchesOf, modelObjective } from "../lib/analysis/objective.ts";
import { hutchinsonTrace, lanczos } from "../lib/analysis/hessian.ts";
import type { MeasureGroup } from "../lib/analysis/measure_cache.ts";
import { parseCli, runCli } from "../scripts/cli.ts";
import { loadAverage } from "../lib/util/load_average.ts";

const HELP = `Time each sharpness / curvature / input-gradient measure on one trained model.

usage: bin/deno task bench-sharpness [options]
  --results PATH   results CSV whose runs have model files (default results/fashion-mnist-full.csv)
  --row ID         grid row of the run to measure (default ST)
  --seed N         seed of the run (default 0)
  --landscape      also time the 1-D and 2-D landscapes (not part of "all measures")
  --repeat N       repeat the measures N times (default 1; N > 1 also checks for tensor leaks)
  --h-scan         instead: lambda_max, lambda_min (Lanczos) and the Hutchinson trace at finite-difference
                   steps h = 0.001 ... 0.1 (how the choice h = 0.03 was made; ~2 min per model)
  --help           this text`;

/** CPU seconds (user + system, all threads) this process has used: /proc/self/stat, 100 ticks/s. */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

await runCli(async () => {
  const args = parseCli({
    results: { type: "string", default: "results/fashion-mnist-full.csv" },
    row: { type: "string", default: "ST" },
    seed: { type: "string", default: "0" },
    landscape: { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
    "h-scan": { type: "boolean", default: false },
  }, HELP);
  const run = measurableRuns(args.results).find((r) =>
    r.row_id === args.row && Number(r.seed) === Number(args.seed)
  );
  if (!run) {
    console.error(
      `No run ${args.row} seed ${args.seed} with a model file in ${args.results}; pick one with --row/--seed.`,
    );
    Deno.exit(2);
  }
  const backend = await initBackend();
  const s = resolveSettings();
  const loadStart = loadAverage()?.toFixed(2) ?? "n/a";
  let t = performance.now();
  const splits = await loadDataset(String(run.dataset));
  const data = runData(splits, run, s);
  const { model } = loadModelFile(String(run.model_file), { runKey: String(run.run_key) });
  const dataSeconds = (performance.now() - t) / 1000;
  if (args["h-scan"]) {
    const obj = modelObjective(model, batchesOf(data.train, s.hessianImages, s.batchSize), s.mode);
    console.log(
      `h scan on ${s.hessianImages} training images (${s.mode} mode), Lanczos <= 20 iterations, 10 probes:`,
    );
    for (const h of [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]) {
      t = performance.now();
      const l = lanczos(obj, { maxIter: 20, tol: 1e-3, fdStep: h, rng: s.seed });
      const tr = hutchinsonTrace(obj, { probes: 10, fdStep: h, rng: s.seed + 1 });
      console.log(
        `  h=${h}: lambda_max ${l.lambdaMax.toFixed(3)} lambda_min ${l.lambdaMin.toFixed(3)} ` +
          `(${l.iterations} it, residual ${l.residual.toExponential(1)}) trace ${
            tr.trace.toFixed(1)
          } ± ${tr.standardError.toFixed(1)} (${((performance.now() - t) / 1000).toFixed(0)} s)`,
      );
    }
    obj.dispose();
    model.dispose();
    return;
  }
  const groups: MeasureGroup[] = ["sharpness", "hessian", "input", "equivalence"];
  if (args.landscape) groups.push("landscape");
  console.log(
    `model ${run.run_id} (${run.arch} width ${run.width}, ${
      model.params.reduce((n, p) => n + p.size, 0)
    } parameters), backend ${backend}, ${navigator.hardwareConcurrency} cores, ` +
      `1-min load average ${loadStart} at start (cores are shared with any other process running).`,
  );
  console.log(`data + model load: ${dataSeconds.toFixed(1)} s (not counted below)`);
  const tensorsBefore = tf.memory().numTensors;
  const repeat = Math.max(1, Number(args.repeat));
  for (let k = 0; k < repeat; k++) {
    let measures = 0, measuresCpu = 0;
    for (const g of groups) {
      t = performance.now();
      const c0 = cpuSeconds();
      const out = await computeGroup(model, data, s, g);
      const sec = (performance.now() - t) / 1000;
      const cpu = cpuSeconds() - c0;
      if (g !== "landscape") {
        measures += sec;
        measuresCpu += cpu;
      }
      const shown = out.filter((o) => !o.measure.startsWith("landscape")).map((o) =>
        `${o.measure}${o.variant ? `[${o.variant}]` : ""}=${o.value.toPrecision(4)}`
      ).join(" ");
      console.log(
        `  ${g.padEnd(12)} ${sec.toFixed(2).padStart(7)} s wall ${
          cpu.toFixed(1).padStart(6)
        } s CPU  ${shown}`,
      );
    }
    console.log(
      `all measures (no landscapes), repeat ${k + 1}: ${measures.toFixed(1)} s wall, ${
        measuresCpu.toFixed(1)
      } s CPU (= ${
        (measuresCpu / navigator.hardwareConcurrency).toFixed(1)
      } s on ${navigator.hardwareConcurrency} idle cores at full use); live tensors ${tf.memory().numTensors} (before: ${tensorsBefore}); load average ${(loadAverage()
        ?.toFixed(2) ?? "n/a")}`,
    );
  }
  model.dispose();
});
