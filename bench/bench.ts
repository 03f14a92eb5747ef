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
 * shared machine hits both sides alike. The peer runs in both memory layouts (NCHW and
 * channels_last) and is credited with the faster one; for the two longest cases (PRN-18 width 64
 * AT and EVAL) it runs only the layout that won that model's ST case.
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
import { at, type Method as TrainMethod, sam, ST } from "../lib/training/method.ts";
import { type Method, type ModelCase, stepFlops } from "./flops.ts";
import { parseBenchArgs } from "./options.ts";

const args = parseBenchArgs();
const QUICK = args.quick;
const BATCH = 128;
const ROOT = new URL("..", import.meta.url).pathname;
const t0Bench = performance.now();

// ---------------------------------------------------------------------------------------------
// Machine, load, memory

function loadAvg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// ---------------------------------------------------------------------------------------------
// The peer: bench/peer_torch.py --serve as a child process, JSON lines over a pipe

interface PeerReply {
  ok: boolean;
  error?: string;
  times_ms?: number[];
  cpu_ms?: number;
  peak_rss_mb?: number;
  gflops?: number;
  hello?: Record<string, unknown>;
}

class Peer {
  private proc: Deno.ChildProcess;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private reader: ReadableStreamDefaultReader<string>;
  private buf = "";
  info: Record<string, unknown> = {};

