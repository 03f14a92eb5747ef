/**
 * The benchmark's command-line options, parsed with the shared CLI helper (scripts/cli.ts).
 * bench/bench.ts parses them with parseBenchArgs; bench/run.sh runs this file first, so that
 * --help and a bad option are answered before PyTorch is installed:
 *
 *   bin/deno run --allow-all bench/options.ts [options]
 *     exit 0: the options are valid (prints nothing); exit 2: a bad option (one sentence);
 *     exit HELP_SHOWN (3): --help or -h, the help was printed and there is nothing to run.
 */
import { fail, parseCliArgs } from "../scripts/cli.ts";

export const DEFAULT_PEER_VARIANTS = "eager/nchw,eager/channels_last,compile/channels_last";
export const DEFAULT_SCALING_BATCHES = "32,128,512";

export const BENCH_OPTIONS = {
  quick: { type: "boolean", default: false },
  backends: { type: "string", default: "tensorflow,wasm" },
  "no-peer": { type: "boolean", default: false },
  only: { type: "string" },
  out: { type: "string", default: "results/bench.csv" },
  python: { type: "string", default: ".venv/bin/python" },
  "peer-variants": { type: "string", default: DEFAULT_PEER_VARIANTS },
  batches: { type: "string", default: DEFAULT_SCALING_BATCHES },
  "ours-precision": { type: "string", default: "fp32" },
  methods: { type: "string", default: "ST,SAM,AT,EVAL" },
  rounds: { type: "string" },
  threads: { type: "string", default: "2" },
  "ours-engine": { type: "string", default: "graph" },
} as const;

export const BENCH_HELP =
  `Speed benchmark: our training step against the same step in PyTorch (CPU) on this machine.

Usage: bin/deno task bench [options]

  --quick               fewer rounds and cases (skips the slow wasm PRN-18 cases). torch.compile's
                        compilation adds minutes on 2 cores the first time (inductor caches it
                        under /tmp/torchinductor_$USER); --peer-variants eager/nchw,eager/channels_last
                        skips it
  --backends LIST       comma-separated backends to measure (default tensorflow,wasm)
  --no-peer             measure ours only: no PyTorch peer, and bench/run.sh installs nothing
  --only TEXT           only the cases whose label contains TEXT (e.g. prn18-w16)
  --methods LIST        only these of ST,SAM,AT,EVAL (default all four)
  --rounds N            at most N rounds per case (smoke checks; the medians need the defaults)
  --threads N           compute threads of both sides, from 1 to the core count (default 2): ours
                        TF_NUM_INTRAOP_THREADS, the peer torch.set_num_threads. 1 is how the
                        experiment grid runs each of its workers (lib/experiments/workers.ts)
  --peer-variants LIST  the PyTorch variants run for every case, MODE/LAYOUT with MODE eager,
                        compile (torch.compile, inductor), eager-bf16 or compile-bf16 (bf16
                        autocast: reported beside, never the fp32 peer) and LAYOUT nchw or
                        channels_last (default ${DEFAULT_PEER_VARIANTS}).
                        Ratios are against the fastest fp32 variant; eager's are kept beside
  --batches LIST        batch sizes of the scaling cases (PRN-18 width 16 ST; per-image time and
                        peak memory of each process), default ${DEFAULT_SCALING_BATCHES}; none to skip
  --ours-precision P    fp32 (default) or bf16: our convolutions in bfloat16 (lib/backend/bf16_convs.ts,
                        tensorflow backend only; not bit-identical to fp32)
  --ours-engine E       graph (default: how training and evaluation run on tensorflow) or eager:
                        our ST, SAM and AT steps and the attack iterations replayed as libtensorflow
                        graphs after three eager calls, checked against eager (lib/training/
                        graph_step.ts, lib/backend/graph_replay.ts; tensorflow backend only)
  --out FILE            where the rows go (default results/bench.csv)
  --python PATH         the Python that runs bench/peer_torch.py (default .venv/bin/python)
  -h, --help            this text

bench/run.sh installs the PyTorch peer (bench/requirements.txt) into .venv first, unless --no-peer.
Results: one CSV row per case; history and method in bench/NOTES.md and docs/environment.md#speed-measured.`;

/** Exit status of `bench/options.ts --help`: the help was printed, nothing is to be run. */
export const HELP_SHOWN = 3;

