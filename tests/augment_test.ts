import assert from "node:assert/strict";
import { AUGMENT_PRESETS, gatherBatch } from "../lib/data/augment.ts";
import { defaultAugmentOf } from "../lib/data/registry.ts";
import { Rng } from "../lib/util/rng.ts";

// One 3x3 single-channel image with pixel values 1..9 (row-major), and a second one.
const data = {
  images: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19]),
  height: 3,
  width: 3,
  channels: 1,
};

Deno.test("augment: 'none' gathers the examples in the given order, drawing nothing", () => {
  const r = Rng.fromSeed(1);
  const state = r.getState();
  const out = gatherBatch(data, [1, 0], 0, 2, AUGMENT_PRESETS.none, r);
  assert.deepEqual(Array.from(out), [
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ]);
  assert.deepEqual(r.getState(), state);
});

Deno.test("augment: every crop/flip is a shifted, possibly mirrored copy with reflect or zero padding", () => {
  const seen = new Set<string>();
  const r = Rng.fromSeed(2);
  for (let t = 0; t < 400; t++) {
    const out = Array.from(
      gatherBatch(data, [0], 0, 1, { pad: 1, padMode: "reflect", flip: true }, r),
    );
    seen.add(out.join(","));
    // Reflect padding never invents values: all come from the image.
    assert.ok(out.every((v) => v >= 1 && v <= 9));
  }
  // Rows: 3 shifts. Columns: 3 shifts x 2 flips, but on a 3-wide image flip+shift(-1) and
  // shift(-1) both read columns [1,0,1] (likewise +1): 4 distinct column maps. 3 x 4 = 12.
  assert.equal(seen.size, 12);
  // The up-left shift with reflection: row -1 -> row 1, column -1 -> column 1.
  assert.ok(seen.has("5,4,5,2,1,2,5,4,5"));
  assert.ok(seen.has("3,2,1,6,5,4,9,8,7")); // plain flip
  const z = Rng.fromSeed(3);
  const zeroSeen = new Set<string>();
  for (let t = 0; t < 400; t++) {
    zeroSeen.add(
      gatherBatch(data, [0], 0, 1, { pad: 1, padMode: "zero", flip: false }, z).join(","),
    );
  }
  assert.ok(zeroSeen.has("0,0,0,0,1,2,0,4,5"));
  assert.equal(zeroSeen.size, 9);
});

Deno.test("augment: default presets come from the dataset's registry entry (its registryKey), never its name", () => {
  assert.equal(defaultAugmentOf({ registryKey: "cifar10" }), "cifar");
  assert.equal(defaultAugmentOf({ registryKey: "cifar100" }), "cifar");
  assert.equal(defaultAugmentOf({ registryKey: "fashion-mnist" }), "fashion");
  assert.equal(defaultAugmentOf({}), "none");
  // A registry-like name without the key is unregistered data: nothing parses names.
  const named = { name: "cifar10/train", registryKey: undefined };
  assert.equal(defaultAugmentOf(named), "none");
  assert.deepEqual(AUGMENT_PRESETS.cifar, { pad: 4, padMode: "reflect", flip: true });
});
