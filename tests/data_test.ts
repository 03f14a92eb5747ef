/**
 * Dataset loaders: every file format is built here, small, in a temp dir (valid and broken), so the
 * suite needs no network and runs in a few seconds. One test reads the real Fashion-MNIST when the
 * Debian package is installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  type ArchiveChecksum,
  checksums,
  CIFAR_ARCHIVES,
  type Dataset,
  DatasetError,
  DATASETS,
  defaultCifarDir,
  downloadCifar,
  FASHION_MNIST_DEFAULT_DIR,
  loadCifar10,
  loadCifar100,
  loadFashionMnist,
  subset,
  verifyChecksum,
} from "../lib/data/data.ts";
import { DATASET_NAMES, loadDataset } from "../lib/data/registry.ts";
import { readTar, TarError } from "../lib/data/tar.ts";
import { concat, u32be } from "./idx_bytes.ts";
import { tarArchive, tarEntry } from "./tar_bytes.ts";
import {
  checksumOf,
  cifar100Files,
  cifar10Files,
  cifar10Tar,
  cifarPixel,
  cifarRecords,
} from "./cifar_bytes.ts";

// ---------------------------------------------------------------------------------------------
// Builders for each format

/** gzip as a plain Uint8Array (node's Buffer is not deep-equal to one). */
const gzip = (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes));

/** Pixel j of image k in the IDX fixtures: distinct per image, covers 0 and 255. */
const idxPixel = (k: number, j: number) => (j === 0 ? 0 : j === 1 ? 255 : (j * 7 + k * 13) % 256);

function idxImages(n: number, rows = 28, cols = 28, magic = 2051): Uint8Array {
  const pixels = new Uint8Array(n * rows * cols);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < rows * cols; j++) pixels[k * rows * cols + j] = idxPixel(k, j);
  }
  return concat(u32be(magic, n, rows, cols), pixels);
}

function idxLabels(labels: number[], magic = 2049): Uint8Array {
  return concat(u32be(magic, labels.length), Uint8Array.from(labels));
}

const TRAIN_LABELS = [0, 9, 3, 3, 5];
const TEST_LABELS = [1, 2];

/** A Fashion-MNIST directory; `overrides` replaces a file's (uncompressed) bytes, or deletes it with null. */
async function fashionDir(
  overrides: Record<string, Uint8Array | null> = {},
  compressed = true,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fmnist-" });
  const files: Record<string, Uint8Array | null> = {
    "train-images-idx3-ubyte": idxImages(TRAIN_LABELS.length),
    "train-labels-idx1-ubyte": idxLabels(TRAIN_LABELS),
    "t10k-images-idx3-ubyte": idxImages(TEST_LABELS.length),
    "t10k-labels-idx1-ubyte": idxLabels(TEST_LABELS),
    ...overrides,
  };
  for (const [name, bytes] of Object.entries(files)) {
    if (bytes === null) continue;
    if (compressed) await Deno.writeFile(join(dir, `${name}.gz`), gzip(bytes));
    else await Deno.writeFile(join(dir, name), bytes);
  }
  return dir;
}

async function writeFolder(root: string, folder: string, files: Record<string, Uint8Array | null>) {
  await Deno.mkdir(join(root, folder), { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    if (bytes) await Deno.writeFile(join(root, folder, name), bytes);
  }
}

/** Assert the promise rejects with a DatasetError whose message names `file` and matches `pattern`. */
async function rejectsNaming(
  promise: Promise<unknown>,
  file: string,
  pattern: RegExp,
): Promise<DatasetError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return err;
  }
  assert.fail(`expected a DatasetError naming ${file}`);
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "data-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const quiet = () => {};

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST (IDX)

