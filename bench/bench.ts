/**
 * Speed benchmark: our training step against the same step in PyTorch on the same CPU.
 *
 *   bin/deno task bench [--quick] [--backends tensorflow,wasm] [--no-peer] [--out results/bench.csv]
 *   (options: bench/options.ts; --help lists them)
 *
 * Measures the median milliseconds of one training step (forward, backward, update; warm-up
 * excluded) at batch 128 for ST, SAM (rho 0.05) and PGD-10 AT (L-inf 8/255, step 2/255) on the
 * small CNN (28x28x1, the width the fashion-mnist default preset in lib/experiments/presets.ts trains) and PreActResNet-18 at widths 16 and 64
 * (32x32x3), for each backend that loads, plus PGD-10 evaluation throughput (eval mode, images/s).
 * The step timed is lib/training/train.ts makeTrainStep (what training runs), the evaluation lib/training/evaluate.ts
 * evaluate.
 *
 * The peer (bench/peer_torch.py: same architectures, batch, SGD, SAM and PGD) runs as a child
 * process of this one and answers requests over a pipe; the two never run at the same time. Each
 * case alternates ours and the peer's measurements for several rounds (ours first on even rounds,
 * the peer first on odd ones) and takes medians over all timed steps, so a load change on the
 * shared machine hits both sides alike. The peer runs in every variant of --peer-variants
 * (default: eager PyTorch in NCHW and channels_last, and torch.compile (inductor) in
 * channels_last); the ratio torch/ours is against the fastest fp32 variant, with the best eager
 * variant's ratio kept beside it. torch.compile's compilation happens in the peer's warm-up and
 * is reported separately (torch_compile_s), never in a step time. bf16-autocast variants, when
 * asked for, are reported beside and never count as the fp32 peer. For the two longest cases
 * (PRN-18 width 64 AT and EVAL) the peer runs only the fp32 variant that won that model's ST case.
 *
 * Scaling (--batches, default 32,128,512): PRN-18 width 16 ST at each batch size, ours and the
 * peer's, reported as ms per image, with the peak resident memory of each process during that
 * case (our Deno process; the peer's Python process, inductor's compile workers not included).
 *
 * Also printed: SAM/ST and AT/ST cost ratios, the fraction of the machine's fp32 matmul peak
 * (measured here with 2048x2048 tf.matMul and torch.mm; the higher one counts) that each step
 * reaches, with FLOPs counted from the architecture (forward = 2 x MACs of convs and the linear
 * layer; a training backward = 2 x forward; an attack backward, input gradient only, = 1 x
 * forward), peak RSS per case (kernel high-water mark, reset per case), and a tensor-leak check
 * (tf.memory().numTensors over 1000 ST steps and shorter SAM/AT runs). Rows go to
 * results/bench.csv with the machine's details.
 */
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, initBackend } from "../lib/backend/backend.ts";
import type { Dataset } from "../lib/data/data.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { createModel, type Model } from "../lib/models/model.ts";
import { datasetSpec } from "../lib/data/registry.ts";
import { usingNativeOps } from "../lib/models/ops.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd, type Sgd } from "../lib/optim/sgd.ts";
import { makeTrainStep, type TrainStep } from "../lib/training/train.ts";
import { type GraphTrainStep, graphTrainStep } from "../lib/training/graph_step.ts";
import { at, type Method as TrainMethod, sam, ST } from "../lib/training/method.ts";
import {
  evalStepPasses,
  type Method,
  type ModelCase,
  stepFlops,
  type StepPasses,
  trainStepPasses,
} from "./flops.ts";
import { parseBatches, parseBenchArgs, parsePeerVariants, type PeerVariant } from "./options.ts";
import { bestOf, type VariantResult } from "./peer_pick.ts";
import { type ConvPrecision, setConvPrecision } from "../lib/backend/bf16_convs.ts";
import { AttackGraphs } from "../lib/attacks/attack_graphs.ts";
import type { AttackSpec } from "../lib/attacks/attack.ts";
import { median } from "../lib/util/median.ts";
import { loadAverages } from "../lib/util/load_average.ts";

const args = parseBenchArgs();
const QUICK = args.quick;
const BATCH = 128;
const PEER_VARIANTS = parsePeerVariants(args["peer-variants"]);
const SCALING_BATCHES = parseBatches(args.batches);
const OURS_PRECISION = args["ours-precision"] as ConvPrecision;
const OURS_ENGINE = args["ours-engine"] as "eager" | "graph";
/** Eager calls a graph step makes before it runs as a graph (lib/training/graph_step.ts). */
const GRAPH_WARMUP = 3;
const METHODS = args.methods.split(",").map((m) => m.trim()).filter(Boolean) as Method[];
const MAX_ROUNDS = args.rounds === undefined ? Infinity : Number(args.rounds);
const THREADS = Number(args.threads);
// libtensorflow reads its intra-op thread count when the tensorflow backend first loads (below).
const envThreads = Deno.env.get("TF_NUM_INTRAOP_THREADS");
if (envThreads !== undefined && envThreads !== args.threads) {
  console.error(
    `TF_NUM_INTRAOP_THREADS=${envThreads} in the environment contradicts --threads ${args.threads}: ` +
      `unset it or pass --threads ${envThreads}.`,
  );
  Deno.exit(2);
}
Deno.env.set("TF_NUM_INTRAOP_THREADS", args.threads);
const ROOT = new URL("..", import.meta.url).pathname;
const t0Bench = performance.now();

// ---------------------------------------------------------------------------------------------
// Machine, load, memory

