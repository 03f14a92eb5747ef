/**
 * The benchmark's command-line options, parsed with the shared CLI helper (scripts/cli.ts).
 * bench/bench.ts parses them with parseBenchArgs; bench/run.sh runs this file first, so that
 * --help and a bad option are answered before PyTorch is installed:
 *
 *   bin/deno run --allow-all bench/options.ts [options]
 *     exit 0: the options are valid (prints nothing); exit 2: a bad option (one sentence);
 *     exit HELP_SHOWN (3): --help or -h, the help was printed and there is nothing to run.
 */
import { parseCliArgs } from "../scripts/cli.ts";

export const BENCH_OPTIONS = {
  quick: { type: "boolean", default: false },
  backends: { type: "string", default: "tensorflow,wasm" },
  "no-peer": { type: "boolean", default: false },
  only: { type: "string" },
  out: { type: "string", default: "results/bench.csv" },
  python: { type: "string", default: ".venv/bin/python" },
} as const;

export const BENCH_HELP =
  `Speed benchmark: our training step against the same step in PyTorch (CPU) on this machine.

Usage: bin/deno task bench [options]

  --quick               fewer rounds and cases (under 2 minutes; skips the slow wasm PRN-18 cases)
  --backends LIST       comma-separated backends to measure (default tensorflow,wasm)
  --no-peer             measure ours only: no PyTorch peer, and bench/run.sh installs nothing
  --only TEXT           only the cases whose label contains TEXT (e.g. prn18-w16)
  --out FILE            where the rows go (default results/bench.csv)
  --python PATH         the Python that runs bench/peer_torch.py (default .venv/bin/python)
  -h, --help            this text

bench/run.sh installs the PyTorch peer (bench/requirements.txt) into .venv first, unless --no-peer.
Results: one CSV row per case; history and method in bench/NOTES.md and docs/environment.md#speed-measured.`;

/** Exit status of `bench/options.ts --help`: the help was printed, nothing is to be run. */
export const HELP_SHOWN = 3;

/** The parsed options; prints the help and exits 0 on --help, exits 2 on a bad option. */
export function parseBenchArgs(args: string[] = Deno.args) {
  const values = parseCliArgs(args, BENCH_OPTIONS, BENCH_HELP);
  if (values === null) Deno.exit(0);
  return values;
}

if (import.meta.main) {
  if (parseCliArgs(Deno.args, BENCH_OPTIONS, BENCH_HELP) === null) Deno.exit(HELP_SHOWN);
}
