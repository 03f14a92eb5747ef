import assert from "node:assert/strict";
import { Rng } from "../lib/util/rng.ts";

Deno.test("rng: same seed, same stream; state round-trips exactly", () => {
  const a = Rng.fromSeed(42);
  const b = Rng.fromSeed(42);
  const xs = Array.from({ length: 5 }, () => a.uint32());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.uint32()));
  const saved = a.getState();
  const next = Array.from({ length: 5 }, () => a.float());
  const c = Rng.fromState(saved);
  assert.deepEqual(Array.from({ length: 5 }, () => c.float()), next);
  assert.notDeepEqual(Rng.fromSeed(43).getState(), Rng.fromSeed(42).getState());
});

Deno.test("rng: permutation, uniform and normal draws have the right shape and range", () => {
  const r = Rng.fromSeed(1);
  const p = r.permutation(1000);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  const u = r.fillUniform(new Float32Array(10000), -0.5, 0.5);
  assert.ok(u.every((v) => v >= -0.5 && v <= 0.5));
  const n = r.fillNormal(new Float32Array(20001));
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean} sd ${sd}`);
});

Deno.test("rng: bad seeds and states are rejected with one sentence", () => {
  assert.throws(() => Rng.fromSeed(-1), /Invalid option seed: got -1, expected an integer/);
  assert.throws(() => Rng.fromSeed(1.5), /Invalid option seed: got 1.5/);
  assert.throws(() => Rng.fromState([1, 2, 3]), /Invalid RNG state/);
});
