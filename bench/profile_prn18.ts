/**
 * Where a training step's time goes (issue 15, item 2): PreActResNet-18 (or the small CNN) ST, SAM
 * or PGD-10 AT steps on the tensorflow (tfjs-node) backend, the step timed as bench/bench.ts times
 * it (lib/training/train.ts makeTrainStep), each native call timed and attributed.
 *
 *   bin/deno run -A bench/profile_prn18.ts [--width 16] [--method ST|SAM|AT|EVAL|all] [--steps 3]
 *       [--warmup 1] [--batch 128] [--arch prn18|smallcnn] [--conv-precision fp32|bf16]
 *       [--engine eager|graph]
 *
 * EVAL is bench/bench.ts's evaluation case (lib/training/evaluate.ts: clean forward, PGD-10 L-inf
 * 8/255 in eval mode, adversarial forward; the two forwards are charged to "attack bookkeeping").
 * --engine (EVAL only; the training steps are profiled eager) picks the attack iterations' engine:
 * eager (default) attributes every op; with graph a replayed iteration is one native call
 * ("RunSession", the same kernels), so only the step, the host time and the eager forwards are
 * broken down. bench/profile_torch.py is the PyTorch side.
 *
 * How: every call into tfjs-node's native binding (executeOp, createTensor, tensorDataSync,
 * deleteTensor) is wrapped with performance.now(); each is charged to an op kind (convolutions,
 * BatchNorm, ReLU, elementwise, reductions, pooling, loss, data movement, random, host<->native
 * copies) and to a phase of the step, found by wrapping the model's forward, the engine's gradient
 * computation (tf.engine().gradients: with respect to the weights = training, to the input = the
 * attack) and the optimizer's update (Sgd.step):
 *   attack forward / attack backward / attack bookkeeping (PGD's random start, sign, projection)
 *   train forward / train backward / optimizer (SGD) / other (SAM's perturb and restore, BN
 *   running statistics, the loss read-back).
 * Host time = wall time of a phase minus its native calls: JavaScript op dispatch, tfjs
 * bookkeeping (tape, tidy, dispose), garbage collection. The wrappers themselves cost about 1 us
 * per call (~1-2 ms of a ~800-call PRN-18 ST step). Printed per step (medians over --steps).
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type ConvPrecision, setConvPrecision } from "../lib/backend/bf16_convs.ts";
import { type Arch, createModel } from "../lib/models/model.ts";
import { usingNativeOps } from "../lib/models/ops.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { at, type Method, sam, ST } from "../lib/training/method.ts";
import { Rng } from "../lib/util/rng.ts";
import { datasetSpec } from "../lib/data/registry.ts";
import { fail, parseCli } from "../scripts/cli.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { AttackGraphs } from "../lib/attacks/attack_graphs.ts";
import { type Engine, ENGINES } from "../lib/backend/speed_settings.ts";
import { median } from "../lib/util/median.ts";
import { loadAverages } from "../lib/util/load_average.ts";

const HELP =
  `Profile training steps and the PGD-10 evaluation by op kind and phase (tensorflow backend).

usage: bin/deno run -A bench/profile_prn18.ts [--width 16] [--method ST|SAM|AT|EVAL|all] [--steps 3]
         [--warmup 1] [--batch 128] [--arch prn18|smallcnn] [--conv-precision fp32|bf16]
         [--engine eager|graph]`;

const args = parseCli({
  width: { type: "string", default: "16" },
  method: { type: "string", default: "all" },
  steps: { type: "string", default: "3" },
  warmup: { type: "string", default: "1" },
  batch: { type: "string", default: "128" },
  arch: { type: "string", default: "prn18" },
  "conv-precision": { type: "string", default: "fp32" },
  engine: { type: "string", default: "eager" },
}, HELP);

const int = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name}: "${v}" is not an integer >= ${min}.`);
  return n;
};
const WIDTH = int("width", args.width, 1);
const STEPS = int("steps", args.steps, 1);
const WARMUP = int("warmup", args.warmup, 0);
const BATCH = int("batch", args.batch, 1);
const ARCH = args.arch as Arch;
if (!["prn18", "smallcnn"].includes(ARCH)) fail(`--arch: "${args.arch}" is not prn18 or smallcnn.`);
const METHODS = args.method === "all" ? ["ST", "SAM", "AT", "EVAL"] : [args.method];
for (const m of METHODS) {
  if (!["ST", "SAM", "AT", "EVAL"].includes(m)) {
    fail(`--method: "${m}" is not ST, SAM, AT, EVAL or all.`);
  }
}
const ENGINE = args.engine as Engine;
if (!(ENGINES as readonly string[]).includes(ENGINE)) {
  fail(`--engine: "${ENGINE}" is not eager or graph.`);
}
const PRECISION = args["conv-precision"] as ConvPrecision;
if (!["fp32", "bf16"].includes(PRECISION)) {
  fail(`--conv-precision: "${PRECISION}" is not fp32 or bf16.`);
}

await initBackend("tensorflow");
if (!usingNativeOps()) fail("bench/profile_prn18.ts needs the tensorflow (tfjs-node) backend.");
if (PRECISION !== "fp32") setConvPrecision(PRECISION);

// ---------------------------------------------------------------------------------------------
// Op kinds

const KINDS = [
  "conv",
  "batchnorm",
  "relu",
  "elementwise",
  "reduction",
  "pooling",
  "loss",
  "data movement",
  "random",
  "host<->native",
  "other",
] as const;
type Kind = typeof KINDS[number];

/** The kind of a native op, by its TensorFlow name. */
function kindOf(op: string): Kind {
  if (/Conv2D|Conv3D|DepthwiseConv/.test(op)) return "conv";
  if (/BatchNorm/.test(op)) return "batchnorm";
  if (/^(Relu|ReluGrad|Relu6|Elu|Selu)/.test(op)) return "relu";
  if (/MaxPool|AvgPool/.test(op)) return "pooling";
  if (/SoftmaxCrossEntropy|LogSoftmax|^Softmax$/.test(op)) return "loss";
  if (/^Random|^Multinomial|StatelessRandom/.test(op)) return "random";
  if (/^(Sum|Mean|Max|Min|Prod|ArgMax|ArgMin|All|Any|L2Loss|EuclideanNorm)$/.test(op)) {
    return "reduction";
  }
  if (
    /^(Pad|PadV2|MirrorPad|Slice|StridedSlice|BroadcastTo|Reshape|Transpose|ConcatV2|Concat|Pack|Unpack|Split|SplitV|Fill|ZerosLike|OnesLike|Identity|IdentityN|Tile|ExpandDims|Squeeze|GatherV2|GatherNd|ScatterNd|OneHot|Shape|Range|Reverse|ReverseV2)$/
      .test(op)
  ) return "data movement";
  if (
    /^(Add|AddV2|AddN|Sub|Mul|RealDiv|Div|DivNoNan|FloorDiv|Neg|Sign|Abs|Maximum|Minimum|ClipByValue|Square|SquaredDifference|Sqrt|Rsqrt|Exp|Log|Log1p|Pow|Reciprocal|Greater|GreaterEqual|Less|LessEqual|Equal|NotEqual|Select|SelectV2|LogicalAnd|LogicalOr|LogicalNot|Cast|Floor|Ceil|Round|Sigmoid|Tanh|IsNan|IsInf|IsFinite)$/
      .test(op)
  ) return "elementwise";
  return "other";
}

