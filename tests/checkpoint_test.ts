import assert from "node:assert/strict";
import { checkFingerprint, loadCheckpoint, saveCheckpoint } from "../lib/training/checkpoint.ts";

Deno.test("checkpoint: save/load round-trips bit-exactly; damaged files get one sentence", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-ck-" });
  const path = `${dir}/run/checkpoint.samat`;
  try {
    assert.equal(loadCheckpoint(path), null);
    const a = Float32Array.from([1.5, -2.25, Math.PI, 1e-30]);
    const b = Float32Array.from([7]);
    const state = {
      fingerprint: { method: "SAM", rho: 0.05, data: { n: 10 } },
      epoch: 3,
      rng: [1, 2, 3, 4],
      metrics: [{ epoch: 1, trainLoss: 2 }],
      trainSeconds: 12.5,
      tensors: { "param:a": { shape: [2, 2], data: a }, "momentum:b": { shape: [1], data: b } },
    };
    saveCheckpoint(path, state);
    saveCheckpoint(path, { ...state, epoch: 4 }); // overwrite in place
    const back = loadCheckpoint(path)!;
    assert.equal(back.epoch, 4);
    assert.deepEqual(back.rng, [1, 2, 3, 4]);
    assert.deepEqual(back.metrics, state.metrics);
    assert.deepEqual(Array.from(back.tensors["param:a"].data), Array.from(a));
    assert.deepEqual(back.tensors["param:a"].shape, [2, 2]);
    assert.deepEqual(Array.from(back.tensors["momentum:b"].data), [7]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/run`)].map((e) => e.name), ["checkpoint.samat"]);
    // Truncated and foreign files.
    const bytes = Deno.readFileSync(path);
    Deno.writeFileSync(path, bytes.subarray(0, bytes.length - 2));
    assert.throws(
      () => loadCheckpoint(path),
      /^CheckpointError: Checkpoint .* is damaged \(truncated data\); delete it to start the run afresh\.$/,
    );
    Deno.writeTextFileSync(path, "hello world, not a checkpoint");
    assert.throws(() => loadCheckpoint(path), /is damaged \(not a sam-at checkpoint\)/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpoint: a different config is named in the refusal", () => {
  const saved = { method: "SAM", rho: 0.05, data: { n: 10, hash: "ab" } };
  checkFingerprint("ck", saved, { rho: 0.05, method: "SAM", data: { hash: "ab", n: 10 } }); // key order is irrelevant
  assert.throws(
    () => checkFingerprint("ck", saved, { ...saved, rho: 0.1 }),
    /^CheckpointError: Checkpoint ck belongs to a different run \(rho was 0\.05, this run has 0\.1\); use another checkpoint directory or delete it to start afresh\.$/,
  );
  assert.throws(
    () => checkFingerprint("ck", saved, { ...saved, data: { n: 11, hash: "ab" } }),
    /\(data\.n was 10, this run has 11\)/,
  );
  // Nested settings are named by their dotted path, each differing one (up to three) listed.
  const method = { optimizer: { name: "sam", rho: 0.05, adaptive: false }, perturb: null };
  assert.throws(
    () =>
      checkFingerprint("ck", { method, epochs: 10 }, {
        method: { ...method, optimizer: { ...method.optimizer, rho: 0.1 } },
        epochs: 12,
      }),
    /\(epochs was 10, this run has 12; method\.optimizer\.rho was 0\.05, this run has 0\.1\); use another/,
  );
});