function cpuModel(): string {
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/);
    return m ? m[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

/** Reset the kernel's peak-RSS mark (VmHWM) of this process; false where not supported. */
function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** This process's resident set now (VmRSS), MB. */
function rssNowMb(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmRSS:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}

function peakRssMb(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/** CPU time of this process (all threads), ms: the sum of every thread's /proc/self/task/N/schedstat (ns). */
function cpuMs(): number {
  try {
    let ns = 0;
    for (const t of Deno.readDirSync("/proc/self/task")) {
      try {
        ns += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
      } catch { /* thread gone */ }
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------
// The peer: bench/peer_torch.py --serve as a child process, JSON lines over a pipe

interface PeerReply {
  ok: boolean;
  error?: string;
  times_ms?: number[];
  cpu_ms?: number;
  peak_rss_mb?: number;
  rss_start_mb?: number | null;
  compile_ms?: number;
  first_call_ms?: number | null;
  graphs?: number;
  recompiled?: boolean;
  gflops?: number;
  hello?: Record<string, unknown>;
}

class Peer {
  private proc: Deno.ChildProcess;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private reader: ReadableStreamDefaultReader<string>;
  private buf = "";
  info: Record<string, unknown> = {};

  constructor(python: string, threads: number) {
    this.proc = new Deno.Command(python, {
      args: [`${ROOT}bench/peer_torch.py`, "--serve", "--threads", String(threads)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { OMP_WAIT_POLICY: "PASSIVE" },
    }).spawn();
    this.writer = this.proc.stdin.getWriter();
    this.reader = this.proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  private async line(): Promise<string> {
    while (!this.buf.includes("\n")) {
      const { value, done } = await this.reader.read();
      if (done) throw new Error("the PyTorch peer exited");
      this.buf += value;
    }
    const i = this.buf.indexOf("\n");
    const l = this.buf.slice(0, i);
    this.buf = this.buf.slice(i + 1);
    return l;
  }

  async start(): Promise<void> {
    const hello = JSON.parse(await this.line()) as PeerReply;
    this.info = hello.hello ?? {};
  }

  async ask(req: Record<string, unknown>): Promise<PeerReply> {
    await this.writer.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
    return JSON.parse(await this.line()) as PeerReply;
  }

  async close(): Promise<void> {
    try {
      await this.writer.write(new TextEncoder().encode(JSON.stringify({ cmd: "quit" }) + "\n"));
      await this.writer.close();
    } catch { /* already gone */ }
    await this.proc.status;
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

interface Plan {
  rounds: number;
  steps: number;
  warmup: number;
  /** Peer variants to run: "all" of --peer-variants, or "best" = the fp32 one that won this model's ST case. */
  peerVariants: "all" | "best";
}

async function smallCnnWidth(): Promise<{ width: number; source: string }> {
  try {
    const ex = await import("../lib/experiments/presets.ts");
    const w = ex.PRESETS?.["fashion-mnist"]?.default?.train?.width;
    if (Number.isInteger(w)) {
      return { width: w, source: "lib/experiments/presets.ts fashion-mnist default preset" };
    }
  } catch { /* experiments layer absent or broken: fall back */ }
  return { width: 32, source: "default (lib/experiments/presets.ts not readable)" };
}

const { width: CNN_WIDTH, source: CNN_WIDTH_SOURCE } = await smallCnnWidth();
const MODELS: ModelCase[] = [
  { arch: "smallcnn", width: CNN_WIDTH, size: 28, channels: 1, label: `smallcnn-w${CNN_WIDTH}` },
  { arch: "prn18", width: 16, size: 32, channels: 3, label: "prn18-w16" },
  { arch: "prn18", width: 64, size: 32, channels: 3, label: "prn18-w64" },
];

/** Rounds x timed steps per round (+ warm-up steps before round 0), by model and method. */
function planFor(
  m: ModelCase,
  method: Method,
  backend: BackendName,
  batch = BATCH,
): Plan | string {
  const p = fullPlan(m, method, backend, batch);
  return typeof p === "string" ? p : { ...p, rounds: Math.min(p.rounds, MAX_ROUNDS) };
}

function fullPlan(
  m: ModelCase,
  method: Method,
  backend: BackendName,
  batch: number,
): Plan | string {
  const big = m.arch === "prn18" && m.width === 64;
  const prn = m.arch === "prn18";
  if (backend === "wasm") {
    if (big && batch > 64) {
      return `skipped: PRN-18 width 64 at batch ${batch} overflows the wasm32 4 GiB heap (docs/environment.md#wasm-backend)${
        QUICK ? "" : "; ST measured at batch 64 below"
      }`;
    }
    if (big) return { rounds: 1, steps: 1, warmup: 1, peerVariants: "all" };
    if (prn && QUICK && method !== "ST") return "skipped in --quick (wasm, slow)";
    if (prn && (method === "AT" || method === "EVAL")) {
      return "skipped: 11 passes of a ~5 s wasm step per measurement (run scripts/step_times.ts)";
    }
    const r = prn
      ? { rounds: 1, steps: QUICK ? 1 : 2, warmup: 1 }
      : QUICK
      ? { rounds: 1, steps: method === "ST" || method === "SAM" ? 5 : 1, warmup: 1 }
      : { rounds: 1, steps: method === "ST" || method === "SAM" ? 10 : 2, warmup: 1 };
    return { ...r, peerVariants: "all" };
  }
  if (QUICK && big && (method === "AT" || method === "EVAL")) {
    return "skipped in --quick (run the full bench)";
  }
  if (batch !== BATCH) {
    // Scaling cases (PRN-18 width 16 ST at other batch sizes): about the same seconds per case.
    const [rounds, steps, warmup] = batch < BATCH
      ? (QUICK ? [6, 2, 1] : [16, 4, 2])
      : (QUICK ? [2, 1, 1] : [6, 1, 1]);
    return { rounds, steps, warmup, peerVariants: "all" };
  }
  // [rounds, timed steps per round, warm-up steps]: many short rounds, so that ours and the
  // peer's measurements interleave finely and a burst of load from elsewhere hits both.
  const table: Record<string, [number, number, number]> = QUICK
    ? {
      "small-ST": [10, 3, 2],
      "small-SAM": [6, 2, 1],
      "small-AT": [3, 1, 1],
      "small-EVAL": [3, 1, 1],
      "prn-ST": [8, 1, 1],
      "prn-SAM": [4, 1, 1],
      "prn-AT": [1, 1, 1],
      "prn-EVAL": [1, 1, 1],
      "big-ST": [3, 1, 1],
      "big-SAM": [1, 1, 1],
    }
    : {
      "small-ST": [30, 3, 3],
      "small-SAM": [20, 2, 2],
      "small-AT": [10, 1, 1],
      "small-EVAL": [10, 1, 1],
      "prn-ST": [16, 2, 1],
      "prn-SAM": [10, 1, 1],
      "prn-AT": [6, 1, 1],
      "prn-EVAL": [6, 1, 1],
      "big-ST": [6, 1, 1],
      "big-SAM": [4, 1, 1],
      "big-AT": [2, 1, 1],
      "big-EVAL": [2, 1, 1],
    };
  const [rounds, steps, warmup] = table[`${big ? "big" : prn ? "prn" : "small"}-${method}`];
  return {
    rounds,
    steps,
    warmup,
    peerVariants: big && (method === "AT" || method === "EVAL") ? "best" : "all",
  };
}

/**
 * The scaling cases (--batches): PRN-18 width 16 ST at each batch size other than the grid's 128
 * (that one is the grid's row), tensorflow backend only (wasm takes seconds per image).
 */
function scalingCases(backend: BackendName): [ModelCase, number][] {
  const m = MODELS[1];
  if (backend === "wasm" || !METHODS.includes("ST")) return [];
  if (args.only && !m.label.includes(args.only)) return [];
  return SCALING_BATCHES.filter((b) => b !== BATCH).map((b) => [m, b]);
}

/** Extra (model, batch) ST cases outside the batch-128 grid: wasm PRN-18 width 64 at batch 64 (full mode). */
function extraCases(backend: BackendName): [ModelCase, number][] {
  if (backend !== "wasm" || QUICK || args.only) return [];
  return [[MODELS[2], 64]];
}

const SETTINGS: Record<Exclude<Method, "EVAL">, TrainMethod> = {
  ST,
  SAM: sam(0.05),
  AT: at("linf", 8 / 255, 2 / 255, 10),
};

/** EVAL's attack: PGD-10 with its default step eps/4 = 2/255, as the peer. */
const EVAL_ATTACK: AttackSpec = {
  attack: "pgd",
  norm: "linf",
  eps: 8 / 255,
  options: { steps: 10 },
};

/** The passes of a timed step, from the plugins (bench/flops.ts). */
function passesOf(method: Method): StepPasses {
  return method === "EVAL" ? evalStepPasses(EVAL_ATTACK) : trainStepPasses(SETTINGS[method]);
}

// ---------------------------------------------------------------------------------------------
// Our side

interface Ours {
  model: Model;
  opt: Sgd;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  data: Dataset;
  steps: Partial<Record<Method, TrainStep>>;
  /** EVAL with --ours-engine graph: the attack iterations' replays, kept across timed calls. */
  graphs?: AttackGraphs;
}

function buildOurs(m: ModelCase, batch: number): Ours {
  const rng = Rng.fromSeed(0);
  const norm = datasetSpec(m.arch === "prn18" ? "cifar10" : "fashion-mnist").normalization;
  const model = createModel({
    arch: m.arch,
    width: m.width,
    inputShape: [m.size, m.size, m.channels],
    numClasses: 10,
    mean: norm.mean,
    std: norm.std,
  }, rng);
  const opt = createSgd(model.params, { momentum: 0.9, weightDecay: 5e-4 });
  const images = rng.fillUniform(new Float32Array(batch * m.size * m.size * m.channels), 0, 1);
  const labels = Int32Array.from({ length: batch }, () => rng.int(10));
  const x = tf.tensor4d(images, [batch, m.size, m.size, m.channels]);
  const y = tf.tensor1d(labels, "int32");
  const data: Dataset = {
    name: "bench",
    images,
    labels,
    n: batch,
    height: m.size,
    width: m.size,
    channels: m.channels,
    numClasses: 10,
  };
  return { model, opt, x, y, data, steps: {} };
}

function disposeOurs(o: Ours): void {
  o.graphs?.dispose();
  o.model.dispose();
  o.opt.dispose();
  tf.dispose([o.x, o.y]);
}

/** The step timed: makeTrainStep, replayed as a graph with --ours-engine graph. */
function oursStep(o: Ours, method: Exclude<Method, "EVAL">): TrainStep {
  const eager = makeTrainStep(o.model, o.opt, SETTINGS[method], "loss-pass", Rng.fromSeed(1));
  return usesGraph(method) ? graphTrainStep(eager) : eager;
}

function usesGraph(_method: Method): boolean {
  return OURS_ENGINE === "graph" && tf.getBackend() === "tensorflow";
}

/** Time n steps of ours; returns ms per step (per batch for EVAL). */
async function runOurs(o: Ours, method: Method, n: number): Promise<number[]> {
  const times: number[] = [];
  if (method === "EVAL") {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await evaluate(o.model, o.data, {
        evals: [EVAL_ATTACK],
        batchSize: o.data.n,
        progress: "none",
        // The engine asked for (evaluate()'s own default would be graph on tensorflow); graph
        // replays kept across calls, so the timed calls are steady-state ones.
        engine: usesGraph(method) ? "graph" : "eager",
        attackGraphs: usesGraph(method) ? (o.graphs ??= new AttackGraphs()) : undefined,
      });
      times.push(performance.now() - t0);
    }
    return times;
  }
  const step = o.steps[method] ??= oursStep(o, method);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const loss = await step(o.x, o.y, 0.01);
    await loss.data(); // as train() reads it
    loss.dispose();
    times.push(performance.now() - t0);
  }
  return times;
}

// ---------------------------------------------------------------------------------------------
// Results

interface Row {
  backend: string;
  model: string;
  method: Method;
  batch: number;
  oursMs: number;
  oursSteps: number;
  /** CPU time per step (all threads), ms. */
  oursCpuMs: number;
  peerCpuMs: number;
  oursRssMb: number;
  /** Our peak RSS above the RSS at the case's start: what the case itself needed, MB. */
  oursStepRssMb: number;
  /** The fastest fp32 peer variant: its median ms, variant ("compile/channels_last") and layout. */
  peerMs: number;
  peerVariant: string;
  peerLayout: string;
  /** Eager PyTorch, fp32, per layout (NaN where not run). */
  peerNchwMs: number;
  peerChannelsLastMs: number;
  peerEagerMs: number;
  peerEagerLayout: string;
  peerCompileMs: number;
  peerCompileLayout: string;
  /** Seconds torch.compile spent compiling for this case (warm-up, excluded from peerCompileMs). */
  peerCompileS: number;
  peerBf16Ms: number;
  peerBf16Variant: string;
  /** Peak RSS of the peer's process while it ran the fastest fp32 variant / the best eager one. */
  peerRssMb: number;
  /** The peer's peak above its RSS at the request's start (fastest fp32 variant), MB. */
  peerStepRssMb: number;
  peerEagerRssMb: number;
  /** peerMs / oursMs: against the fastest fp32 peer. */
  ratio: number;
  ratioEager: number;
  ratioCompile: number;
  gflop: number;
  oursPeakFrac: number;
  peerPeakFrac: number;
  note: string;
}

/** A row for a case that was skipped or failed: no timings, only the reason. */
function unmeasured(
  backend: string,
  model: string,
  method: Method,
  batch: number,
  note: string,
): Row {
  return {
    backend,
    model,
    method,
    batch,
    oursMs: NaN,
    oursSteps: 0,
    oursCpuMs: NaN,
    peerCpuMs: NaN,
    oursRssMb: NaN,
    oursStepRssMb: NaN,
    peerMs: NaN,
    peerVariant: "",
    peerLayout: "",
    peerNchwMs: NaN,
    peerChannelsLastMs: NaN,
    peerEagerMs: NaN,
    peerEagerLayout: "",
    peerCompileMs: NaN,
    peerCompileLayout: "",
    peerCompileS: NaN,
    peerBf16Ms: NaN,
    peerBf16Variant: "",
    peerRssMb: NaN,
    peerStepRssMb: NaN,
    peerEagerRssMb: NaN,
    ratio: NaN,
    ratioEager: NaN,
    ratioCompile: NaN,
    gflop: NaN,
    oursPeakFrac: NaN,
    peerPeakFrac: NaN,
    note,
  };
}

const rows: Row[] = [];
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");

/** A step time as shown: ms, or images per second for EVAL. */
function shown(r: Row, ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  return r.method === "EVAL" ? `${fmt((r.batch / ms) * 1000, 0)} img/s` : `${fmt(ms)} ms`;
}

const ratioText = (v: number) => (Number.isFinite(v) ? v.toFixed(2) + "x" : "-");

function printRow(r: Row): void {
  const ours = shown(r, r.oursMs);
  const peer = Number.isFinite(r.peerMs) ? `${shown(r, r.peerMs)} (${r.peerVariant})` : "-";
  const eager = Number.isFinite(r.peerEagerMs) && r.peerVariant !== `eager/${r.peerEagerLayout}`
    ? `  eager ${shown(r, r.peerEagerMs)} ${ratioText(r.ratioEager)}`
    : "";
  const compile = Number.isFinite(r.peerCompileS) && r.peerCompileS > 0
    ? `  compile ${fmt(r.peerCompileS, 0)} s`
    : "";
  const bf16 = Number.isFinite(r.peerBf16Ms) ? `  bf16 ${shown(r, r.peerBf16Ms)}` : "";
  console.log(
    `${r.backend.padEnd(10)} ${r.model.padEnd(13)} ${r.method.padEnd(4)} b${
      String(r.batch).padEnd(4)
    } ` +
      `ours ${ours.padStart(12)}  torch ${peer.padStart(34)}  torch/ours ${ratioText(r.ratio)}` +
      eager + compile + bf16 +
      `  CPU ${fmt(r.oursCpuMs)}/${fmt(r.peerCpuMs)} ms` +
      `  RSS ${fmt(r.oursRssMb, 0)}/${fmt(r.peerRssMb, 0)} MB` +
      (Number.isFinite(r.oursPeakFrac)
        ? `  peak ${fmt(100 * r.oursPeakFrac)}%/${fmt(100 * r.peerPeakFrac)}%`
        : "") +
      (r.note ? `  [${r.note}]` : ""),
  );
}

function csvCell(v: unknown): string {
  const s = typeof v === "number" ? (Number.isFinite(v) ? String(+v.toFixed(4)) : "") : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// ---------------------------------------------------------------------------------------------
// Main

const backends = args.backends.split(",").map((s) => s.trim()).filter(Boolean) as BackendName[];
const loadStart = loadAverages();
console.log(
  `bench ${QUICK ? "--quick" : "(full)"}${
    Number.isFinite(MAX_ROUNDS) ? ` --rounds ${MAX_ROUNDS} (a smoke check, not a measurement)` : ""
  }: ${cpuModel()}, ${navigator.hardwareConcurrency} cores, ` +
    `load average (1/5/15 min) at start ${loadStart}`,
);
console.log(
  `small CNN width ${CNN_WIDTH} (${CNN_WIDTH_SOURCE}); batch ${BATCH}; ${THREADS} thread(s) a side`,
);

let peer: Peer | undefined;
if (!args["no-peer"]) {
  peer = new Peer(args.python, THREADS);
  await peer.start();
  console.log(
    `peer: PyTorch ${peer.info.torch} (Python ${peer.info.python}), ${peer.info.threads} threads, ` +
      `OMP_WAIT_POLICY=${peer.info.omp_wait_policy}, oneDNN ${peer.info.mkldnn}, ` +
      `bf16 kernels ${peer.info.bf16_cpu}; variants ${
        PEER_VARIANTS.map((v) => v.label).join(", ")
      }`,
  );
}

/** Peer timings per case, kept for the wasm rows (which compare against the same numbers). */
interface PeerCase {
  results: VariantResult[];
  best?: VariantResult;
  eager?: VariantResult;
  compiled?: VariantResult;
  bf16?: VariantResult;
  note: string;
}
const peerByCase = new Map<string, PeerCase>();
/** The fastest fp32 variant of each model's ST case (the one the longest cases run alone). */
const bestVariant = new Map<string, PeerVariant>();
/** Seconds the peer spent in torch.compile over the whole run. */
let peerCompileTotalS = 0;
let machinePeakGflops = NaN;
const versions: Record<string, string> = { deno: Deno.version.deno };
const leaks: string[] = [];

const peakLog: string[] = [];

async function peerMatmulPeak(): Promise<number> {
  if (!peer) return NaN;
  const r = await peer.ask({ cmd: "matmul", n: 2048, reps: 10 });
  return r.ok && r.gflops ? r.gflops : NaN;
}

function ourMatmulPeak(): number {
  const n = 2048;
  const a = tf.randomUniform([n, n]);
  const b = tf.randomUniform([n, n]);
  let best = Infinity;
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const dt = performance.now() - t0;
    c.dispose();
    if (i >= 2) best = Math.min(best, dt);
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

/**
 * The machine's fp32 matmul peak: the best 2048x2048 tf.matMul / torch.mm rate, measured at the
 * start and after each model (load from other processes only ever lowers a measurement, so the
 * maximum over the run is the least disturbed one).
 */
async function measurePeak(when: string): Promise<void> {
  const ours = ourMatmulPeak();
  const theirs = await peerMatmulPeak();
  machinePeakGflops = Math.max(
    Number.isFinite(machinePeakGflops) ? machinePeakGflops : 0,
    ours,
    Number.isFinite(theirs) ? theirs : 0,
  );
  peakLog.push(`${when}: tf.matMul ${ours.toFixed(0)}, torch.mm ${fmt(theirs, 0)}`);
  console.log(
    `fp32 matmul 2048x2048 (${when}): tf.matMul ${ours.toFixed(0)} GFLOP/s, torch.mm ${
      fmt(theirs, 0)
    } GFLOP/s; machine peak so far ${machinePeakGflops.toFixed(0)} GFLOP/s`,
  );
}

async function measureCase(
  backend: BackendName,
  m: ModelCase,
  ours: Ours,
  method: Method,
  batch: number,
): Promise<void> {
  const key = `${m.label}-${method}-b${batch}`;
  const plan = planFor(m, method, backend, batch);
  const base = {
    backend,
    model: m.label,
    method,
    batch,
    gflop: stepFlops(m, passesOf(method), batch) / 1e9,
  };
  if (typeof plan === "string") {
    const r = { ...unmeasured(backend, m.label, method, batch, plan), gflop: base.gflop };
    rows.push(r);
    printRow(r);
    return;
  }
  // The peer runs once per case: in the tensorflow pass, or in the first pass that has the case.
  const usePeer = peer !== undefined && !peerByCase.has(key);
  const variants: PeerVariant[] = plan.peerVariants === "all"
    ? PEER_VARIANTS
    : [bestVariant.get(m.label) ?? PEER_VARIANTS.find((v) => v.precision === "fp32")!];
  const oursTimes: number[] = [];
  const peerTimes = new Map<string, number[]>(variants.map((v) => [v.label, []]));
  const peerCpu = new Map<string, number>(variants.map((v) => [v.label, 0]));
  const peerRss = new Map<string, number>(variants.map((v) => [v.label, 0]));
  const peerStepRss = new Map<string, number>(variants.map((v) => [v.label, 0]));
  const peerCompileMs = new Map<string, number>(variants.map((v) => [v.label, 0]));
  const peerRecompiled = new Set<string>();
  const peerErrors: string[] = [];
  let oursCpu = 0;
  let note = "";
  resetPeakRss();
  const oursRssStart = rssNowMb();
  await runOurs(
    ours,
    method,
    usesGraph(method) ? Math.max(plan.warmup, GRAPH_WARMUP) : plan.warmup,
  );
  const peerRound = async (round: number) => {
    for (const v of variants) {
      if (peerErrors.some((e) => e.startsWith(v.label))) continue; // failed once: not again
      const r = await peer!.ask({
        arch: m.arch,
        width: m.width,
        size: m.size,
        channels: m.channels,
        method,
        batch,
        layout: v.layout,
        mode: v.mode,
        precision: v.precision,
        steps: plan.steps,
        warmup: round === 0 ? plan.warmup : 0,
      });
      if (!r.ok) {
        peerErrors.push(`${v.label}: ${r.error}`);
        continue;
      }
      peerTimes.get(v.label)!.push(...r.times_ms!);
      peerCpu.set(v.label, peerCpu.get(v.label)! + (r.cpu_ms ?? NaN));
      peerRss.set(v.label, Math.max(peerRss.get(v.label)!, r.peak_rss_mb ?? 0));
      if (r.peak_rss_mb != null && r.rss_start_mb != null) {
        const step = r.peak_rss_mb - r.rss_start_mb;
        peerStepRss.set(v.label, Math.max(peerStepRss.get(v.label)!, step));
      }
      peerCompileMs.set(v.label, peerCompileMs.get(v.label)! + (r.compile_ms ?? 0));
      if (r.recompiled) peerRecompiled.add(v.label);
    }
  };
  for (let round = 0; round < plan.rounds; round++) {
    if (usePeer && round % 2 === 1) await peerRound(round);
    const c0 = cpuMs();
    oursTimes.push(...await runOurs(ours, method, plan.steps));
    oursCpu += cpuMs() - c0;
    if (usePeer && round % 2 === 0) await peerRound(round);
  }
  const oursRss = peakRssMb();
  const oursMs = median(oursTimes);
  let pc = peerByCase.get(key);
  if (usePeer) {
    const results: VariantResult[] = variants.map((v) => {
      const t = peerTimes.get(v.label)!;
      return {
        variant: v,
        ms: median(t),
        cpuMs: t.length ? peerCpu.get(v.label)! / t.length : NaN,
        rssMb: peerRss.get(v.label)! || NaN,
        stepRssMb: t.length ? peerStepRss.get(v.label)! : NaN,
        compileS: peerCompileMs.get(v.label)! / 1000,
        recompiled: peerRecompiled.has(v.label),
      };
    });
    const pick = bestOf(results);
    const flags = [
      ...peerErrors.map((e) => `peer error ${e}`),
      ...[...peerRecompiled].map((l) => `${l} compiled during timed steps`),
    ];
    pc = { results, ...pick, note: flags.join("; ") };
    peerByCase.set(key, pc);
    peerCompileTotalS += results.reduce((a, r) => a + r.compileS, 0);
    if (method === "ST" && batch === BATCH && pick.best) {
      bestVariant.set(m.label, pick.best.variant);
    }
    note = pc.note;
  } else if (pc) {
    note ||= "torch numbers from the tensorflow pass of this run";
  }
  const flops = stepFlops(m, passesOf(method), batch);
  const frac = (ms: number) => flops / (ms / 1000) / 1e9 / machinePeakGflops;
  const msOf = (label: string) => pc?.results.find((x) => x.variant.label === label)?.ms ?? NaN;
  const best = pc?.best, eager = pc?.eager, compiled = pc?.compiled;
  const graphNote = method === "EVAL"
    ? attackGraphNote(ours.graphs)
    : graphStatusNote(ours.steps[method]);
  if (graphNote) note = note ? `${graphNote}; ${note}` : graphNote;
  const r: Row = {
    ...base,
    oursMs,
    oursSteps: oursTimes.length,
    oursCpuMs: oursCpu / oursTimes.length,
    peerCpuMs: best?.cpuMs ?? NaN,
    oursRssMb: oursRss,
    oursStepRssMb: oursRss - oursRssStart,
    peerMs: best?.ms ?? NaN,
    peerVariant: best?.variant.label ?? "",
    peerLayout: best?.variant.layout ?? "",
    peerNchwMs: msOf("eager/nchw"),
    peerChannelsLastMs: msOf("eager/channels_last"),
    peerEagerMs: eager?.ms ?? NaN,
    peerEagerLayout: eager?.variant.layout ?? "",
    peerCompileMs: compiled?.ms ?? NaN,
    peerCompileLayout: compiled?.variant.layout ?? "",
    peerCompileS: compiled ? compiled.compileS : NaN,
    peerBf16Ms: pc?.bf16?.ms ?? NaN,
    peerBf16Variant: pc?.bf16?.variant.label ?? "",
    peerRssMb: best?.rssMb ?? NaN,
    peerStepRssMb: best?.stepRssMb ?? NaN,
    peerEagerRssMb: eager?.rssMb ?? NaN,
    ratio: best ? best.ms / oursMs : NaN,
    ratioEager: eager ? eager.ms / oursMs : NaN,
    ratioCompile: compiled ? compiled.ms / oursMs : NaN,
    oursPeakFrac: frac(oursMs),
    peerPeakFrac: best ? frac(best.ms) : NaN,
    note,
  };
  rows.push(r);
  printRow(r);
}

/** What --ours-engine graph did for the PGD-10 evaluation's iterations. */
function attackGraphNote(graphs: AttackGraphs | undefined): string {
  if (!graphs) return "";
  const s = graphs.status();
  if (s.graphs.length === 0) return `ours eager: ${Object.values(s.eager).join("; ")}`;
  return `ours attack iterations as graphs, ${s.graphCalls} graph iterations, checked against eager: bit-identical`;
}

/** What --ours-engine graph did for a step: ran as a graph (and how close to eager), or not. */
function graphStatusNote(step: TrainStep | undefined): string {
  const status = (step as Partial<GraphTrainStep> | undefined)?.status?.();
  if (!status) return "";
  if (status.graphs.length === 0) return `ours eager: ${Object.values(status.eager).join("; ")}`;
  const diff = status.worstDifference;
  return `ours as one graph, ${status.graphSteps} graph steps, checked against eager: ${
    diff === 0 ? "bit-identical" : `within ${diff.toExponential(1)}`
  }`;
}

/** Live tensors over n steps of a method: flat = no leak. */
async function leakCheck(ours: Ours, method: Method, n: number): Promise<void> {
  await runOurs(ours, method, 2);
  const start = tf.memory().numTensors;
  const startBytes = tf.memory().numBytes;
  const rss0 = Deno.memoryUsage().rss;
  const heap0 = Deno.memoryUsage().heapUsed;
  let maxT = start;
  const every = Math.max(1, Math.floor(n / 10));
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 1; i <= n; i++) {
    await runOurs(ours, method, 1);
    const nt = tf.memory().numTensors;
    maxT = Math.max(maxT, nt);
    if (i % every === 0) samples.push(nt);
  }
  const end = tf.memory().numTensors;
  const endBytes = tf.memory().numBytes;
  const rss1 = Deno.memoryUsage().rss;
  const heap1 = Deno.memoryUsage().heapUsed;
  const line = `${method} x${n} steps (${((performance.now() - t0) / 1000).toFixed(1)} s): ` +
    `live tensors ${start} -> ${end} (max ${maxT}; every ${every} steps: ${samples.join(" ")}), ` +
    `tensor bytes ${startBytes} -> ${endBytes}, RSS ${(rss0 / 2 ** 20).toFixed(0)} -> ${
      (rss1 / 2 ** 20).toFixed(0)
    } MB (V8 heap ${(heap0 / 2 ** 20).toFixed(0)} -> ${(heap1 / 2 ** 20).toFixed(0)} MB): ${
      end === start && endBytes === startBytes ? "no leak" : "LEAK"
    }`;
  leaks.push(line);
  console.log(`leak check ${ours.model.spec.arch}-w${ours.model.spec.width} ${line}`);
}

try {
  for (const backend of backends) {
    try {
      await initBackend(backend);
    } catch (err) {
      console.log(`${backend}: does not load (${(err as Error).message}); skipped`);
      for (const m of MODELS) {
        for (const method of METHODS) {
          rows.push(unmeasured(
            backend,
            m.label,
            method,
            BATCH,
            `backend does not load: ${(err as Error).message.split("\n")[0]}`,
          ));
        }
      }
      continue;
    }
    if (backend === "tensorflow") {
      // deno-lint-ignore no-explicit-any
      const binding = (tf.backend() as any).binding;
      versions.libtensorflow = binding?.TF_Version ?? "?";
      versions["tfjs-core"] = tf.version_core;
      await measurePeak("start");
      if (OURS_PRECISION !== "fp32") {
        setConvPrecision(OURS_PRECISION);
        console.log(`ours: convolutions in ${OURS_PRECISION} (lib/backend/bf16_convs.ts)`);
      }
    } else if (OURS_PRECISION !== "fp32") {
      console.log(
        `${backend}: --ours-precision ${OURS_PRECISION} applies to tensorflow only; fp32 here`,
      );
    }
    console.log(
      `\n== backend ${backend}${usingNativeOps() ? " (fused libtensorflow ops)" : ""} ==`,
    );
    for (const m of MODELS) {
      if (args.only && !m.label.includes(args.only)) continue;
      let ours: Ours;
      try {
        ours = buildOurs(m, BATCH);
      } catch (err) {
        console.log(`${backend} ${m.label}: model build failed (${(err as Error).message})`);
        continue;
      }
      try {
        for (const method of METHODS) {
          try {
            await measureCase(backend, m, ours, method, BATCH);
          } catch (err) {
            const r = unmeasured(
              backend,
              m.label,
              method,
              BATCH,
              `failed: ${String((err as Error).message ?? err).split("\n")[0].slice(0, 160)}`,
            );
            rows.push(r);
            printRow(r);
          }
        }
        if (backend === "tensorflow" && m.arch === "smallcnn" && !args.only) {
          await leakCheck(ours, "ST", 1000);
          await leakCheck(ours, "SAM", QUICK ? 100 : 200);
          await leakCheck(ours, "AT", QUICK ? 20 : 50);
        }
      } finally {
        disposeOurs(ours);
      }
      if (backend === "tensorflow") await measurePeak(`after ${m.label}`);
    }
    for (const [m, batch] of scalingCases(backend)) {
      let ours: Ours | undefined;
      try {
        ours = buildOurs(m, batch);
        await measureCase(backend, m, ours, "ST", batch);
      } catch (err) {
        const r = unmeasured(
          backend,
          m.label,
          "ST",
          batch,
          `failed: ${String((err as Error).message ?? err).split("\n")[0].slice(0, 160)}`,
        );
        rows.push(r);
        printRow(r);
      } finally {
        if (ours) disposeOurs(ours);
      }
    }
    for (const [m, batch] of extraCases(backend)) {
      let ours: Ours | undefined;
      try {
        ours = buildOurs(m, batch);
        await measureCase(backend, m, ours, "ST", batch);
      } catch (err) {
        console.log(`${backend} ${m.label} b${batch}: failed (${(err as Error).message})`);
      } finally {
        if (ours) disposeOurs(ours);
      }
    }
  }
} finally {
  await peer?.close();
}

// ---------------------------------------------------------------------------------------------
// Summary: ratio table, method cost ratios, CSV

const loadEnd = loadAverages();
// Fractions of the machine peak, against the best matmul rate seen in the whole run.
for (const r of rows) {
  const frac = (ms: number) => r.gflop / (ms / 1000) / machinePeakGflops;
  r.oursPeakFrac = frac(r.oursMs);
  r.peerPeakFrac = frac(r.peerMs);
}
console.log(
  `\n== summary: torch ms / our ms (above 1.0 = we are faster), against the fastest fp32 PyTorch ` +
    `variant of ${
      PEER_VARIANTS.filter((v) => v.precision === "fp32").map((v) => v.label).join(", ")
    } ==`,
);
console.log(
  `machine fp32 matmul peak ${fmt(machinePeakGflops, 0)} GFLOP/s (best of: ${peakLog.join("; ")})`,
);
console.log(
  "backend    model         method  ours        fastest fp32 torch (variant)          torch/ours  eager torch (layout)       eager/ours  compile s  ours %peak  torch %peak  CPU ms/step ours/torch" +
    (PEER_VARIANTS.some((v) => v.precision === "bf16") ? "  torch bf16" : ""),
);
for (const r of rows) {
  const o = shown(r, r.oursMs);
  const p = Number.isFinite(r.peerMs) ? `${shown(r, r.peerMs)} (${r.peerVariant})` : "-";
  const e = Number.isFinite(r.peerEagerMs)
    ? `${shown(r, r.peerEagerMs)} (${r.peerEagerLayout})`
    : "-";
  console.log(
    `${r.backend.padEnd(10)} ${r.model.padEnd(13)} ${
      (r.method + (r.batch !== BATCH ? ` b${r.batch}` : "")).padEnd(7)
    } ${o.padEnd(11)} ${p.padEnd(37)} ${ratioText(r.ratio).padStart(10)}  ${e.padEnd(26)} ${
      ratioText(r.ratioEager).padStart(10)
    }  ${(Number.isFinite(r.peerCompileS) ? fmt(r.peerCompileS, 0) : "-").padStart(9)}  ${
      (Number.isFinite(r.oursPeakFrac) ? fmt(100 * r.oursPeakFrac) + "%" : "-").padStart(10)
    }  ${(Number.isFinite(r.peerPeakFrac) ? fmt(100 * r.peerPeakFrac) + "%" : "-").padStart(11)}` +
      (Number.isFinite(r.oursMs) ? `  ${fmt(r.oursCpuMs)}/${fmt(r.peerCpuMs)}` : `  ${r.note}`) +
      (Number.isFinite(r.peerBf16Ms) ? `  ${shown(r, r.peerBf16Ms)} (${r.peerBf16Variant})` : "") +
      (Number.isFinite(r.oursMs) && r.note ? `  [${r.note}]` : ""),
  );
}
if (peerCompileTotalS > 0) {
  console.log(
    `torch.compile spent ${peerCompileTotalS.toFixed(0)} s compiling in this run (warm-up only; ` +
      "no step time includes it; inductor's cache under /tmp/torchinductor_$USER shortens later runs)",
  );
}
console.log(
  "FLOPs per step from the architecture: forward F = 2 x MACs (convs + linear); ST 3F, SAM 6F, " +
    "AT 10 x (F + F input-gradient backward) + 3F, EVAL 10 x 2F + 2F. CPU ms = all threads' CPU time per step.",
);
console.log(`\n== method cost: SAM/ST and AT/ST (targets for ours: SAM <= 2.1x, AT <= 11.1x) ==`);
for (const backend of backends) {
  for (const m of MODELS) {
    const get = (method: Method, side: "ours" | "peer") => {
      const r = rows.find((x) =>
        x.backend === backend && x.model === m.label && x.method === method && x.batch === BATCH
      );
      return r ? (side === "ours" ? r.oursMs : r.peerMs) : NaN;
    };
    const st = get("ST", "ours"), pst = get("ST", "peer");
    if (!Number.isFinite(st)) continue;
    const q = (v: number) => (Number.isFinite(v) ? v.toFixed(2) + "x" : "-");
    console.log(
      `${backend.padEnd(10)} ${m.label.padEnd(13)} ours SAM/ST ${
        q(get("SAM", "ours") / st)
      }  AT/ST ${q(get("AT", "ours") / st)}   torch SAM/ST ${q(get("SAM", "peer") / pst)}  AT/ST ${
        q(get("AT", "peer") / pst)
      }`,
    );
  }
}
const scaling = rows.filter((r) =>
  r.backend === "tensorflow" && r.model === MODELS[1].label && r.method === "ST" &&
  SCALING_BATCHES.includes(r.batch)
).sort((a, b) => a.batch - b.batch);
if (scaling.length) {
  console.log(
    `\n== scaling: ${
      MODELS[1].label
    } ST, ms per image (and peak RSS of each process during the case) ==`,
  );
  console.log(
    "batch  ours ms/img  fastest fp32 torch ms/img (variant)   torch/ours  eager ms/img  compile ms/img  peak RSS ours / torch (eager)   of which the case's own: ours / torch",
  );
  const perImg = (ms: number, b: number) => (Number.isFinite(ms) ? (ms / b).toFixed(3) : "-");
  for (const r of scaling) {
    console.log(
      `${String(r.batch).padStart(5)}  ${perImg(r.oursMs, r.batch).padStart(11)}  ${
        `${perImg(r.peerMs, r.batch)} (${r.peerVariant || "-"})`.padEnd(36)
      } ${ratioText(r.ratio).padStart(10)}  ${perImg(r.peerEagerMs, r.batch).padStart(12)}  ${
        perImg(r.peerCompileMs, r.batch).padStart(14)
      }  ${
        `${fmt(r.oursRssMb, 0)} / ${fmt(r.peerRssMb, 0)} (${fmt(r.peerEagerRssMb, 0)}) MB`.padEnd(
          30,
        )
      }  ${fmt(r.oursStepRssMb, 0)} / ${fmt(r.peerStepRssMb, 0)} MB` +
        (r.note ? `  [${r.note}]` : ""),
    );
  }
  console.log(
    "peak RSS = the kernel's high-water mark (VmHWM), reset before the case, of our Deno process and " +
      "of torch's Python process (inductor's compile workers are other processes, not counted); it " +
      "includes what earlier cases left allocated. The case's own = peak minus the RSS at its start.",
  );
}
console.log(`\n== tensor leak check (tensorflow backend) ==`);
leaks.forEach((l) => console.log(l));
const wall = (performance.now() - t0Bench) / 1000;
console.log(
  `\nload average at start ${loadStart}, at end ${loadEnd}; wall time ${wall.toFixed(0)} s`,
);

const machine = {
  date: new Date().toISOString(),
  cpu: cpuModel(),
  cores: navigator.hardwareConcurrency,
  mode: QUICK ? "quick" : "full",
  load_start: loadStart,
  load_end: loadEnd,
  deno: versions.deno,
  tfjs: versions["tfjs-core"] ?? tf.version_core,
  libtensorflow: versions.libtensorflow ?? "",
  torch: String(peer?.info.torch ?? ""),
  ours_threads: String(THREADS),
  torch_threads: String(peer?.info.threads ?? ""),
  torch_variants: PEER_VARIANTS.map((v) => v.label).join(" "),
  ours_precision: OURS_PRECISION,
  ours_engine: OURS_ENGINE,
  peak_gflops: machinePeakGflops,
};
const header = [
  ...Object.keys(machine),
  "backend",
  "model",
  "method",
  "batch",
  "ours_ms",
  "ours_steps",
  "ours_cpu_ms",
  "ours_peak_rss_mb",
  "torch_ms",
  "torch_variant",
  "torch_layout",
  "torch_nchw_ms",
  "torch_channels_last_ms",
  "torch_cpu_ms",
  "torch_peak_rss_mb",
  "torch_over_ours",
  "ours_case_rss_mb",
  "torch_case_rss_mb",
  "torch_eager_ms",
  "torch_eager_layout",
  "torch_eager_over_ours",
  "torch_eager_peak_rss_mb",
  "torch_compile_ms",
  "torch_compile_layout",
  "torch_compile_over_ours",
  "torch_compile_s",
  "torch_bf16_ms",
  "torch_bf16_variant",
  "ours_ms_per_image",
  "torch_ms_per_image",
  "gflop_per_step",
  "ours_peak_fraction",
  "torch_peak_fraction",
  "note",
];
const lines = [header.join(",")];
for (const r of rows) {
  lines.push(
    [
      ...Object.values(machine),
      r.backend,
      r.model,
      r.method,
      r.batch,
      r.oursMs,
      r.oursSteps,
      r.oursCpuMs,
      r.oursRssMb,
      r.peerMs,
      r.peerVariant,
      r.peerLayout,
      r.peerNchwMs,
      r.peerChannelsLastMs,
      r.peerCpuMs,
      r.peerRssMb,
      r.ratio,
      r.oursStepRssMb,
      r.peerStepRssMb,
      r.peerEagerMs,
      r.peerEagerLayout,
      r.ratioEager,
      r.peerEagerRssMb,
      r.peerCompileMs,
      r.peerCompileLayout,
      r.ratioCompile,
      r.peerCompileS,
      r.peerBf16Ms,
      r.peerBf16Variant,
      r.oursMs / r.batch,
      r.peerMs / r.batch,
      r.gflop,
      r.oursPeakFrac,
      r.peerPeakFrac,
      r.note,
    ].map(csvCell).join(","),
  );
}
const out = args.out.startsWith("/") ? args.out : `${ROOT}${args.out}`;
Deno.mkdirSync(out.replace(/\/[^/]*$/, ""), { recursive: true });
Deno.writeTextFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${rows.length} rows to ${args.out}`);
// tfjs-node keeps native threads alive; leave explicitly.
Deno.exit(0);