// ---------------------------------------------------------------------------------------------
// Phases

const PHASES = [
  "attack forward",
  "attack backward",
  "attack bookkeeping",
  "train forward",
  "train backward",
  "optimizer",
  "other",
] as const;
type Phase = typeof PHASES[number];

interface Tally {
  ms: number;
  calls: number;
}

class Recorder {
  /** [phase][op] native time. */
  native = new Map<Phase, Map<string, Tally>>();
  wall = new Map<Phase, number>();
  private stack: Phase[] = [];
  private since = 0;
  /** Whether this step has computed a gradient with respect to the weights yet. */
  trainGradDone = false;
  attackMethod = false;
  on = false;

  /** The phase outside any wrapper: before the training gradient, an attack's bookkeeping. */
  private base(): Phase {
    return this.attackMethod && !this.trainGradDone ? "attack bookkeeping" : "other";
  }

  current(): Phase {
    return this.stack.length ? this.stack[this.stack.length - 1] : this.base();
  }

  private charge(): void {
    const now = performance.now();
    if (this.on) {
      const p = this.current();
      this.wall.set(p, (this.wall.get(p) ?? 0) + now - this.since);
    }
    this.since = now;
  }

  push(p: Phase): void {
    this.charge();
    this.stack.push(p);
  }

  pop(): void {
    this.charge();
    this.stack.pop();
  }

  startStep(attack: boolean): void {
    this.stack = [];
    this.trainGradDone = false;
    this.attackMethod = attack;
    this.since = performance.now();
  }

  endStep(): void {
    this.charge();
  }

