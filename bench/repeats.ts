/**
 * The bench repeated: `bin/deno task bench --repeats N [...]` runs bench/bench.ts N times with the
 * same options (each run writes OUT.rK.csv beside OUT), then reports per case the median of the N
 * ratios (PyTorch's fastest fp32 variant / ours), the median peak-RSS ratio (ours / PyTorch) and
 * the issue-28 targets beside them, and writes that summary to OUT.
 *
 * Why repeat whole runs rather than add rounds: this machine's run-to-run noise (10-20%, a torch
 * thread pool or a neighbour waking up) moves whole runs; the median of whole runs' ratios is
 * what the targets are stated in. `--summarize FILE...` summarises existing runs without running.
 */
import { parseCsv } from "../lib/experiments/results.ts";
import { writeFileAtomic } from "../lib/util/atomic_write.ts";
import { median } from "../lib/util/median.ts";
import { parseBenchArgs } from "./options.ts";

/** Targets of issue 28 (torch / ours; RSS ours / torch): training cases, PGD-10 evaluation, memory. */
export const TARGETS = { train: 1.15, eval: 1.0, rssMax: 1.25, rssModel: "prn18-w16" } as const;

export interface CaseSummary {
  backend: string;
  model: string;
  method: string;
  batch: number;
  ratios: number[];
  medianRatio: number;
  target: number;
  rssRatios: number[];
  medianRss: number;
  loads: string[];
}

/** One summary per case of the batch-128 grid present in every file, in first-file order. */
export function summarize(files: { path: string; text: string }[]): CaseSummary[] {
  const byCase = new Map<string, CaseSummary>();
  for (const { path, text } of files) {
    const [header, ...rows] = parseCsv(text);
    const col = (name: string) => {
      const i = header.indexOf(name);
      if (i < 0) throw new Error(`${path}: no "${name}" column: not a bench.ts results file.`);
      return i;
    };
    const c = {
      backend: col("backend"),
      model: col("model"),
      method: col("method"),
      batch: col("batch"),
      ratio: col("torch_over_ours"),
      ours: col("ours_peak_rss_mb"),
      torch: col("torch_peak_rss_mb"),
      loadStart: col("load_start"),
      loadEnd: col("load_end"),
    };
    for (const r of rows) {
      // An empty cell is a case not measured (e.g. --no-peer): NaN, never 0.
      const cell = (i: number) => (r[i] === "" ? NaN : Number(r[i]));
      const batch = cell(c.batch);
      const key = `${r[c.backend]}|${r[c.model]}|${r[c.method]}|${batch}`;
      const s = byCase.get(key) ?? {
        backend: r[c.backend],
        model: r[c.model],
        method: r[c.method],
        batch,
        ratios: [],
        medianRatio: NaN,
        target: r[c.method] === "EVAL" ? TARGETS.eval : TARGETS.train,
        rssRatios: [],
        medianRss: NaN,
        loads: [],
      };
      s.ratios.push(cell(c.ratio));
      s.rssRatios.push(cell(c.ours) / cell(c.torch));
      s.loads.push(`${r[c.loadStart]} -> ${r[c.loadEnd]}`);
      byCase.set(key, s);
    }
  }
  return [...byCase.values()].map((s) => ({
    ...s,
    medianRatio: median(s.ratios),
    medianRss: median(s.rssRatios),
  }));
}

const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "-");

/** The summary as printed: one line per case, the targets' verdicts, the loads of the runs. */
export function summaryText(cases: CaseSummary[]): string {
  const lines = [
    "== median over repeats: torch (fastest fp32 variant) ms / our ms; peak RSS ours / torch ==",
    "model         method batch  ratios (each run)        median  target   peak RSS ratio (median)",
  ];
  for (const s of cases) {
    const met = s.medianRatio >= s.target ? "met" : "MISSED";
    const rssTarget = s.model === TARGETS.rssModel
      ? (s.medianRss <= TARGETS.rssMax
        ? ` (<= ${TARGETS.rssMax}: met)`
        : ` (<= ${TARGETS.rssMax}: MISSED)`)
      : "";
    lines.push(
      `${s.model.padEnd(13)} ${s.method.padEnd(6)} ${String(s.batch).padEnd(6)} ${
        s.ratios.map(f2).join(" ").padEnd(24)
      } ${f2(s.medianRatio).padStart(6)}x  >= ${s.target.toFixed(2)} ${met.padEnd(6)}  ${
        s.rssRatios.map(f2).join(" ")
      } (${f2(s.medianRss)})${rssTarget}`,
    );
  }
  return lines.join("\n");
}

export function summaryCsv(cases: CaseSummary[]): string {
  const header = [
    "backend",
    "model",
    "method",
    "batch",
    "repeats",
    "torch_over_ours_each",
    "torch_over_ours_median",
    "target",
    "target_met",
    "rss_ours_over_torch_each",
    "rss_ours_over_torch_median",
    "loads",
  ];
  const rows = cases.map((s) =>
    [
      s.backend,
      s.model,
      s.method,
      s.batch,
      s.ratios.length,
      s.ratios.map(f2).join(" "),
      f2(s.medianRatio),
      s.target,
      s.medianRatio >= s.target,
      s.rssRatios.map(f2).join(" "),
      f2(s.medianRss),
      `"${s.loads.join("; ")}"`,
    ].join(",")
  );
  return [header.join(","), ...rows].join("\n") + "\n";
}

/** args without the given valued options, in either form (`--out F` or `--out=F`). */
function withoutOptions(args: readonly string[], flags: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (flags.includes(args[i])) i++; // skip its value too
    else if (!flags.some((f) => args[i].startsWith(`${f}=`))) kept.push(args[i]);
  }
  return kept;
}

async function main(): Promise<void> {
  if (Deno.args[0] === "--summarize") {
    const paths = Deno.args.slice(1);
    const files = paths.map((path) => ({ path, text: Deno.readTextFileSync(path) }));
    console.log(summaryText(summarize(files)));
    return;
  }
  // The options as bench.ts reads them, defaults included; every other option goes to each run.
  const values = parseBenchArgs();
  const repeats = Number(values.repeats);
  const out = values.out;
  const args = withoutOptions(Deno.args, ["--repeats", "--out"]);
  const stem = out.replace(/\.csv$/, "");
  const paths: string[] = [];
  for (let k = 1; k <= repeats; k++) {
    const path = `${stem}.r${k}.csv`;
    console.log(`\n######## bench repeat ${k}/${repeats} -> ${path}`);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./bench.ts", import.meta.url).pathname,
        ...args,
        "--out",
        path,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const { code } = await child.status;
    if (code !== 0) {
      console.error(
        `bench repeat ${k} failed (exit ${code}); the finished repeats stay in ${
          paths.join(", ") || "no file"
        }.`,
      );
      Deno.exit(code);
    }
    paths.push(path);
  }
  const cases = summarize(paths.map((path) => ({ path, text: Deno.readTextFileSync(path) })));
  console.log("\n" + summaryText(cases));
  writeFileAtomic(out, new TextEncoder().encode(summaryCsv(cases)));
  console.log(`wrote the summary of ${repeats} runs to ${out} (each run: ${paths.join(", ")})`);
}

if (import.meta.main) await main();
