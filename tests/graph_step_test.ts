/**
 * lib/training/graph_step.ts: a training step replayed as one libtensorflow graph gives the eager
 * step's results bit for bit (PreActResNet-18 and the small CNN). It keeps taking new
 * batches and learning rates as inputs. AT's random starts become graph inputs drawn from the
 * step's own Rng. It stays eager where replay is not safe: a step that draws from its Rng in a way
 * the graph cannot repeat, or a graph that fails its check against eager.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type Arch, createModel, type Model } from "../lib/models/model.ts";
import { createSgd, type LearningRate } from "../lib/optim/sgd.ts";
import { at, type Method, sam, ST } from "../lib/training/method.ts";
import { makeTrainStep, type TrainStep } from "../lib/training/train.ts";
import { graphTrainStep } from "../lib/training/graph_step.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend("tensorflow");

/** Input side and channels of each architecture's test data (CIFAR-like, Fashion-MNIST-like). */
const inputOf = (arch: Arch): [number, number] => arch === "prn18" ? [32, 3] : [28, 1];

function build(
  arch: Arch,
  method: Method,
): { model: Model; state: () => tf.Tensor[]; step: TrainStep } {
  const [size, channels] = inputOf(arch);
  const model = createModel({
    arch,
    width: 8,
    inputShape: [size, size, channels],
    numClasses: 10,
    mean: new Array(channels).fill(0.5),
    std: new Array(channels).fill(0.25),
  }, Rng.fromSeed(0));
  const opt = createSgd(model.params);
  const step = makeTrainStep(model, opt, method, "loss-pass", Rng.fromSeed(3));
  // Everything a step changes: weights, BN running statistics, momentum buffers.
  const state = () => [
    ...model.params,
    ...Object.values(opt.exportState(model.params.map((_, i) => String(i)))).map((a) =>
      tf.tensor(a.data, a.shape)
    ),
    ...model.buffers,
  ];
  return { model, state, step };
}

/**
 * Run the eager and the graph step (each `wrap`ped) on the same fresh batches and rates; returns
 * both losses, the largest difference of the final states, and the graph's status.
 */
async function race(
  arch: Arch,
  method: Method,
  batches: number[],
  tolerance?: number,
  wrap: (s: TrainStep) => TrainStep = (s) => s,
) {
  const eager = build(arch, method);
  const other = build(arch, method);
  const graph = graphTrainStep(wrap(other.step), tolerance);
  const eagerStep = wrap(eager.step);
  const rng = Rng.fromSeed(7);
  const [size, channels] = inputOf(arch);
  const losses: [number, number][] = [];
  const live: number[] = [];
  for (const [i, n] of batches.entries()) {
    const x = tf.tensor4d(rng.fillUniform(new Float32Array(n * size * size * channels), 0, 1), [
      n,
      size,
      size,
      channels,
    ]);
    const y = tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(10)), "int32");
    const lr = 0.1 / (1 + i);
    const a = await eagerStep(x, y, lr);
    const b = await graph(x, y, lr);
    losses.push([a.dataSync()[0], b.dataSync()[0]]);
    tf.dispose([a, b, x, y]);
    live.push(tf.memory().numTensors);
  }
  const sa = eager.state(), sb = other.state();
  const diffs = sa.map((t, i) => {
    const u = t.dataSync(), v = sb[i].dataSync();
    let d = 0, scale = 0;
    for (let j = 0; j < u.length; j++) {
      d = Math.max(d, Math.abs(u[j] - v[j]));
      scale = Math.max(scale, Math.abs(u[j]));
    }
    return d === 0 ? 0 : d / scale;
  });
  const status = graph.status();
  graph.dispose();
  // The random starts the graph drew must have left the Rng where eager's draws left it.
  const sameRng = eager.step.rng?.getState().join() === other.step.rng?.getState().join();
  return { losses, worst: Math.max(...diffs), status, live, sameRng };
}

Deno.test("graph step: PreActResNet-18 ST replays bit for bit, with new batches, rates and a ragged batch", async () => {
  const r = await race("prn18", ST, [8, 8, 8, 8, 8, 8, 5]);
  assert.equal(r.worst, 0);
  for (const [a, b] of r.losses) assert.equal(b, a);
  assert.deepEqual(r.status.graphs, ["8x32x32x3/8"]);
  assert.equal(r.status.graphSteps, 3); // calls 4-6; the batch of 5 is its first call: eager
  assert.equal(r.status.worstDifference, 0);
  assert.equal(r.live[5], r.live[4], "graph steps leak tensors"); // steps 5 and 6 are graph steps
});