  add(op: string, ms: number): void {
    if (!this.on) return;
    const p = this.current();
    let m = this.native.get(p);
    if (!m) this.native.set(p, m = new Map());
    const t = m.get(op) ?? { ms: 0, calls: 0 };
    t.ms += ms;
    t.calls += 1;
    m.set(op, t);
  }

  reset(): void {
    this.native.clear();
    this.wall.clear();
  }
}

const rec = new Recorder();

// The binding's own properties are read-only (napi): the backend gets a stand-in whose four
// functions time the originals (called on the real binding) and inherits everything else.
// deno-lint-ignore no-explicit-any
const nodeBackend = tf.backend() as any;
const binding = nodeBackend.binding;
const timed: Record<string, unknown> = {};
for (
  const [fn, label] of [
    ["executeOp", null],
    ["runSavedModel", "RunSession"],
    ["createTensor", "(createTensor: upload)"],
    ["tensorDataSync", "(tensorDataSync: read-back)"],
    ["deleteTensor", "(deleteTensor)"],
  ] as const
) {
  const orig = binding[fn] as (...a: unknown[]) => unknown;
  timed[fn] = {
    value: (...a: unknown[]) => {
      const t0 = performance.now();
      try {
        return orig.apply(binding, a);
      } finally {
        rec.add(label ?? String(a[0]), performance.now() - t0);
      }
    },
  };
}
nodeBackend.binding = Object.create(binding, timed as PropertyDescriptorMap);

const engine = tf.engine();
const origGradients = engine.gradients.bind(engine);
let paramIds = new Set<number>();
// deno-lint-ignore no-explicit-any
(engine as any).gradients = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
  allow?: boolean,
) => {
  const train = xs.some((x) => paramIds.has(x.id));
  const fwd: Phase = train ? "train forward" : "attack forward";
  const bwd: Phase = train ? "train backward" : "attack backward";
  rec.push(bwd);
  try {
    return origGradients(
      () => {
        rec.push(fwd);
        try {
          return f();
        } finally {
          rec.pop();
        }
      },
      xs,
      dy,
      allow,
    );
  } finally {
    rec.pop();
    if (train) rec.trainGradDone = true;
  }
};

// ---------------------------------------------------------------------------------------------
// The model and the steps

const [size, ch] = ARCH === "prn18" ? [32, 3] : [28, 1];
const norm = datasetSpec(ARCH === "prn18" ? "cifar10" : "fashion-mnist").normalization;
const rng = Rng.fromSeed(0);
const model = createModel({
  arch: ARCH,
  width: WIDTH,
  inputShape: [size, size, ch],
  numClasses: 10,
  mean: norm.mean,
  std: norm.std,
}, rng);
paramIds = new Set(model.params.map((p) => p.id));
const opt = createSgd(model.params, { momentum: 0.9, weightDecay: 5e-4 });
const origStep = opt.step.bind(opt);
(opt as { step: typeof opt.step }).step = (grads, lr) => {
  rec.push("optimizer");
  try {
    origStep(grads, lr);
  } finally {
    rec.pop();
  }
};
const x = tf.tensor4d(rng.fillUniform(new Float32Array(BATCH * size * size * ch), 0, 1), [
  BATCH,
  size,
  size,
  ch,
]);
const y = tf.tensor1d(Int32Array.from({ length: BATCH }, () => rng.int(10)), "int32");

const SETTINGS: Record<string, Method> = {
  ST,
  SAM: sam(0.05),
  AT: at("linf", 8 / 255, 2 / 255, 10),
};

const pad = (s: string, n: number) => s.padEnd(n);
const num = (v: number, n: number, d = 1) => v.toFixed(d).padStart(n);

console.log(
  `${ARCH} width ${WIDTH}, batch ${BATCH}, convolutions ${PRECISION}; ${STEPS} profiled step(s) ` +
    `after ${WARMUP} warm-up; load average ${loadAverages()} (2 cores: above ~1 the numbers are inflated)`,
);

const evalData = {
  name: "profile",
  images: x.dataSync() as Float32Array,
  labels: y.dataSync() as Int32Array,
  n: BATCH,
  height: size,
  width: size,
  channels: ch,
  numClasses: 10,
};
const evalGraphs = ENGINE === "graph" ? new AttackGraphs() : undefined;

