/**
 * Every speed switch of the project in one place: which engine runs the repeated steps (training
 * steps, attack iterations, Hessian-vector products), the convolution precision, the oneDNN
 * kernels and their workarounds, and the guards that keep a graph replay bit-identical to eager.
 * The code that acts on them lives where the work is (lib/backend/graph_replay.ts,
 * lib/backend/bf16_convs.ts, lib/models/ops.ts); this module holds their state and the rules, and
 * imports nothing, so every other module can read it.
 *
 * None of these switches changes a number except conv precision bf16 (off by default, and rows
 * trained with it say "+bf16-convs"): the graph engine replays a step only after its graph gave
 * the eager step's results bit for bit (REPLAY.tolerance = 0), and the oneDNN kernels used are
 * the ones measured bit-identical to the generic ones (lib/models/ops.ts says which, and where
 * they are not: the eval-mode conv-BN fold rounds differently from an unfolded BN, and is the
 * reference both engines compute).
 *
 * Rules the algorithm code follows so that its graph replays bit for bit, each stated by a test
 * that fails when it is broken (tests/speed_settings_test.ts):
 * - a sum of many tensors is tf.sum(tf.stack(terms)), never tf.addN(terms): libtensorflow's
 *   session adds an AddN's terms in another order than eager, and not the same order on every run
 *   (bench/NOTES.md, the width-64 SAM mismatch). lib/optim/sam.ts's gradient norm does this.
 * - random numbers come from the step's Rng by fillUniform / fillNormal only (others make the step
 *   stay eager; graph_replay.ts; tests/graph_step_test.ts).
 * - a replayed function computes from its inputs, the variables and true constants only: anything
 *   that changes between calls (the batch, the learning rate, an attack's box bounds, targets and
 *   ball geometry) is an input tensor, never a tensor captured by a closure, which the graph would
 *   freeze at its first value. So Sgd.step takes the learning rate as a scalar tensor, and the
 *   attacks' iterations (lib/attacks/pgd.ts, apgd.ts, square.ts) take [xAdv, y, bounds...] as
 *   inputs. tests/graph_replay_test.ts states the rule (a captured tensor that changes after the
 *   graph was compiled keeps its old value there); the tests that replay over several batches and
 *   rates against eager (tests/graph_step_test.ts, tests/attack_graphs_test.ts) fail if a step breaks it.
 * Guards the replay itself applies (REPLAY below; lib/backend/session_graph.ts,
 * lib/backend/graph_replay.ts), each with a test in tests/graph_step_test.ts:
 * - float constants are fed as inputs, not written as Consts (the optimiser would turn x / c
 *   into x * (1/c));
 * - a Sqrt that something divides by is fetched (x / sqrt(y) would become x * rsqrt(y));
 * - a FusedBatchNormV3 output that a Relu takes is fetched (the two would be fused into a kernel
 *   that differs in the last bit for channel counts not a multiple of 8);
 * - the graph is checked twice against the eager call it was recorded from.
 * oneDNN workarounds (lib/models/model.ts, tests/strided_conv_test.ts): on AVX2-only CPUs oneDNN's
 * weight gradient of a stride-2 1x1 conv with 1-4 input channels is wrong, so those convs are
 * routed around it; bfloat16 convolutions run only for the channel counts measured right
 * (lib/backend/bf16_convs.ts).
 */

/** How a repeated step runs: eagerly op by op, or recorded once and replayed as one graph. */
export const ENGINES = ["eager", "graph"] as const;
export type Engine = typeof ENGINES[number];

/**
 * The engine used when none is asked for: "graph" on the tensorflow (tfjs-node CPU) backend, where
 * it is the fastest engine that gives eager's results bit for bit; "eager" on every other backend
 * (wasm has no graph executor; the GPU build is untested with it). `--step-engine eager` (or the
 * `stepEngine` / `engine` options) asks for the eager path, which is the reference the graph is
 * checked against.
 */
export function defaultEngine(backend: string | undefined): Engine {
  return backend === "tensorflow" ? "graph" : "eager";
}

/** The guards of a graph replay (see the top of this file). */
export const REPLAY: Readonly<{
  tolerance: number;
  checkRuns: number;
  fetchSqrtDivisors: boolean;
  fetchBnBeforeRelu: boolean;
}> = Object.freeze({
  /** Largest relative difference a graph may have from its eager call: 0 = bit for bit. */
  tolerance: 0,
  /** Times the graph is run and compared with eager before it is trusted. */
  checkRuns: 2,
  /** Fetch (and so keep unrewritten) every Sqrt that a RealDiv or Div divides by. */
  fetchSqrtDivisors: true,
  /** Fetch every FusedBatchNormV3 output that a Relu takes (no BN+ReLU fusion). */
  fetchBnBeforeRelu: true,
});

/** The oneDNN replacements lib/models/ops.ts can use, each switchable on its own. */
export type MklFeature = "bnRelu" | "maxPool" | "paddedConv" | "foldEvalBn";

/** State of the oneDNN switches (read by lib/models/ops.ts). */
export const oneDnn = {
  /** Whether the oneDNN kernels may be used at all (when libtensorflow has them). */
  allowed: true,
  features: { bnRelu: true, maxPool: true, paddedConv: true, foldEvalBn: true } as Record<
    MklFeature,
    boolean
  >,
};

/**
 * Allow (default) or forbid the oneDNN kernels on tfjs-node; for tests and benchmarks, which
 * compare both paths. Returns the old value.
 */
export function setMklOps(on: boolean): boolean {
  const old = oneDnn.allowed;
  oneDnn.allowed = on;
  return old;
}

/** Switch one oneDNN replacement on or off (all are on by default); returns the old value. */
export function setMklFeature(name: MklFeature, on: boolean): boolean {
  const old = oneDnn.features[name];
  oneDnn.features[name] = on;
  return old;
}

/**
 * oneDNN workaround (lib/models/layers.ts conv): below this many input channels a strided 1x1
 * conv runs as subsample + 1x1 conv at stride 1 (the same sums). Why: libtensorflow 2.21's oneDNN kernels get its weight gradient wrong or crash for
 * small channel counts. On an AVX2-only AMD EPYC (measured over 1920 shapes) the gradient was off
 * by up to 100% with 1-4 input channels at stride 2. On an AVX-512 (BF16) AMD EPYC the process
 * dies ("double free or corruption", "malloc assertion failure") for 1-15 input channels at
 * stride 2 with odd batch sizes (measured: 8 channels, batches 1, 3, 5, 7, 9, ..., 63 at 32x32;
 * 9-15 channels at 16-32 pixels; 16, 24, 32 and 64 channels never). PreActResNet-18's shortcuts
 * at width >= 16 keep the direct conv; at width 8 they take the subsample route.
 */
export const STRIDED_1X1_DIRECT_MIN_CHANNELS = 16;

/** The convolution precisions (lib/backend/bf16_convs.ts switches the kernels). */
export type ConvPrecision = "fp32" | "bf16";
export const CONV_PRECISIONS: readonly ConvPrecision[] = ["fp32", "bf16"];

/**
 * The precision the convolutions run in now: read it with bf16_convs.ts convPrecision(), change it
 * only with setConvPrecision() there (it swaps the kernels). "bf16" is not bit-identical to fp32:
 * off by default, and rows trained with it say "+bf16-convs".
 */
export const convState: { precision: ConvPrecision } = { precision: "fp32" };
