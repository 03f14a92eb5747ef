/**
 * Dataset cifar10-jpeg (lib/data/cifar10_jpeg.ts): where it is looked for, the published
 * archive's SHA-256, the decoded cache (written, reused, rebuilt when damaged) on tiny generated
 * archives with the cache in a temp folder; and, where the real archive is beside the repository
 * (../shared/data/, here and in CI), its training split's per-channel mean and std against the
 * registry's normalisation.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CIFAR10_CLASSES,
  CIFAR10_JPEG_ARCHIVE,
  CIFAR10_JPEG_PLACES,
  cifar10JpegAbsence,
  cifar10JpegSource,
  loadCifar10Jpeg,
} from "../lib/data/cifar10_jpeg.ts";
import { DatasetError, type DatasetSplits } from "../lib/data/dataset.ts";
import { DATASET_SPECS, datasetAbsence, loadDataset } from "../lib/data/registry.ts";
import {
  entriesOf,
  type FixtureImage,
  fixtureImages,
  tarGzBytes,
  writeFiles,
} from "./image_folder_fixture.ts";

const SPEC = {
  classes: CIFAR10_CLASSES,
  files: { train: ["0.png", "1.png"], test: ["0.png"] },
  shape: [4, 4, 3] as const,
};

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "cifar10-jpeg-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return true;
  });
}

/** Every image of the fixture is in the splits, with its class's label (CIFAR-10's order). */
function assertHolds(splits: DatasetSplits, images: readonly FixtureImage[]) {
  assert.deepEqual(splits.classNames, [...CIFAR10_CLASSES]);
  for (const split of ["train", "test"] as const) {
    const ds = splits[split];
    const mine = images.filter((im) => im.split === split);
    assert.equal(ds.name, `cifar10-jpeg/${split}`);
    assert.equal(ds.registryKey, "cifar10-jpeg");
    assert.deepEqual([ds.n, ds.height, ds.width, ds.channels, ds.numClasses], [
      mine.length,
      4,
      4,
      3,
      10,
    ]);
    const size = 48;
    const found = new Set<string>();
    for (let i = 0; i < ds.n; i++) {
      const got = Array.from(
        ds.images.subarray(i * size, (i + 1) * size),
        (v) => Math.round(v * 255),
      );
      const im = mine.find((m) => m.pixels.every((b, j) => b === got[j]));
      assert.ok(im, `image ${i} of ${split} is one of the fixture's`);
      assert.equal(ds.labels[i], CIFAR10_CLASSES.indexOf(im.className as never), im.path);
      found.add(im.path);
    }
    assert.equal(found.size, mine.length, "every image once");
  }
}

function cacheFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("cifar10-jpeg: where it is looked for; absent is one sentence with how to get it", async () => {
  await withTemp(async (dir) => {
    const missing = join(dir, "nothing-here");
    assert.equal(cifar10JpegSource(missing), undefined);
    const absent = cifar10JpegAbsence(missing)!;
    assert.match(
      absent,
      /^CIFAR-10 \(JPEG q75 copy\) not found at .*nothing-here: put cifar10-jpeg\.tar\.gz \(SHA-256 0bfcb687[0-9a-f]+\) in .*data\/cache\/cifar10-jpeg\/ or pass --data-dir PATH .*--dataset cifar10\)\.$/,
    );
    assert.equal(datasetAbsence("cifar10-jpeg", missing), absent);
    await rejectsWith(loadCifar10Jpeg(missing, { cacheDir: join(dir, "cache") }), /not found at/);

    // A folder holding the archive -> the archive; a folder with train/ and test/ (directly or in
    // its one subfolder) -> the folder itself (an image folder); an archive path -> itself.
    const archive = join(dir, CIFAR10_JPEG_ARCHIVE.file);
    assert.equal(cifar10JpegSource(dir), undefined, "an empty folder");
    assert.match(cifar10JpegAbsence(dir)!, /^CIFAR-10 \(JPEG q75 copy\) not found at /);
    await Deno.mkdir(join(dir, "copy", "train"), { recursive: true });
    assert.equal(cifar10JpegSource(dir), undefined, "train/ without test/");
    await Deno.mkdir(join(dir, "copy", "test"));
    assert.equal(cifar10JpegSource(dir), dir, "one folder around the splits");
    assert.equal(cifar10JpegSource(join(dir, "copy")), join(dir, "copy"));
    await Deno.writeFile(archive, new Uint8Array(1));
    assert.equal(cifar10JpegSource(dir), archive);
    assert.equal(cifar10JpegSource(archive), archive);
    assert.equal(cifar10JpegAbsence(dir), null);
    // Without a path: beside the repository first, then the project's cache.
    assert.match(CIFAR10_JPEG_PLACES[0], /\/shared\/data\/cifar10-jpeg\.tar\.gz$/);
    assert.match(CIFAR10_JPEG_PLACES[1], /\/data\/cache\/cifar10-jpeg\/cifar10-jpeg\.tar\.gz$/);
  });
});