for (const name of METHODS) {
  const step = name === "EVAL"
    ? null
    : makeTrainStep(model, opt, SETTINGS[name], "loss-pass", Rng.fromSeed(1));
  const run = async () => {
    rec.startStep(name === "AT" || name === "EVAL");
    const t0 = performance.now();
    if (step) {
      const loss = await step(x, y, 0.01);
      await loss.data();
      loss.dispose();
    } else {
      await evaluate(model, evalData, {
        evals: [{ attack: "pgd", norm: "linf", eps: 8 / 255, options: { steps: 10 } }],
        batchSize: BATCH,
        progress: "none",
        engine: ENGINE,
        attackGraphs: evalGraphs,
      });
    }
    rec.endStep();
    return performance.now() - t0;
  };
  rec.on = false;
  for (let i = 0; i < WARMUP; i++) await run();
  rec.reset();
  rec.on = true;
  const walls: number[] = [];
  for (let i = 0; i < STEPS; i++) walls.push(await run());
  rec.on = false;
  const stepMs = median(walls);

  // Per step: totals over the profiled steps / STEPS.
  const byKind = new Map<Kind, Tally>();
  const byOp = new Map<string, Tally>();
  const phaseNative = new Map<Phase, number>();
  const phaseKind = new Map<Phase, Map<Kind, number>>();
  for (const [phase, ops] of rec.native) {
    for (const [op, t] of ops) {
      const k: Kind = op.startsWith("(") ? "host<->native" : kindOf(op);
      const bk = byKind.get(k) ?? { ms: 0, calls: 0 };
      bk.ms += t.ms / STEPS;
      bk.calls += t.calls / STEPS;
      byKind.set(k, bk);
      const bo = byOp.get(op) ?? { ms: 0, calls: 0 };
      bo.ms += t.ms / STEPS;
      bo.calls += t.calls / STEPS;
      byOp.set(op, bo);
      phaseNative.set(phase, (phaseNative.get(phase) ?? 0) + t.ms / STEPS);
      const pk = phaseKind.get(phase) ?? new Map<Kind, number>();
      pk.set(k, (pk.get(k) ?? 0) + t.ms / STEPS);
      phaseKind.set(phase, pk);
    }
  }
  const meanWall = walls.reduce((a, b) => a + b, 0) / walls.length;
  const nativeTotal = [...byKind.values()].reduce((a, t) => a + t.ms, 0);
  console.log(
    `\n== ${ARCH}-w${WIDTH} ${name} b${BATCH}: step ${stepMs.toFixed(1)} ms median (mean ${
      meanWall.toFixed(1)
    }; steps ${walls.map((w) => w.toFixed(0)).join(" ")} ms); native calls ${
      nativeTotal.toFixed(1)
    } ms, host ${(meanWall - nativeTotal).toFixed(1)} ms per step (means) ==`,
  );
  console.log(
    `${pad("op kind", 15)} ${"ms/step".padStart(9)} ${"% step".padStart(7)} ${"calls".padStart(7)}`,
  );
  for (const k of KINDS) {
    const t = byKind.get(k);
    if (!t) continue;
    console.log(
      `${pad(k, 15)} ${num(t.ms, 9)} ${num((100 * t.ms) / meanWall, 7)} ${num(t.calls, 7, 0)}`,
    );
  }
  console.log(
    `${pad("host (JS)", 15)} ${num(meanWall - nativeTotal, 9)} ${
      num((100 * (meanWall - nativeTotal)) / meanWall, 7)
    }`,
  );
  console.log(
    `\n${pad("phase", 19)} ${"wall".padStart(8)} ${"native".padStart(8)} ${"host".padStart(8)}  ` +
      "native by kind (ms/step)",
  );
  for (const p of PHASES) {
    const w = (rec.wall.get(p) ?? 0) / STEPS;
    const n = phaseNative.get(p) ?? 0;
    if (w === 0 && n === 0) continue;
    const kinds = [...(phaseKind.get(p) ?? new Map<Kind, number>())]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(", ");
    console.log(`${pad(p, 19)} ${num(w, 8)} ${num(n, 8)} ${num(w - n, 8)}  ${kinds}`);
  }
  console.log(
    `\ntop native ops${"".padEnd(22)} ${"ms/step".padStart(9)} ${"calls".padStart(7)} ${
      "ms/call".padStart(8)
    }`,
  );
  for (const [op, t] of [...byOp].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(
      `${pad(op, 36)} ${num(t.ms, 9)} ${num(t.calls, 7, 0)} ${num(t.ms / t.calls, 8, 3)}`,
    );
  }
}
console.log(`\nload average at end ${loadAverages()}`);
evalGraphs?.dispose();
tf.dispose([x, y]);
model.dispose();
opt.dispose();
Deno.exit(0);
