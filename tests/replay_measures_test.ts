/**
 * The mechanism measures on the graph engine (lib/analysis/objective.ts): a model objective's
 * losses, gradients and the Hessian-vector products built from them are the eager engine's bit for
 * bit (small CNN and PreActResNet-18, train and eval mode), and the graphs were used.
 */
import { noiseDataset } from "./toy_data.ts";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type Arch, createModel } from "../lib/models/model.ts";
import { batchesOf, modelObjective } from "../lib/analysis/objective.ts";
import { hessianVectorProduct, lanczos } from "../lib/analysis/hessian.ts";
import { randomNormal } from "../lib/analysis/param_vector.ts";
import { lossAlongDirection } from "../lib/analysis/input_gradients.ts";
import { Rng } from "../lib/util/rng.ts";
import type { Mode } from "../lib/models/model.ts";

await initBackend("tensorflow");

for (
  const [arch, mode] of [["smallcnn", "train"], ["smallcnn", "eval"], ["prn18", "train"]] as const
) {
  Deno.test(`measures on the graph engine: ${arch} ${mode} losses, gradients and Hessian-vector products are eager's bit for bit`, () => {
    const [size, channels] = arch === "prn18" ? [32, 3] : [28, 1];
    const model = createModel({
      arch: arch as Arch,
      width: 8,
      inputShape: [size, size, channels],
      numClasses: 10,
      mean: new Array(channels).fill(0.5),
      std: new Array(channels).fill(0.25),
    }, Rng.fromSeed(0));
    const rng = Rng.fromSeed(4);
    const n = 16;
    const data = {
      name: "synthetic",
      images: rng.fillUniform(new Float32Array(n * size * size * channels), 0, 1),
      labels: Int32Array.from({ length: n }, () => rng.int(10)),
      n,
      height: size,
      width: size,
      channels,
      numClasses: 10,
    };
    const run = (engine: "eager" | "graph") => {
      const obj = modelObjective(model, batchesOf(data, n, 8), mode as Mode, engine);
      try {
        const out: number[][] = [];
        for (let k = 0; k < 4; k++) {
          const { loss, grads } = obj.lossAndGrad();
          out.push([loss, obj.loss(), obj.loss(1)], ...grads.map((g) => Array.from(g.dataSync())));
          tf.dispose(grads);
        }
        const v = randomNormal(model.params, Rng.fromSeed(9));
        const hv = hessianVectorProduct(obj, v, 0.03);
        out.push(...hv.map((t) => Array.from(t.dataSync())));
        tf.dispose([...v, ...hv]);
        const l = lanczos(obj, { maxIter: 3, rng: 1, fdStep: 0.03 });
        out.push([l.lambdaMax, l.lambdaMin]);
        return { out, graphCalls: obj.graphCalls(), eagerReasons: obj.eagerReasons() };
      } finally {
        obj.dispose();
      }
    };
    try {
      const eager = run("eager");
      const graph = run("graph");
      assert.equal(eager.graphCalls, 0);
      assert.deepEqual(graph.eagerReasons, []);
      // Loss: 12 calls of one shape, gradient: 24 (4 + 4 by the HVP, 12 by 3 Lanczos steps,
      // 4 by 4 lossAndGrad); each shape's first three run eager.
      assert.ok(graph.graphCalls >= 9 + 21 - 3, `only ${graph.graphCalls} graph calls`);
      assert.deepEqual(graph.out, eager.out);
    } finally {
      model.dispose();
    }
  });
}

Deno.test("measures on the graph engine: the loss along the PGD direction is eager's bit for bit", () => {
  const model = createModel({
    arch: "smallcnn",
    width: 8,
    inputShape: [28, 28, 1],
    numClasses: 10,
    mean: [0.5],
    std: [0.25],
  }, Rng.fromSeed(0));
  const n = 24;
  const data = noiseDataset(n, 6);
  const batches = batchesOf(data, n, 8);
  try {
    const eager = lossAlongDirection(model, batches, { engine: "eager" });
    const graph = lossAlongDirection(model, batches, { engine: "graph" });
    assert.deepEqual(graph, eager);
  } finally {
    tf.dispose(batches.flatMap((b) => [b.x, b.y]));
    model.dispose();
  }
});