Deno.test("cifar10-jpeg: an archive under the published name with another size or SHA-256 is refused in one sentence, nothing cached", async () => {
  await withTemp(async (dir) => {
    const cacheDir = join(dir, "cache");
    const archive = join(dir, CIFAR10_JPEG_ARCHIVE.file);
    // A genuine tiny image folder, but not the published archive.
    await Deno.writeFile(archive, tarGzBytes(entriesOf(await fixtureImages(SPEC))));
    await rejectsWith(
      loadCifar10Jpeg(dir, { cacheDir }),
      new RegExp(
        `^${archive} has \\d+ bytes, expected 19432150; put cifar10-jpeg\\.tar\\.gz \\(SHA-256 ${CIFAR10_JPEG_ARCHIVE.sha256}\\) in .* or pass --data-dir PATH .*\\.$`,
      ),
    );
    // The published size, other bytes.
    await Deno.writeFile(archive, new Uint8Array(CIFAR10_JPEG_ARCHIVE.bytes));
    await rejectsWith(
      loadCifar10Jpeg(archive, { cacheDir }),
      new RegExp(
        `^${archive} has SHA-256 [0-9a-f]{64}, expected ${CIFAR10_JPEG_ARCHIVE.sha256}; put cifar10-jpeg\\.tar\\.gz`,
      ),
    );
    assert.deepEqual(cacheFiles(cacheDir), []);
  });
});

Deno.test("cifar10-jpeg: a user's archive is decoded once and cached; the cache is reused, and rebuilt when damaged", async () => {
  const images = await fixtureImages(SPEC);
  await withTemp(async (dir) => {
    const cacheDir = join(dir, "cache");
    const archive = join(dir, "my-copy.tar.gz"); // not the published name: used as it is
    await Deno.writeFile(archive, tarGzBytes(entriesOf(images, "cifar10")));
    const first = await loadCifar10Jpeg(archive, { cacheDir });
    assertHolds(first, images);
    const [cached] = cacheFiles(cacheDir);
    assert.match(cached, /^decoded-.*[0-9a-f]{16}\.bin$/);
    const cachePath = join(cacheDir, cached);
    const written = await Deno.readFile(cachePath);
    const inode = Deno.statSync(cachePath).ino;

    // Reused: read, not rewritten (a rewrite is an atomic rename: a new inode).
    assert.deepEqual(await loadCifar10Jpeg(archive, { cacheDir }), first);
    assert.equal(Deno.statSync(cachePath).ino, inode);
    assert.deepEqual(cacheFiles(cacheDir), [cached]);

    // Damaged in three ways: each time the images are decoded again and the cache rewritten whole.
    const damages: [string, (b: Uint8Array) => Uint8Array][] = [
      ["a flipped payload byte", (b) => {
        const c = b.slice();
        c[c.length - 10] ^= 0x55;
        return c;
      }],
      ["cut short", (b) => b.slice(0, b.length - 100)],
      ["not a cache at all", () => new TextEncoder().encode("garbage\n{}\n")],
    ];
    for (const [what, damage] of damages) {
      await Deno.writeFile(cachePath, damage(written));
      const before = Deno.statSync(cachePath).ino;
      assert.deepEqual(await loadCifar10Jpeg(archive, { cacheDir }), first, what);
      assert.notEqual(Deno.statSync(cachePath).ino, before, `${what}: rewritten`);
      assert.deepEqual(await Deno.readFile(cachePath), written, `${what}: whole again`);
    }
    // A folder holding the archive under another name is an image folder of its own: the archive
    // is not looked into, and nothing is cached for a folder.
    const folder = await writeFiles(join(dir, "folder"), entriesOf(images));
    const fromFolder = await loadCifar10Jpeg(folder, { cacheDir: join(dir, "cache2") });
    assert.deepEqual(fromFolder, first);
    assert.deepEqual(cacheFiles(join(dir, "cache2")), []);
  });
});

const REAL = cifar10JpegSource();

Deno.test({
  name:
    "cifar10-jpeg (real archive): 50000/10000 32x32x3 images, 5000/1000 per class; the training split's mean and std are the registry's to 1e-5",
  ignore: REAL === undefined,
  fn: async () => {
    const start = performance.now();
    // What the registry loads: the archive, SHA-256 checked, through the project's decoded cache
    // (written on the first load, ~10 s; later loads ~2 s).
    const splits = await loadDataset("cifar10-jpeg");
    console.log(`loaded ${REAL} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    const spec = DATASET_SPECS["cifar10-jpeg"];
    for (const [split, n, perClass] of [["train", 50000, 5000], ["test", 10000, 1000]] as const) {
      const ds = splits[split];
      assert.deepEqual([ds.n, ds.height, ds.width, ds.channels], [n, ...spec.shape]);
      assert.equal(split === "train" ? spec.trainSize : spec.testSize, n);
      const histogram = new Array(10).fill(0);
      for (const l of ds.labels) histogram[l]++;
      assert.deepEqual(histogram, new Array(10).fill(perClass));
    }
    const { images } = splits.train;
    const sum = [0, 0, 0];
    const squares = [0, 0, 0];
    for (let i = 0; i < images.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        const v = images[i + c];
        sum[c] += v;
        squares[c] += v * v;
      }
    }
    const count = images.length / 3;
    const mean = sum.map((s) => s / count);
    const std = squares.map((s, c) => Math.sqrt(s / count - mean[c] ** 2));
    console.log(`mean ${mean.map((m) => m.toFixed(6))}, std ${std.map((s) => s.toFixed(6))}`);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(mean[c] - spec.normalization.mean[c]) <= 1e-5, `mean[${c}] ${mean[c]}`);
      assert.ok(Math.abs(std[c] - spec.normalization.std[c]) <= 1e-5, `std[${c}] ${std[c]}`);
    }
  },
});