Deno.test("graph step: PreActResNet-18 SAM replays bit for bit", async () => {
  const r = await race("prn18", sam(0.05), [8, 8, 8, 8, 8]);
  assert.equal(r.worst, 0);
  assert.equal(r.status.graphSteps, 2);
});

Deno.test("graph step: the small CNN (global average pool, max-pools) replays bit for bit", async () => {
  const r = await race("smallcnn", ST, [16, 16, 16, 16, 16, 16], 0);
  assert.deepEqual(r.status.graphs, ["16x28x28x1/16"]); // accepted at tolerance 0
  assert.equal(r.status.graphSteps, 3);
  assert.equal(r.worst, 0);
  for (const [a, b] of r.losses) assert.equal(b, a);
});

Deno.test("graph step: a graph that fails its check against eager stays eager, with eager's results", async () => {
  // The step also stores x / 49, with 49 made by a Cast: libtensorflow's graph optimiser folds the
  // Cast into a constant and computes x * (1/49), which differs from x / 49 in the last bit.
  const probes: tf.Variable[] = [];
  const dividesByAConstant = (s: TrainStep): TrainStep => {
    const probe = tf.variable(tf.zeros([8 * 28 * 28]));
    probes.push(probe);
    return Object.assign(async (x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate) => {
      const loss = await s(x, y, lr);
      tf.tidy(() =>
        probe.assign(tf.div(tf.reshape(x, [-1]), tf.cast(tf.tensor1d([49], "int32"), "float32")))
      );
      return loss;
    }, { rng: s.rng });
  };
  const r = await race("smallcnn", ST, [8, 8, 8, 8, 8], 0, dividesByAConstant);
  assert.deepEqual(r.status.graphs, []);
  assert.match(r.status.eager["8x28x28x1/8"], /differs from the eager step by/);
  assert.ok(r.status.worstDifference > 0);
  assert.equal(r.worst, 0);
  const [a, b] = probes.map((p) => p.dataSync());
  assert.deepEqual(b, a);
  tf.dispose(probes);
});

Deno.test("graph step: PreActResNet-18 L-inf AT replays bit for bit, its random starts fed from the step's Rng", async () => {
  const r = await race("prn18", at("linf", 8 / 255, 2 / 255, 2), [8, 8, 8, 8, 8]);
  assert.deepEqual(r.status.graphs, ["8x32x32x3/8"]);
  assert.equal(r.status.graphSteps, 2);
  assert.equal(r.worst, 0);
  for (const [a, b] of r.losses) assert.equal(b, a);
  assert.ok(r.sameRng, "the graph steps left the Rng in another state than eager");
});

Deno.test("graph step: L2 AT on the small CNN (normal directions and radii fed) replays bit for bit", async () => {
  const r = await race("smallcnn", at("l2", 0.5, 0.125, 2), [8, 8, 8, 8, 8]);
  assert.equal(r.status.graphSteps, 2);
  assert.equal(r.worst, 0);
  assert.ok(r.sameRng);
});

Deno.test("graph step: a step that draws from its Rng other than by fill calls stays eager, with eager's results", async () => {
  const drawsAnInt = (s: TrainStep): TrainStep =>
    Object.assign((x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate) => {
      s.rng!.int(10); // a draw the graph could not repeat
      return s(x, y, lr);
    }, { rng: s.rng });
  const r = await race("smallcnn", ST, [8, 8, 8, 8], undefined, drawsAnInt);
  assert.deepEqual(r.status.graphs, []);
  assert.match(r.status.eager["8x28x28x1/8"], /other than by fillUniform or fillNormal/);
  assert.equal(r.worst, 0);
  assert.ok(r.sameRng);
  // AT whose Rng the graph step is not told of: its random starts are uploads that differ.
  const hidden = (s: TrainStep): TrainStep =>
    Object.assign((x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate) => s(x, y, lr), {
      rng: undefined,
    });
  const at2 = await race(
    "smallcnn",
    at("linf", 8 / 255, 2 / 255, 2),
    [8, 8, 8, 8],
    undefined,
    hidden,
  );
  assert.deepEqual(at2.status.graphs, []);
  assert.match(at2.status.eager["8x28x28x1/8"], /differ between calls/);
  assert.equal(at2.worst, 0);
});

Deno.test("graph step: a negative or non-finite tolerance is refused in one sentence", () => {
  const step = build("smallcnn", ST).step;
  for (const bad of [-1e-5, NaN, Infinity]) {
    assert.throws(() => graphTrainStep(step, bad), /tolerance/);
  }
});
