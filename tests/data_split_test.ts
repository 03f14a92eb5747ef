/**
 * subset() picks exactly the images it picked before lib/data/data.ts was split into one file per
 * idea (dataset, fashion_mnist, cifar, checksum, download, subset): the committed results were
 * trained on those images, so a refactor that changed the picks would silently change every
 * subset preset.
 *
 * The fingerprints below are not results. They were obtained by running the same fingerprint
 * functions (idsFingerprint, dataFingerprint) from a scratch script (`bin/deno run -A`) against
 * the code before the split (subset() and mulberry32 in lib/data/data.ts as of commit 85ec5a6),
 * and pasted here; the code after the split printed the same values. Any change to subset() or to its mulberry32 generator that picks other images
 * fails here.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type Dataset,
  FASHION_MNIST_DEFAULT_DIR,
  loadFashionMnist,
  subset,
} from "../lib/data/data.ts";
import { subset as subsetDirect } from "../lib/data/subset.ts";

function sha256(...parts: ArrayBufferView[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  return h.digest("hex");
}

/** 1000 one-pixel images in 10 classes of uneven sizes; image k's pixel is k, so a subset's pixels are its source indices. */
function indexDataset(): Dataset {
  const n = 1000;
  const labels = Int32Array.from({ length: n }, (_, i) => {
    const c = (i * 7 + (i >> 3)) % 10;
    return c < 3 ? 0 : c;
  });
  const images = Float32Array.from({ length: n }, (_, i) => i);
  return { name: "fp", images, labels, n, height: 1, width: 1, channels: 1, numClasses: 10 };
}

/** SHA-256 of the chosen source indices as int32. */
function idsFingerprint(s: Dataset): string {
  return sha256(Int32Array.from(s.images));
}

/** SHA-256 of a subset's pixels (float32) then labels (int32). */
function dataFingerprint(s: Dataset): string {
  return sha256(s.images, s.labels);
}

Deno.test("subset: a fixed seed picks the same source images as before the data.ts split", () => {
  const ds = indexDataset();
  const cases: [n: number, seed: number, sha: string, first: number[]][] = [
    [137, 42, "b0f6fae6fc9db1edd5e5250290a657ca51a438bbbea7cda4a5dc7cbc41a37d69", [9, 21, 22, 54]],
    [500, 0, "e0a4bce7f8b9a8d79583c5725c15487587362a9826e81dde70edc1d357651744", [1, 3, 4, 6]],
    [10, 123456789, "06554fbf879560f4779a182548c7039914f262f44f72dbe1f96bddba63326ac1", [11, 167]],
  ];
  for (const [n, seed, sha, first] of cases) {
    const s = subset(ds, n, seed);
    assert.deepEqual(Array.from(s.images.subarray(0, first.length)), first, `n=${n} seed=${seed}`);
    assert.equal(idsFingerprint(s), sha, `n=${n} seed=${seed}`);
    assert.equal(idsFingerprint(subsetDirect(ds, n, seed)), sha, "the barrel re-exports subset.ts");
  }
});

const realFashion = join(
  Deno.env.get("FASHION_MNIST_DIR") || FASHION_MNIST_DEFAULT_DIR,
  "train-images-idx3-ubyte.gz",
);
let haveRealFashion = false;
try {
  haveRealFashion = Deno.statSync(realFashion).isFile;
} catch { /* absent: the test below is ignored */ }

Deno.test({
  name:
    "subset: the presets' Fashion-MNIST subsets (seed 0) are byte-identical to before the split",
  ignore: !haveRealFashion,
  fn: async () => {
    const { train, test } = await loadFashionMnist();
    // default preset: 2400 train / 1000 test; 5000 train: another preset's size.
    const cases: [Dataset, number, string][] = [
      [train, 2400, "2b8f5874d4c2b72777c5694cd0de0015f631814b9a3852605ada85c08d53ddf3"],
      [test, 1000, "35b5d5988f63c4dfe44287ea5dea7e45c925142f2bb4db18b29ff73feb5c27eb"],
      [train, 5000, "a37a34c3370212ee71a9cb707e2a8af268638accd170498fc6b2e17840c30639"],
    ];
    for (const [ds, n, sha] of cases) {
      assert.equal(dataFingerprint(subset(ds, n, 0)), sha, `${ds.name} n=${n} seed 0`);
    }
  },
});
