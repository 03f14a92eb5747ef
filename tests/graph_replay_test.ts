/**
 * lib/backend/graph_replay.ts on small functions: the phases (warm-up calls, two records, graph),
 * a result that is an input unchanged, two inputs that are one tensor, variables written, the
 * synchronous front, and the rule that a replayed function computes from its inputs only.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { replayable, replayableSync } from "../lib/backend/graph_replay.ts";

await initBackend("tensorflow");

const values = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

Deno.test("replay: warmCalls plain calls, two records, then the graph; results equal eager's", async () => {
  const f = ([a, b]: readonly tf.Tensor[]) => [tf.tidy(() => tf.div(tf.add(a, b), tf.sqrt(b)))];
  const r = replayable(f, { warmCalls: 3 });
  try {
    for (let k = 0; k < 7; k++) {
      const a = tf.tensor1d([1 + k, 2, 3]), b = tf.tensor1d([4, 5 + k, 6]);
      const got = await r([a, b]);
      const want = f([a, b]);
      assert.deepEqual(values(got), values(want));
      tf.dispose([a, b, ...got, ...want]);
    }
    const s = r.status();
    assert.equal(s.graphCalls, 2); // calls 1-3 plain, 4-5 recorded, 6-7 graph
    assert.deepEqual(s.eager, {});
    assert.equal(s.worstDifference, 0);
  } finally {
    r.dispose();
  }
  assert.throws(() => replayable(f, { warmCalls: 0 }), /warmCalls/);
});

Deno.test("replay: a result that is an input unchanged, and variables written, replay; one tensor fed twice runs plain", async () => {
  const v = tf.variable(tf.zeros([3]));
  const f = ([a, b]: readonly tf.Tensor[]) => {
    tf.tidy(() => v.assign(tf.add(v, a)));
    return [b, tf.mul(a, b)];
  };
  const r = replayable(f);
  try {
    for (let k = 0; k < 6; k++) {
      const a = tf.tensor1d([k, 1, 2]), b = tf.tensor1d([3, 4, k]);
      const [same, prod] = await r([a, b]);
      assert.deepEqual(Array.from(same.dataSync()), Array.from(b.dataSync()));
      assert.deepEqual(Array.from(prod.dataSync()), [3 * k, 4, 2 * k]);
      tf.dispose([a, b, same, prod]);
    }
    assert.equal(r.status().graphCalls, 3); // call 1 plain, 2-3 recorded, 4-6 graph
    assert.deepEqual(Array.from(v.dataSync()), [15, 6, 12]); // every call's write, graph or not
    // One tensor as both inputs: a compiled key feeds it twice; a key being recorded runs plain.
    const c = tf.tensor1d([1, 1, 1]);
    const out = await r([c, c]);
    assert.equal(r.status().graphCalls, 4);
    tf.dispose([c, ...out]);
    // A key not compiled yet: calls with one tensor twice run plain and do not count as records.
    const r2 = replayable(([p, q]) => [tf.mul(p, q)]);
    const d = tf.tensor1d([2, 3]), e = tf.tensor1d([4, 5]);
    for (const pair of [[d, e], [d, d], [d, d], [d, e], [d, e], [d, d]]) {
      const [m] = await r2(pair);
      assert.deepEqual(Array.from(m.dataSync()), pair[1] === d ? [4, 9] : [8, 15]);
      m.dispose();
    }
    assert.equal(r2.status().graphCalls, 1); // call 1 warm, 2-3 plain, 4-5 records, 6 graph
    r2.dispose();
    tf.dispose([d, e]);
  } finally {
    r.dispose();
    v.dispose();
  }
});

Deno.test("replay: the synchronous front gives eager's results and compiles", () => {
  const w = tf.variable(tf.tensor1d([0.5, -1, 2]));
  const f = ([x]: readonly tf.Tensor[]) => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.mul(w, x))), [w]);
    return [value, grads[w.name]];
  };
  const r = replayableSync(f);
  try {
    for (let k = 0; k < 5; k++) {
      const x = tf.tensor1d([k, 1, 3]);
      const got = r([x]);
      const want = f([x]);
      assert.deepEqual(values(got), values(want));
      tf.dispose([x, ...got, ...want]);
    }
    assert.equal(r.status().graphCalls, 2);
  } finally {
    r.dispose();
    w.dispose();
  }
});

Deno.test("rule: a replayed function computes from its inputs only; a tensor it captures is frozen once compiled", async () => {
  // A per-batch tensor captured by the closure (say a box bound) that is the same in the recorded
  // calls passes the check, and the graph then keeps its value when it changes: so everything
  // that changes between calls must be an input (lib/backend/speed_settings.ts).
  let captured = tf.tidy(() => tf.add(tf.tensor1d([1, 1]), 0)); // native, made by an op
  const f = ([a]: readonly tf.Tensor[]) => [tf.add(a, captured)];
  const r = replayable(f);
  try {
    const seen: number[] = [];
    for (let k = 0; k < 5; k++) {
      if (k === 3) {
        captured.dispose();
        captured = tf.tidy(() => tf.add(tf.tensor1d([5, 5]), 0)); // "the next batch"
      }
      const a = tf.tensor1d([10, 10]);
      const [out] = await r([a]);
      seen.push(out.dataSync()[0]);
      tf.dispose([a, out]);
    }
    assert.deepEqual(seen, [11, 11, 11, 11, 11]); // eager would give 15 for the last two
    assert.equal(r.status().graphCalls, 2);
  } finally {
    r.dispose();
    captured.dispose();
  }
});

Deno.test("replay: a tensor captured afresh each call (an upload that differs) keeps the key eager", async () => {
  let captured = tf.tensor1d([0, 0]);
  const f = ([a]: readonly tf.Tensor[]) => [tf.add(a, captured)];
  const r = replayable(f);
  try {
    const seen: number[] = [];
    for (let k = 0; k < 5; k++) {
      captured.dispose();
      captured = tf.tensor1d([k, k]); // host data, uploaded during the call
      const a = tf.tensor1d([10, 10]);
      const [out] = await r([a]);
      seen.push(out.dataSync()[0]);
      tf.dispose([a, out]);
    }
    assert.deepEqual(seen, [10, 11, 12, 13, 14]);
    assert.equal(r.status().graphCalls, 0);
    assert.match(Object.values(r.status().eager)[0], /differ between calls/);
  } finally {
    r.dispose();
    captured.dispose();
  }
});