Deno.test("IDX: a valid Fashion-MNIST directory round-trips to [0,1] NHWC floats and labels", async () => {
  for (const compressed of [true, false]) {
    const dir = await fashionDir({}, compressed);
    const { train, test, classNames } = await loadFashionMnist(dir);
    assert.equal(classNames.length, 10);
    // The loader seam: names and the registry key every registered loader stamps.
    assert.deepEqual([train.name, train.registryKey, test.name, test.registryKey], [
      "fashion-mnist/train",
      "fashion-mnist",
      "fashion-mnist/test",
      "fashion-mnist",
    ]);
    assert.deepEqual([train.n, train.height, train.width, train.channels, train.numClasses], [
      5,
      28,
      28,
      1,
      10,
    ]);
    assert.equal(train.images.length, 5 * 784);
    assert.deepEqual(Array.from(train.labels), TRAIN_LABELS);
    assert.deepEqual(Array.from(test.labels), TEST_LABELS);
    assert.equal(test.n, 2);
    for (const k of [0, 4]) {
      for (const j of [0, 1, 2, 783]) {
        assert.equal(train.images[k * 784 + j], Math.fround(idxPixel(k, j) / 255));
      }
    }
    assert.equal(train.images[0], 0);
    assert.equal(train.images[1], 1);
    assert.ok(train.images instanceof Float32Array && train.labels instanceof Int32Array);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("IDX: every broken file gives a DatasetError naming the file", async (t) => {
  const cases: [string, Record<string, Uint8Array | null>, string, RegExp][] = [
    [
      "missing file",
      { "t10k-labels-idx1-ubyte": null },
      "t10k-labels-idx1-ubyte.gz",
      /is missing; reinstall/,
    ],
    [
      "bad image magic",
      { "train-images-idx3-ubyte": idxImages(5, 28, 28, 2049) },
      "train-images-idx3-ubyte.gz",
      /magic number 2049, expected 2051/,
    ],
    [
      "bad label magic",
      { "train-labels-idx1-ubyte": idxLabels(TRAIN_LABELS, 2051) },
      "train-labels-idx1-ubyte.gz",
      /magic number 2051, expected 2049/,
    ],
    [
      "wrong dimensions",
      { "train-images-idx3-ubyte": idxImages(5, 27, 28) },
      "train-images-idx3-ubyte.gz",
      /27x28 images, expected 28x28/,
    ],
    [
      "truncated images",
      { "train-images-idx3-ubyte": idxImages(5).subarray(0, 1000) },
      "train-images-idx3-ubyte.gz",
      /truncated: expected 3936 bytes after decompression for 5 images, got 1000/,
    ],
    [
      "trailing bytes",
      { "t10k-images-idx3-ubyte": concat(idxImages(2), new Uint8Array(3)) },
      "t10k-images-idx3-ubyte.gz",
      /too long: expected 1584 bytes .* got 1587/,
    ],
    [
      "header only half there",
      { "t10k-labels-idx1-ubyte": new Uint8Array(5) },
      "t10k-labels-idx1-ubyte.gz",
      /truncated: 5 bytes/,
    ],
    [
      "truncated labels",
      { "train-labels-idx1-ubyte": idxLabels(TRAIN_LABELS).subarray(0, 10) },
      "train-labels-idx1-ubyte.gz",
      /truncated: expected 13 bytes/,
    ],
    [
      "count mismatch",
      { "train-labels-idx1-ubyte": idxLabels([1, 2, 3]) },
      "train-labels-idx1-ubyte.gz",
      /holds 5 images but .* holds 3 labels/,
    ],
    [
      "label out of range",
      { "t10k-labels-idx1-ubyte": idxLabels([1, 10]) },
      "t10k-labels-idx1-ubyte.gz",
      /label 10 at index 1, outside 0\.\.9/,
    ],
  ];
  for (const [what, overrides, file, pattern] of cases) {
    await t.step(what, async () => {
      const dir = await fashionDir(overrides);
      await rejectsNaming(loadFashionMnist(dir), join(dir, file), pattern);
      await Deno.remove(dir, { recursive: true });
    });
  }
  await t.step("not gzip, and gzip cut short", async () => {
    const dir = await fashionDir();
    const path = join(dir, "train-images-idx3-ubyte.gz");
    await Deno.writeFile(path, new TextEncoder().encode("this is not gzip"));
    await rejectsNaming(loadFashionMnist(dir), path, /is not valid gzip data \(.*\); reinstall/);
    await Deno.writeFile(path, gzip(idxImages(5)).subarray(0, 100));
    await rejectsNaming(loadFashionMnist(dir), path, /is not valid gzip data/);
    await Deno.remove(dir, { recursive: true });
  });
});

// ---------------------------------------------------------------------------------------------
// CIFAR binary

function assertCifarPixels(ds: Dataset, k: number, record: number) {
  for (const [y, x] of [[0, 0], [0, 1], [5, 17], [31, 31]]) {
    for (let c = 0; c < 3; c++) {
      const got = ds.images[((k * 32 + y) * 32 + x) * 3 + c];
      assert.equal(
        got,
        Math.fround(cifarPixel(record, c, y * 32 + x) / 255),
        `image ${k} (${y},${x}) channel ${c}`,
      );
    }
  }
}

Deno.test("CIFAR-10: channel-planar records become NHWC, batches concatenate in order", async () => {
  await withTempDir(async (dir) => {
    await writeFolder(dir, "cifar-10-batches-bin", cifar10Files());
    const { train, test, classNames } = await loadCifar10(dir, { officialCounts: false });
    assert.equal(classNames.length, 10);
    assert.equal(classNames[9], "truck");
    assert.deepEqual([train.name, train.registryKey, test.name, test.registryKey], [
      "cifar10/train",
      "cifar10",
      "cifar10/test",
      "cifar10",
    ]);
    assert.deepEqual([train.n, train.height, train.width, train.channels, train.numClasses], [
      5,
      32,
      32,
      3,
      10,
    ]);
    assert.equal(train.images.length, 5 * 3072);
    assert.deepEqual(Array.from(train.labels), [1, 2, 3, 4, 5]);
    assert.deepEqual(Array.from(test.labels), [7, 9]);
    assertCifarPixels(train, 0, 0);
    assertCifarPixels(test, 1, 1);
    // The folder itself also works as `dir`.
    const direct = await loadCifar10(join(dir, "cifar-10-batches-bin"), { officialCounts: false });
    assert.deepEqual(direct.test.images, test.images);
  });
});

Deno.test("CIFAR-100: the fine label (second byte) is used, not the coarse one", async () => {
  await withTempDir(async (dir) => {
    await writeFolder(dir, "cifar-100-binary", cifar100Files());
    const { train, test, classNames } = await loadCifar100(dir, { officialCounts: false });
    assert.equal(classNames.length, 100);
    assert.equal(train.numClasses, 100);
    assert.deepEqual([train.name, test.registryKey], ["cifar100/train", "cifar100"]);
    assert.deepEqual(Array.from(train.labels), [42, 99, 0]);
    assert.deepEqual(Array.from(test.labels), [77]);
    assertCifarPixels(train, 2, 2);
    assertCifarPixels(test, 0, 0);
  });
});

Deno.test("CIFAR: every broken file gives a DatasetError naming the file", async (t) => {
  const c10 = "cifar-10-batches-bin";
  const c100 = "cifar-100-binary";
  const cases: [
    string,
    "cifar10" | "cifar100",
    Record<string, Uint8Array | null>,
    string,
    RegExp,
    boolean?,
  ][] = [
    [
      "missing batch",
      "cifar10",
      { "data_batch_3.bin": null },
      `${c10}/data_batch_3.bin`,
      /is missing; delete .* and re-extract/,
    ],
    [
      "missing names",
      "cifar10",
      { "batches.meta.txt": null },
      `${c10}/batches.meta.txt`,
      /is missing/,
    ],
    [
      "wrong number of names",
      "cifar10",
      { "batches.meta.txt": new TextEncoder().encode("cat\ndog\n") },
      `${c10}/batches.meta.txt`,
      /lists 2 class names, expected 10/,
    ],
    [
      "truncated record",
      "cifar10",
      { "data_batch_2.bin": cifarRecords([[1], [2]]).subarray(0, 5000) },
      `${c10}/data_batch_2.bin`,
      /5000 bytes is not a whole number of 3073-byte records/,
    ],
    [
      "trailing bytes",
      "cifar10",
      { "test_batch.bin": concat(cifarRecords([[1]]), new Uint8Array(1)) },
      `${c10}/test_batch.bin`,
      /3074 bytes is not a whole number/,
    ],
    [
      "empty file",
      "cifar10",
      { "test_batch.bin": new Uint8Array(0) },
      `${c10}/test_batch.bin`,
      /0 bytes is not a whole number/,
    ],
    [
      "label out of range",
      "cifar10",
      { "data_batch_5.bin": cifarRecords([[1], [10]]) },
      `${c10}/data_batch_5.bin`,
      /label 10 in record 1, outside 0\.\.9/,
    ],
    [
      "fine label out of range",
      "cifar100",
      { "test.bin": cifarRecords([[1, 100]]) },
      `${c100}/test.bin`,
      /label 100 in record 0, outside 0\.\.99/,
    ],
    [
      "coarse label out of range",
      "cifar100",
      { "train.bin": cifarRecords([[20, 5]]) },
      `${c100}/train.bin`,
      /coarse label 20 in record 0, outside 0\.\.19/,
    ],
    [
      "short of the official count",
      "cifar10",
      {},
      `${c10}/data_batch_1.bin`,
      /holds 1 records, expected 10000 \(30730000 bytes\)/,
      true,
    ],
  ];
  for (const [what, name, overrides, file, pattern, officialCounts] of cases) {
    await t.step(what, async () => {
      await withTempDir(async (dir) => {
        const folder = name === "cifar10" ? c10 : c100;
        await writeFolder(dir, folder, {
          ...(name === "cifar10" ? cifar10Files() : cifar100Files()),
          ...overrides,
        });
        const load = name === "cifar10" ? loadCifar10 : loadCifar100;
        await rejectsNaming(
          load(dir, { officialCounts: officialCounts ?? false }),
          join(dir, file),
          pattern,
        );
      });
    });
  }
  await t.step("nothing there: says where to put the archive, the URL and the MD5", async () => {
    await withTempDir(async (dir) => {
      const err = await rejectsNaming(
        loadCifar100(dir),
        join(dir, "cifar-100-binary.tar.gz"),
        /CIFAR-100 not found/,
      );
      assert.match(
        err.message,
        /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-100-binary\.tar\.gz/,
      );
      assert.match(err.message, /03b5dce01913d631647c71ecec9e9cb8/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Archives: tar reader, checksums, extraction

Deno.test("tar: reads ustar files and directories, GNU long names and pax paths; rejects corruption", () => {
  const hello = new TextEncoder().encode("hello");
  const big = Uint8Array.from({ length: 1300 }, (_, i) => i % 251);
  const longName = "d/" + "x".repeat(150) + ".bin";
  /** "<length> key=value\n" where length counts the record's own bytes, digits included. */
  const paxRecord = (key: string, value: string) => {
    const body = new TextEncoder().encode(` ${key}=${value}\n`).length;
    let length = body + 1;
    while (String(length).length + body !== length) length = String(length).length + body;
    return `${length} ${key}=${value}\n`;
  };
  const archive = tarArchive([
    tarEntry("./d/", new Uint8Array(0), "5"),
    tarEntry("./d/hello.txt", hello),
    tarEntry("d/big.bin", big),
    tarEntry("././@LongLink", new TextEncoder().encode(longName + "\0"), "L"),
    tarEntry(longName.slice(0, 99), hello),
    tarEntry("PaxHeader", new TextEncoder().encode(paxRecord("path", "d/ünïcode-name.txt")), "x"),
    tarEntry("ignored", big),
    tarEntry("d/link", new Uint8Array(0), "2"),
  ]);
  const entries = readTar(archive);
  assert.deepEqual(entries.map((e) => [e.name, e.type]), [
    ["d", "directory"],
    ["d/hello.txt", "file"],
    ["d/big.bin", "file"],
    [longName, "file"],
    ["d/ünïcode-name.txt", "file"],
    ["d/link", "other"],
  ]);
  assert.deepEqual(entries[1].data, hello);
  assert.deepEqual(entries[2].data, big);
  assert.deepEqual(entries[4].data, big);

  const corrupt = archive.slice();
  corrupt[512 + 10] ^= 0xff; // inside the second header's name
  assert.throws(
    () => readTar(corrupt),
    (e) => e instanceof TarError && /byte 512 has a bad checksum/.test(e.message),
  );
  const cut = archive.subarray(0, 512 * 5 + 100); // inside big.bin's data
  assert.throws(
    () => readTar(cut),
    (e) => e instanceof TarError && /truncated: it declares 1300 bytes/.test(e.message),
  );
  assert.deepEqual(readTar(new Uint8Array(0)), []);
});

Deno.test("checksums: MD5 and SHA-256 match known vectors; a mismatch names the file", () => {
  const abc = new TextEncoder().encode("abc");
  const sums = checksums(abc);
  assert.equal(sums.md5, "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(sums.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const good = { bytes: 3, md5: sums.md5.toUpperCase(), sha256: sums.sha256 };
  verifyChecksum(abc, good, "/x/abc.tar.gz", "fix it");
  const fails = (expected: ArchiveChecksum, pattern: RegExp) =>
    assert.throws(
      () => verifyChecksum(abc, expected, "/x/abc.tar.gz", "fix it"),
      (e) =>
        e instanceof DatasetError && e.message.includes("/x/abc.tar.gz") && pattern.test(e.message),
    );
  fails({ ...good, bytes: 4 }, /has 3 bytes, expected 4; fix it\./);
  fails(
    { ...good, md5: "0".repeat(32) },
    /has MD5 900150983cd24fb0d6963f7d28e17f72, expected 0{32}; fix it\./,
  );
  fails({ ...good, sha256: "f".repeat(64) }, /has SHA-256 ba78.*, expected f{64}/);
  // Official archive facts, as confirmed against tensorflow/datasets and the CIFAR page.
  assert.equal(CIFAR_ARCHIVES.cifar10.bytes, 170052171);
  assert.equal(CIFAR_ARCHIVES.cifar10.md5, "c32a1d4ab5d03f1284b67883e8d87530");
  assert.equal(CIFAR_ARCHIVES.cifar100.bytes, 168513733);
  assert.equal(CIFAR_ARCHIVES.cifar100.md5, "03b5dce01913d631647c71ecec9e9cb8");
});

Deno.test("CIFAR archive: a verified .tar.gz in the directory is extracted and loaded; a bad one is refused", async (t) => {
  const targz = gzip(cifar10Tar());
  await t.step("valid archive", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeFile(join(dir, "cifar-10-binary.tar.gz"), targz);
      const opts = { officialCounts: false, checksum: checksumOf(targz) };
      const { train, test } = await loadCifar10(dir, opts);
      assert.deepEqual(Array.from(train.labels), [1, 2, 3, 4, 5]);
      assertCifarPixels(test, 1, 1);
      const extracted = [...Deno.readDirSync(join(dir, "cifar-10-batches-bin"))].map((e) => e.name)
        .sort();
      assert.deepEqual(extracted, [
        "batches.meta.txt",
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
      ]);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "cifar-10-batches-bin",
        "cifar-10-binary.tar.gz",
      ]);
      // Loading again reads the extracted folder, even with the archive gone.
      await Deno.remove(join(dir, "cifar-10-binary.tar.gz"));
      assert.deepEqual((await loadCifar10(dir, opts)).train.images, train.images);
    });
  });
  const broken: [string, Uint8Array, RegExp, ArchiveChecksum?][] = [
    [
      "wrong MD5",
      targz,
      /has MD5 [0-9a-f]{32}, expected 0{32}; delete it and download it again from https:/,
      { ...checksumOf(targz), md5: "0".repeat(32) },
    ],
    ["wrong size (official checksum)", targz, /has \d+ bytes, expected 170052171/],
    ["not gzip", new TextEncoder().encode("<html>404</html>"), /is not valid gzip data/],
    [
      "gzip of garbage",
      gzip(new Uint8Array(2000).fill(65)),
      /is not a valid tar archive \(tar header at byte 0 has a bad checksum/,
    ],
    [
      "archive lacks a member",
      gzip(tarArchive([tarEntry("cifar-10-batches-bin/test_batch.bin", cifarRecords([[1]]))])),
      /lacks cifar-10-batches-bin\/batches\.meta\.txt, cifar-10-batches-bin\/data_batch_1\.bin/,
    ],
  ];
  for (const [what, bytes, pattern, checksum] of broken) {
    await t.step(what, async () => {
      await withTempDir(async (dir) => {
        const archive = join(dir, "cifar-10-binary.tar.gz");
        await Deno.writeFile(archive, bytes);
        const opts = {
          officialCounts: false,
          checksum: what.includes("official") ? undefined : checksum ?? checksumOf(bytes),
        };
        await rejectsNaming(loadCifar10(dir, opts), archive, pattern);
        assert.deepEqual(
          [...Deno.readDirSync(dir)].map((e) => e.name),
          ["cifar-10-binary.tar.gz"],
          "nothing extracted",
        );
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Downloader

Deno.test("downloadCifar: verifies size and MD5 before use, deletes bad downloads, explains offline", async (t) => {
  const targz = gzip(cifar10Tar());
  const good = checksumOf(targz);
  const url = "https://example.invalid/cifar-10-binary.tar.gz";
  /** A fetch that serves `body` in 1000-byte chunks and counts its calls. */
  const serving = (body: Uint8Array, status = 200) => {
    const calls: string[] = [];
    const fetch = (u: string) => {
      calls.push(u);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < body.length; i += 1000) controller.enqueue(body.slice(i, i + 1000));
          controller.close();
        },
      });
      return Promise.resolve(new Response(status === 200 ? stream : null, { status }));
    };
    return { fetch, calls };
  };

  await t.step(
    "success: archive kept, extracted, loadable; a second call fetches nothing",
    async () => {
      await withTempDir(async (dir) => {
        const server = serving(targz);
        const folder = await downloadCifar("cifar10", dir, {
          fetch: server.fetch,
          url,
          checksum: good,
          log: quiet,
        });
        assert.equal(folder, join(dir, "cifar-10-batches-bin"));
        assert.deepEqual(server.calls, [url]);
        assert.deepEqual(await Deno.readFile(join(dir, "cifar-10-binary.tar.gz")), targz);
        assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
          "cifar-10-batches-bin",
          "cifar-10-binary.tar.gz",
        ]);
        assert.deepEqual(
          Array.from((await loadCifar10(dir, { officialCounts: false })).train.labels),
          [1, 2, 3, 4, 5],
        );
        assert.equal(
          await downloadCifar("cifar10", dir, {
            fetch: server.fetch,
            url,
            checksum: good,
            log: quiet,
          }),
          folder,
        );
        assert.equal(server.calls.length, 1);
      });
    },
  );

  const failures: [string, Uint8Array, ArchiveChecksum, RegExp][] = [
    [
      "size mismatch (short)",
      targz.subarray(0, targz.length - 10),
      good,
      new RegExp(`has ${targz.length - 10} bytes, expected ${targz.length}, so it was deleted`),
    ],
    [
      "size mismatch (long)",
      concat(targz, new Uint8Array(5000)),
      good,
      new RegExp(`has more than \\d+ bytes, expected ${targz.length}, so it was deleted`),
    ],
    [
      "md5 mismatch",
      targz,
      { ...good, md5: "f".repeat(32) },
      /has MD5 [0-9a-f]{32}, expected f{32}, so it was deleted; retry, or download .* by hand and put it at/,
    ],
    [
      "sha256 mismatch",
      targz,
      { ...good, sha256: "e".repeat(64) },
      /has SHA-256 [0-9a-f]{64}, expected e{64}, so it was deleted/,
    ],
  ];
  for (const [what, body, checksum, pattern] of failures) {
    await t.step(what, async () => {
      await withTempDir(async (dir) => {
        const { fetch } = serving(body);
        await rejectsNaming(
          downloadCifar("cifar10", dir, { fetch, url, checksum, log: quiet }),
          url,
          pattern,
        );
        assert.deepEqual(
          [...Deno.readDirSync(dir)],
          [],
          "no temp file, no archive, nothing extracted",
        );
      });
    });
  }

  await t.step("HTTP error", async () => {
    await withTempDir(async (dir) => {
      const { fetch } = serving(new Uint8Array(0), 404);
      await rejectsNaming(
        downloadCifar("cifar10", dir, { fetch, url, checksum: good, log: quiet }),
        url,
        /\(HTTP 404\); download/,
      );
      assert.deepEqual([...Deno.readDirSync(dir)], []);
    });
  });

  await t.step("network failure: the exact path, the official URL and the MD5", async () => {
    await withTempDir(async (dir) => {
      const fetch = () => Promise.reject(new TypeError("error sending request: dns error"));
      const err = await rejectsNaming(
        downloadCifar("cifar100", dir, { fetch, log: quiet }),
        join(dir, "cifar-100-binary.tar.gz"),
        /Could not download .* \(error sending request: dns error\); download .* by hand and put it at/,
      );
      assert.ok(err.message.includes(CIFAR_ARCHIVES.cifar100.url));
      assert.ok(err.message.includes("03b5dce01913d631647c71ecec9e9cb8"));
    });
  });

  await t.step("real fetch from a loopback server", async () => {
    await withTempDir(async (dir) => {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: quiet },
        () => new Response(targz),
      );
      try {
        const local = `http://127.0.0.1:${server.addr.port}/cifar-10-binary.tar.gz`;
        const folder = await downloadCifar("cifar10", dir, {
          url: local,
          checksum: good,
          log: quiet,
        });
        assert.deepEqual(
          await Deno.readFile(join(folder, "test_batch.bin")),
          cifarRecords([[7], [9]]),
        );
      } finally {
        await server.shutdown();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Subsets, names, defaults

function toyDataset(labels: number[], numClasses: number): Dataset {
  const size = 2 * 2 * 1;
  const images = Float32Array.from(
    { length: labels.length * size },
    (_, i) => Math.floor(i / size) / 1000,
  );
  return {
    name: "toy/train",
    images,
    labels: Int32Array.from(labels),
    n: labels.length,
    height: 2,
    width: 2,
    channels: 1,
    numClasses,
  };
}

Deno.test("subset: class-stratified, seeded, deterministic, images follow their labels", () => {
  // 3 classes with 60/30/10 images, interleaved.
  const labels = Array.from({ length: 100 }, (_, i) => (i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2));
  const ds = toyDataset(labels, 3);
  const histogram = (d: Dataset) => [0, 1, 2].map((c) => d.labels.filter((l) => l === c).length);

  const a = subset(ds, 20, 7);
  assert.equal(a.n, 20);
  assert.deepEqual(histogram(a), [12, 6, 2]);
  assert.equal(a.images.length, 20 * 4);
  assert.equal(a.name, "toy/train[n=20,seed=7]");
  // A subset keeps the registry key (and so the registry's normalisation and augmentation).
  assert.equal(subset({ ...ds, registryKey: "cifar10" }, 20, 7).registryKey, "cifar10");
  for (let k = 0; k < a.n; k++) {
    const source = Math.round(a.images[k * 4] * 1000); // each toy image stores its own index
    assert.equal(a.labels[k], ds.labels[source]);
    assert.deepEqual(
      a.images.subarray(k * 4, k * 4 + 4),
      ds.images.subarray(source * 4, source * 4 + 4),
    );
  }
  assert.deepEqual(subset(ds, 20, 7), a, "same seed, same subset");
  assert.notDeepEqual(subset(ds, 20, 8).images, a.images, "another seed, another subset");
  assert.deepEqual(
    histogram(subset(ds, 7, 1)),
    [4, 2, 1],
    "largest remainders: 4.2, 2.1, 0.7 -> 4, 2, 1",
  );
  assert.deepEqual(subset(ds, 100, 3).labels, ds.labels, "all of it keeps the original order");
  for (const bad of [101, 0, 2.5]) {
    assert.throws(
      () => subset(ds, bad, 1),
      (e) =>
        e instanceof DatasetError &&
        /toy\/train: n must be a whole number from 1 to 100/.test(e.message),
    );
  }
});

Deno.test("loadDataset: unknown names get one sentence listing the valid ones; known names dispatch", async () => {
  assert.deepEqual(DATASETS, ["fashion-mnist", "cifar10", "cifar10-jpeg", "cifar100"]);
  assert.deepEqual(DATASET_NAMES, DATASETS); // the registry serves exactly the loaders' datasets
  await assert.rejects(
    loadDataset("mnist"),
    (e) =>
      e instanceof DatasetError &&
      e.message ===
        'Unknown dataset "mnist": use one of fashion-mnist, cifar10, cifar10-jpeg, cifar100.',
  );
  const dir = await fashionDir();
  assert.equal((await loadDataset("fashion-mnist", dir)).train.n, 5);
  await Deno.remove(dir, { recursive: true });
  await withTempDir(async (dir) => {
    await rejectsNaming(
      loadDataset("cifar10", dir),
      join(dir, "cifar-10-binary.tar.gz"),
      /CIFAR-10 not found/,
    );
  });
});

Deno.test("defaults: CIFAR caches under this repository's data/cache, found from the module's URL", () => {
  const repo = new URL("..", import.meta.url).pathname;
  assert.equal(defaultCifarDir("cifar10"), join(repo, "data/cache/cifar10"));
  assert.equal(defaultCifarDir("cifar100"), join(repo, "data/cache/cifar100"));
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
  name: "real Fashion-MNIST: 60000/10000 images in [0,1], 6000/1000 per class",
  ignore: !haveRealFashion,
  fn: async () => {
    const start = performance.now();
    const { train, test } = await loadFashionMnist();
    const seconds = (performance.now() - start) / 1000;
    console.log(`real Fashion-MNIST loaded in ${seconds.toFixed(2)} s`);
    assert.equal(train.n, 60000);
    assert.equal(test.n, 10000);
    for (const [ds, perClass] of [[train, 6000], [test, 1000]] as const) {
      assert.equal(ds.images.length, ds.n * 784);
      let min = Infinity, max = -Infinity, sum = 0;
      for (const v of ds.images) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      assert.equal(min, 0);
      assert.equal(max, 1);
      const mean = sum / ds.images.length;
      assert.ok(mean > 0.27 && mean < 0.30, `mean pixel ${mean} (Fashion-MNIST's is about 0.286)`);
      const histogram = new Array(10).fill(0);
      for (const l of ds.labels) histogram[l]++;
      assert.deepEqual(histogram, new Array(10).fill(perClass));
    }
    // The files' first labels, known from the dataset: pins decoding order.
    assert.deepEqual(Array.from(train.labels.subarray(0, 10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert.deepEqual(Array.from(test.labels.subarray(0, 10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  },
});
