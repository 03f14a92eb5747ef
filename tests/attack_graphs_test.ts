/**
 * The graph engine for attacks (lib/attacks/attack_graphs.ts): an attack whose iterations are
 * replayed as libtensorflow graphs gives the eager attack's adversarial examples bit for bit (the
 * small CNN and PreActResNet-18, L-inf and L2), over several batches; an iteration whose graph
 * fails its check stays eager with eager's results; evaluate() says which engine ran.
 */
import { noiseDataset } from "./toy_data.ts";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { AttackGraphs } from "../lib/attacks/attack_graphs.ts";
import type { AttackSpec, AttackTarget } from "../lib/attacks/attack.ts";
import { resolveAttack, runAttack } from "../lib/attacks/registry.ts";
import { type Arch, type Classifier, createModel, type Model } from "../lib/models/model.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend("tensorflow");

const inputOf = (arch: Arch): [number, number] => arch === "prn18" ? [32, 3] : [28, 1];

function build(arch: Arch): Model {
  const [size, channels] = inputOf(arch);
  return createModel({
    arch,
    width: 8,
    inputShape: [size, size, channels],
    numClasses: 10,
    mean: new Array(channels).fill(0.5),
    std: new Array(channels).fill(0.25),
  }, Rng.fromSeed(0));
}

function batches(arch: Arch, sizes: number[]): { x: tf.Tensor4D; y: tf.Tensor1D }[] {
  const [size, channels] = inputOf(arch);
  const rng = Rng.fromSeed(11);
  return sizes.map((n) => ({
    x: tf.tensor4d(rng.fillUniform(new Float32Array(n * size * size * channels), 0, 1), [
      n,
      size,
      size,
      channels,
    ]),
    y: tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(10)), "int32"),
  }));
}

/**
 * The attack on every batch, eager and through one AttackGraphs (each side with its own Rng of the
 * same seed); returns the largest difference between the two engines' examples and the status.
 */
async function race(model: Classifier, arch: Arch, spec: AttackSpec, sizes: number[]) {
  const r = resolveAttack(spec);
  const graphs = new AttackGraphs();
  const eagerT: AttackTarget = { model, mode: "eval", rng: Rng.fromSeed(5) };
  const graphT: AttackTarget = { model, mode: "eval", rng: Rng.fromSeed(5), graphs };
  let worst = 0;
  let moved = 0;
  const live: number[] = [];
  for (const { x, y } of batches(arch, sizes)) {
    const a = await runAttack(r, eagerT, x, y);
    const b = await runAttack(r, graphT, x, y);
    const [u, v, x0] = [a.dataSync(), b.dataSync(), x.dataSync()];
    for (let i = 0; i < u.length; i++) {
      worst = Math.max(worst, Math.abs(u[i] - v[i]));
      if (u[i] !== x0[i]) moved++;
    }
    tf.dispose([a, b, x, y]);
    live.push(tf.memory().numTensors);
  }
  const status = graphs.status();
  graphs.dispose();
  const sameRng = eagerT.rng.getState().join() === graphT.rng.getState().join();
  return { worst, status, moved, live, sameRng };
}

for (const arch of ["smallcnn", "prn18"] as const) {
  for (const norm of ["linf", "l2"] as const) {
    Deno.test(`attack graphs: PGD-10 ${norm} on ${arch} replays bit for bit`, async () => {
      const model = build(arch);
      try {
        const eps = norm === "linf" ? 8 / 255 : 0.5;
        const r = await race(model, arch, { attack: "pgd", norm, eps }, [8, 8, 8, 6]);
        assert.equal(r.worst, 0);
        assert.ok(r.moved > 0, "the attack moved nothing: the comparison proves nothing");
        assert.ok(r.sameRng);
        assert.deepEqual(r.status.eager, {});
        assert.equal(r.status.graphs.length, 2); // the batch of 8 and the ragged 6
        // Batch shape 8: iterations 1-3 eager (warm, two records), 4-30 graph; shape 6: 4-10.
        assert.equal(r.status.graphCalls, 27 + 7);
        // Between batches 2 and 3 (graph iterations only) only that batch's x and y go.
        assert.equal(r.live[2] - r.live[1], -2, "graph iterations leak tensors");
      } finally {
        model.dispose();
      }
    });
  }
}

for (
  const [arch, attack, norm] of [
    ["smallcnn", "apgd-ce", "linf"],
    ["smallcnn", "apgd-t", "l2"],
    ["smallcnn", "apgd-dlr", "linf"],
    ["prn18", "apgd-ce", "l2"],
  ] as const
) {
  Deno.test(`attack graphs: ${attack} ${norm} on ${arch} (momentum, checkpoints, targets) replays bit for bit`, async () => {
    const model = build(arch);
    try {
      const eps = norm === "linf" ? 8 / 255 : 0.5;
      const options = attack === "apgd-t" ? { steps: 12, nTargetClasses: 2 } : { steps: 12 };
      const r = await race(model, arch, { attack, norm, eps, options }, [8, 8]);
      assert.equal(r.worst, 0);
      assert.ok(r.moved > 0);
      assert.ok(r.sameRng);
      assert.deepEqual(r.status.eager, {});
      assert.ok(r.status.graphCalls > 0);
    } finally {
      model.dispose();
    }
  });
}