  constructor(python: string) {
    this.proc = new Deno.Command(python, {
      args: [`${ROOT}bench/peer_torch.py`, "--serve", "--threads", "2"],
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
  /** Peer layouts to run; "best" = the one that won this model's ST case. */
  peerLayouts: "both" | "best";
}

const LAYOUTS = ["nchw", "channels_last"] as const;

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
  const big = m.arch === "prn18" && m.width === 64;
  const prn = m.arch === "prn18";
  if (backend === "wasm") {
    if (big && batch > 64) {
      return `skipped: PRN-18 width 64 at batch ${batch} overflows the wasm32 4 GiB heap (docs/environment.md#wasm-backend)${
        QUICK ? "" : "; ST measured at batch 64 below"
      }`;
    }
    if (big) return { rounds: 1, steps: 1, warmup: 1, peerLayouts: "both" };
    if (prn && QUICK && method !== "ST") return "skipped in --quick (wasm, slow)";
    if (prn && (method === "AT" || method === "EVAL")) {
      return "skipped: 11 passes of a ~5 s wasm step per measurement (run scripts/step_times.ts)";
    }
    const r = prn
      ? { rounds: 1, steps: QUICK ? 1 : 2, warmup: 1 }
      : QUICK
      ? { rounds: 1, steps: method === "ST" || method === "SAM" ? 5 : 1, warmup: 1 }
      : { rounds: 1, steps: method === "ST" || method === "SAM" ? 10 : 2, warmup: 1 };
    return { ...r, peerLayouts: "both" };
  }
  if (QUICK && big && (method === "AT" || method === "EVAL")) {
    return "skipped in --quick (run the full bench)";
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
    peerLayouts: big && (method === "AT" || method === "EVAL") ? "best" : "both",
  };
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

// ---------------------------------------------------------------------------------------------
// Our side

interface Ours {
  model: Model;
  opt: Sgd;
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  data: Dataset;
  steps: Partial<Record<Method, TrainStep>>;
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
  o.model.dispose();
  o.opt.dispose();
  tf.dispose([o.x, o.y]);
}

/** Time n steps of ours; returns ms per step (per batch for EVAL). */
async function runOurs(o: Ours, method: Method, n: number): Promise<number[]> {
  const times: number[] = [];
  if (method === "EVAL") {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await evaluate(o.model, o.data, {
        // PGD-10 with its default step eps/4 = 2/255, as the peer.
        evals: [{ attack: "pgd", norm: "linf", eps: 8 / 255, options: { steps: 10 } }],
        batchSize: o.data.n,
        progress: "none",
      });
      times.push(performance.now() - t0);
    }
    return times;
  }
  const step = o.steps[method] ??= makeTrainStep(
    o.model,
    o.opt,
    SETTINGS[method],
    "loss-pass",
    Rng.fromSeed(1),
  );
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
  peerMs: number;
  peerLayout: string;
  peerNchwMs: number;
  peerChannelsLastMs: number;
  peerRssMb: number;
  ratio: number;
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
    peerMs: NaN,
    peerLayout: "",
    peerNchwMs: NaN,
    peerChannelsLastMs: NaN,
    peerRssMb: NaN,
    ratio: NaN,
    gflop: NaN,
    oursPeakFrac: NaN,
    peerPeakFrac: NaN,
    note,
  };
}

const rows: Row[] = [];
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");

function printRow(r: Row): void {
  const thr = r.method === "EVAL";
  const ours = thr ? `${fmt((r.batch / r.oursMs) * 1000, 0)} img/s` : `${fmt(r.oursMs)} ms`;
  const peer = !Number.isFinite(r.peerMs)
    ? "-"
    : thr
    ? `${fmt((r.batch / r.peerMs) * 1000, 0)} img/s (${r.peerLayout})`
    : `${fmt(r.peerMs)} ms (${r.peerLayout})`;
  console.log(
    `${r.backend.padEnd(10)} ${r.model.padEnd(13)} ${r.method.padEnd(4)} b${
      String(r.batch).padEnd(4)
    } ` +
      `ours ${ours.padStart(12)}  torch ${peer.padStart(27)}  torch/ours ${
        Number.isFinite(r.ratio) ? r.ratio.toFixed(2) + "x" : "-"
      }` +
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
const loadStart = loadAvg();
console.log(
  `bench ${QUICK ? "--quick" : "(full)"}: ${cpuModel()}, ${navigator.hardwareConcurrency} cores, ` +
    `load average (1/5/15 min) at start ${loadStart}`,
);
console.log(`small CNN width ${CNN_WIDTH} (${CNN_WIDTH_SOURCE}); batch ${BATCH}`);

let peer: Peer | undefined;
if (!args["no-peer"]) {
  peer = new Peer(args.python);
  await peer.start();
  console.log(
    `peer: PyTorch ${peer.info.torch} (Python ${peer.info.python}), ${peer.info.threads} threads, ` +
      `OMP_WAIT_POLICY=${peer.info.omp_wait_policy}, oneDNN ${peer.info.mkldnn}`,
  );
}

/** Peer timings per case, kept for the wasm rows (which compare against the same numbers). */
const peerByCase = new Map<
  string,
  { ms: number; layout: string; nchw: number; cl: number; rss: number; cpu: number }
>();
const bestLayout = new Map<string, string>();
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
    gflop: stepFlops(m, method, batch) / 1e9,
  };
  if (typeof plan === "string") {
    const r = { ...unmeasured(backend, m.label, method, batch, plan), gflop: base.gflop };
    rows.push(r);
    printRow(r);
    return;
  }
  // The peer runs once per case: in the tensorflow pass, or in the first pass that has the case.
  const usePeer = peer !== undefined && !peerByCase.has(key);
  const layouts: string[] = plan.peerLayouts === "both"
    ? [...LAYOUTS]
    : [bestLayout.get(m.label) ?? "channels_last"];
  const oursTimes: number[] = [];
  const peerTimes: Record<string, number[]> = { nchw: [], channels_last: [] };
  const peerCpu: Record<string, number> = { nchw: 0, channels_last: 0 };
  let oursCpu = 0;
  let peerRss = 0;
  let note = "";
  resetPeakRss();
  await runOurs(ours, method, plan.warmup);
  const peerRound = async (round: number) => {
    for (const layout of layouts) {
      const r = await peer!.ask({
        arch: m.arch,
        width: m.width,
        size: m.size,
        channels: m.channels,
        method,
        batch,
        layout,
        steps: plan.steps,
        warmup: round === 0 ? plan.warmup : 0,
      });
      if (!r.ok) {
        note = `peer error: ${r.error}`;
        continue;
      }
      peerTimes[layout].push(...r.times_ms!);
      peerCpu[layout] += r.cpu_ms ?? NaN;
      peerRss = Math.max(peerRss, r.peak_rss_mb ?? 0);
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
  let peerInfo = peerByCase.get(key);
  if (usePeer) {
    const nchw = median(peerTimes.nchw), cl = median(peerTimes.channels_last);
    const best = !(cl < nchw) && Number.isFinite(nchw) ? "nchw" : "channels_last";
    const cpu = peerCpu[best] / peerTimes[best].length;
    peerInfo = { ms: best === "nchw" ? nchw : cl, layout: best, nchw, cl, rss: peerRss, cpu };
    peerByCase.set(key, peerInfo);
    if (method === "ST") bestLayout.set(m.label, best);
  } else if (peerInfo) {
    note ||= "torch numbers from the tensorflow pass of this run";
  }
  const flops = stepFlops(m, method, batch);
  const frac = (ms: number) => flops / (ms / 1000) / 1e9 / machinePeakGflops;
  const r: Row = {
    ...base,
    oursMs,
    oursSteps: oursTimes.length,
    oursCpuMs: oursCpu / oursTimes.length,
    peerCpuMs: peerInfo?.cpu ?? NaN,
    oursRssMb: oursRss,
    peerMs: peerInfo?.ms ?? NaN,
    peerLayout: peerInfo?.layout ?? "",
    peerNchwMs: peerInfo?.nchw ?? NaN,
    peerChannelsLastMs: peerInfo?.cl ?? NaN,
    peerRssMb: peerInfo?.rss ?? NaN,
    ratio: peerInfo ? peerInfo.ms / oursMs : NaN,
    oursPeakFrac: frac(oursMs),
    peerPeakFrac: peerInfo ? frac(peerInfo.ms) : NaN,
    note,
  };
  rows.push(r);
  printRow(r);
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
        for (const method of ["ST", "SAM", "AT", "EVAL"] as Method[]) {
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
        for (const method of ["ST", "SAM", "AT", "EVAL"] as Method[]) {
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

const loadEnd = loadAvg();
// Fractions of the machine peak, against the best matmul rate seen in the whole run.
for (const r of rows) {
  const frac = (ms: number) => r.gflop / (ms / 1000) / machinePeakGflops;
  r.oursPeakFrac = frac(r.oursMs);
  r.peerPeakFrac = frac(r.peerMs);
}
console.log(`\n== summary: torch ms / our ms (above 1.0 = we are faster) ==`);
console.log(
  `machine fp32 matmul peak ${fmt(machinePeakGflops, 0)} GFLOP/s (best of: ${peakLog.join("; ")})`,
);
console.log(
  "backend    model         method  ours        torch (layout)             torch/ours  ours %peak  torch %peak  CPU ms/step ours/torch",
);
for (const r of rows) {
  const thr = r.method === "EVAL";
  const o = !Number.isFinite(r.oursMs)
    ? "-"
    : thr
    ? `${fmt((r.batch / r.oursMs) * 1000, 0)} img/s`
    : `${fmt(r.oursMs)} ms`;
  const p = !Number.isFinite(r.peerMs)
    ? "-"
    : thr
    ? `${fmt((r.batch / r.peerMs) * 1000, 0)} img/s (${r.peerLayout})`
    : `${fmt(r.peerMs)} ms (${r.peerLayout})`;
  console.log(
    `${r.backend.padEnd(10)} ${r.model.padEnd(13)} ${
      (r.method + (r.batch !== BATCH ? ` b${r.batch}` : "")).padEnd(7)
    } ${o.padEnd(11)} ${p.padEnd(26)} ${
      (Number.isFinite(r.ratio) ? r.ratio.toFixed(2) + "x" : "-").padStart(10)
    }  ${(Number.isFinite(r.oursPeakFrac) ? fmt(100 * r.oursPeakFrac) + "%" : "-").padStart(10)}  ${
      (Number.isFinite(r.peerPeakFrac) ? fmt(100 * r.peerPeakFrac) + "%" : "-").padStart(11)
    }` +
      (Number.isFinite(r.oursMs) ? `  ${fmt(r.oursCpuMs)}/${fmt(r.peerCpuMs)}` : `  ${r.note}`),
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
        x.backend === backend && x.model === m.label && x.method === method
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
  torch_threads: String(peer?.info.threads ?? ""),
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
  "torch_layout",
  "torch_nchw_ms",
  "torch_channels_last_ms",
  "torch_cpu_ms",
  "torch_peak_rss_mb",
  "torch_over_ours",
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
      r.peerLayout,
      r.peerNchwMs,
      r.peerChannelsLastMs,
      r.peerCpuMs,
      r.peerRssMb,
      r.ratio,
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