export const BENCH_METHODS = ["ST", "SAM", "AT", "EVAL"] as const;

export const PEER_MODES = ["eager", "compile", "eager-bf16", "compile-bf16"] as const;
export const PEER_LAYOUTS = ["nchw", "channels_last"] as const;

/** One way of running the PyTorch peer: bench/peer_torch.py's mode, layout and precision. */
export interface PeerVariant {
  /** "eager/nchw", "compile/channels_last", "compile-bf16/channels_last", ... */
  label: string;
  mode: "eager" | "compile";
  layout: typeof PEER_LAYOUTS[number];
  precision: "fp32" | "bf16";
}

/** "eager/nchw,compile/channels_last" -> variants; throws a one-sentence Error on a bad entry. */
export function parsePeerVariants(text: string): PeerVariant[] {
  const out: PeerVariant[] = [];
  for (const raw of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [mode, layout, extra] = raw.split("/");
    const lay = layout === "cl" ? "channels_last" : layout;
    if (
      extra !== undefined || !(PEER_MODES as readonly string[]).includes(mode) ||
      !(PEER_LAYOUTS as readonly string[]).includes(lay)
    ) {
      throw new Error(
        `--peer-variants: "${raw}" is not MODE/LAYOUT with MODE one of ${
          PEER_MODES.join(", ")
        } and LAYOUT nchw or channels_last.`,
      );
    }
    const label = `${mode}/${lay}`;
    if (out.some((v) => v.label === label)) continue;
    out.push({
      label,
      mode: mode.startsWith("compile") ? "compile" : "eager",
      layout: lay as PeerVariant["layout"],
      precision: mode.endsWith("-bf16") ? "bf16" : "fp32",
    });
  }
  if (!out.some((v) => v.precision === "fp32")) {
    throw new Error("--peer-variants: name at least one fp32 variant (eager or compile).");
  }
  return out;
}

/** "32,128,512" -> [32, 128, 512] (sorted, unique); "none" or "" -> []; throws on a bad entry. */
export function parseBatches(text: string): number[] {
  if (text.trim() === "" || text.trim() === "none") return [];
  const out = text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 4096) {
      throw new Error(`--batches: "${s}" is not a batch size from 1 to 4096 (or "none").`);
    }
    return n;
  });
  return [...new Set(out)].sort((a, b) => a - b);
}

function checkValues(values: ReturnType<typeof parse>): void {
  if (values === null) return;
  try {
    parsePeerVariants(values["peer-variants"]);
    parseBatches(values.batches);
  } catch (err) {
    fail(`${(err as Error).message} See --help.`);
  }
  const methods = values.methods.split(",").map((m) => m.trim()).filter(Boolean);
  const bad = methods.find((m) => !BENCH_METHODS.includes(m as typeof BENCH_METHODS[number]));
  if (methods.length === 0 || bad !== undefined) {
    fail(`--methods: "${bad ?? ""}" is not one of ${BENCH_METHODS.join(", ")}. See --help.`);
  }
  if (values.rounds !== undefined) {
    const n = Number(values.rounds);
    if (!Number.isInteger(n) || n < 1) {
      fail(`--rounds: "${values.rounds}" is not a positive integer.`);
    }
  }
  const threads = Number(values.threads);
  const cores = navigator.hardwareConcurrency;
  if (!Number.isInteger(threads) || threads < 1 || threads > cores) {
    fail(
      `--threads: "${values.threads}" is not a thread count from 1 to ${cores} (this machine's cores).`,
    );
  }
  if (!["eager", "graph"].includes(values["ours-engine"])) {
    fail(`--ours-engine: "${values["ours-engine"]}" is not eager or graph. See --help.`);
  }
  if (!["fp32", "bf16"].includes(values["ours-precision"])) {
    fail(`--ours-precision: "${values["ours-precision"]}" is not fp32 or bf16. See --help.`);
  }
}

function parse(args: string[]) {
  return parseCliArgs(args, BENCH_OPTIONS, BENCH_HELP);
}

/** The parsed options; prints the help and exits 0 on --help, exits 2 on a bad option. */
export function parseBenchArgs(args: string[] = Deno.args) {
  const values = parse(args);
  if (values === null) Deno.exit(0);
  checkValues(values);
  return values;
}

if (import.meta.main) {
  const values = parse(Deno.args);
  if (values === null) Deno.exit(HELP_SHOWN);
  checkValues(values);
}