for (const norm of ["linf", "l2"] as const) {
  Deno.test(`attack graphs: Square ${norm} (its queries scored as graphs) gives the eager examples bit for bit`, async () => {
    const model = build("smallcnn");
    try {
      const eps = norm === "linf" ? 8 / 255 : 0.5;
      const spec = { attack: "square", norm, eps, options: { queries: 40 } };
      const r = await race(model, "smallcnn", spec, [8, 8]);
      assert.equal(r.worst, 0);
      assert.ok(r.moved > 0);
      assert.ok(r.sameRng);
      assert.deepEqual(r.status.eager, {});
      assert.ok(r.status.graphCalls > 0);
    } finally {
      model.dispose();
    }
  });
}

Deno.test("attack graphs: FGSM replays bit for bit across batches (one iteration per batch)", async () => {
  const model = build("smallcnn");
  try {
    const r = await race(model, "smallcnn", { attack: "fgsm", norm: "linf", eps: 8 / 255 }, [
      8,
      8,
      8,
      8,
      8,
    ]);
    assert.equal(r.worst, 0);
    assert.equal(r.status.graphCalls, 2); // batches 4 and 5
  } finally {
    model.dispose();
  }
});

Deno.test("attack graphs: an iteration whose graph fails its check stays eager, with eager's examples", async () => {
  // The model divides its input by 49 made by a Cast: libtensorflow's graph optimiser folds the
  // Cast into a constant and computes x * (1/49), which differs from x / 49 in the last bit.
  const inner = build("smallcnn");
  const model: Classifier = {
    forward: (x, mode, moments) =>
      tf.tidy(() => {
        const c = tf.cast(tf.tensor1d([49], "int32"), "float32");
        return inner.forward(tf.mul(tf.div(x, c), c) as tf.Tensor4D, mode, moments);
      }),
  };
  try {
    const r = await race(model, "smallcnn", { attack: "pgd", norm: "l2", eps: 0.5 }, [8, 8]);
    assert.equal(r.worst, 0);
    assert.equal(r.status.graphCalls, 0);
    const reasons = Object.values(r.status.eager);
    assert.equal(reasons.length, 1);
    assert.match(reasons[0], /differs from the eager step by/);
  } finally {
    inner.dispose();
  }
});

Deno.test("evaluate: the graph engine gives the eager engine's flags and says which engine ran", async () => {
  const model = build("smallcnn");
  const n = 20;
  const data = noiseDataset(n, 2);
  const evals: AttackSpec[] = [
    { attack: "pgd", norm: "linf", eps: 8 / 255 },
    { attack: "pgd", norm: "l2", eps: 0.5 },
    { attack: "fgsm", norm: "linf", eps: 8 / 255 },
    {
      attack: "autoattack",
      norm: "l2",
      eps: 0.5,
      options: {
        "apgd-ce": { steps: 10 },
        "apgd-t": { steps: 10, nTargetClasses: 2 },
        square: { queries: 30 },
      },
    },
  ];
  try {
    const o = { evals, batchSize: 4, progress: "none" as const };
    const eager = await evaluate(model, data, { ...o, engine: "eager" });
    const graph = await evaluate(model, data, o); // the default on tensorflow: graph
    for (const key of Object.keys(eager.evals)) {
      assert.deepEqual(graph.evals[key].robust, eager.evals[key].robust, key);
      assert.deepEqual(graph.evals[key].stages, eager.evals[key].stages, key);
      assert.equal(eager.evals[key].engine, "eager");
      assert.equal(eager.evals[key].graphSteps, 0);
      assert.equal(graph.evals[key].engine, "graph");
    }
    assert.ok(graph.evals.pgd10_linf_8_255.graphSteps! > 0);
    assert.ok(graph.evals.fgsm_linf_8_255.graphSteps! > 0);
  } finally {
    model.dispose();
  }
});

Deno.test("evaluate: attackGraphs kept across calls: the second call runs every iteration as a graph, same flags", async () => {
  const model = build("smallcnn");
  const n = 8;
  const data = noiseDataset(n, 3);
  const graphs = new AttackGraphs();
  try {
    const o = {
      evals: [{ attack: "pgd", norm: "linf" as const, eps: 8 / 255 }],
      progress: "none" as const,
      engine: "graph" as const,
      attackGraphs: graphs,
    };
    const first = await evaluate(model, data, o);
    const second = await evaluate(model, data, o);
    const eager = await evaluate(model, data, { ...o, engine: "eager", attackGraphs: undefined });
    assert.equal(first.evals.pgd10_linf_8_255.graphSteps, 7);
    assert.equal(second.evals.pgd10_linf_8_255.graphSteps, 10);
    assert.deepEqual(second.evals.pgd10_linf_8_255.robust, eager.evals.pgd10_linf_8_255.robust);
    assert.deepEqual(first.evals.pgd10_linf_8_255.robust, eager.evals.pgd10_linf_8_255.robust);
  } finally {
    graphs.dispose();
    model.dispose();
  }
});
