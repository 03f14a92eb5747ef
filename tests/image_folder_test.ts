/**
 * The image-folder loader (lib/data/image_folder.ts) on tiny PNG and JPEG images made with
 * tfjs-node's encoders: from a folder, a .tar and a .tar.gz, with and without one wrapping
 * folder; labels in the caller's class order; every bad input one sentence naming the file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError } from "../lib/data/dataset.ts";
import { Rng } from "../lib/util/rng.ts";
import {
  imageFolderSplits,
  loadImageFolder,
  type RawSplit,
  readImageFolder,
} from "../lib/data/image_folder.ts";
import { concat } from "./idx_bytes.ts";
import { ustarHeader } from "./tar_bytes.ts";
import {
  entriesOf,
  type FixtureImage,
  fixtureImages,
  type FolderSpec,
  type Split,
  tarBytes,
  tarGzBytes,
  writeFiles,
} from "./image_folder_fixture.ts";

/** Label order on purpose not alphabetical, and file names whose sorted order is not as written. */
const CLASSES = ["zebra", "ant", "mole"] as const;
const SPEC: FolderSpec = {
  classes: ["ant", "mole", "zebra"],
  files: { train: ["b.png", "a.png", "10.png"], test: ["x.png", "9.png"] },
};
const OPTIONS = { classes: CLASSES, name: "toy" };
/** The training images of SPEC in the loader's order (seed-0 permutation of the listing). */
const PINNED_TRAIN_ORDER = [
  "zebra/a.png",
  "ant/10.png",
  "ant/b.png",
  "mole/b.png",
  "mole/10.png",
  "ant/a.png",
  "zebra/10.png",
  "zebra/b.png",
  "mole/a.png",
];

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "image-folder-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The order the loader documents: listed by label (the class list's order), then by file name
 * (code unit order: "10.png" < "9.png" < "a.png"), then put in the fixed seed-0 permutation.
 */
function documentedOrder(images: readonly FixtureImage[], split: Split): FixtureImage[] {
  const listed = images.filter((im) => im.split === split).sort((a, b) =>
    CLASSES.indexOf(a.className as never) - CLASSES.indexOf(b.className as never) ||
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)
  );
  return Array.from(Rng.fromSeed(0).permutation(listed.length), (i) => listed[i]);
}

/** Every decoded image is the expected one (exact: PNG) with its class's label, in order. */
function assertSplit(raw: RawSplit, expected: readonly FixtureImage[]) {
  const [first] = expected;
  assert.deepEqual([raw.n, raw.height, raw.width, raw.channels], [
    expected.length,
    first.height,
    first.width,
    first.channels,
  ]);
  assert.equal(raw.images.length, raw.n * first.height * first.width * first.channels);
  const size = first.pixels.length;
  expected.forEach((im, i) => {
    assert.equal(raw.labels[i], CLASSES.indexOf(im.className as never), `label of ${im.path}`);
    assert.deepEqual(
      raw.images.subarray(i * size, (i + 1) * size),
      im.pixels,
      `pixels of ${im.path}`,
    );
  });
}

/** Assert the promise rejects with a one-line DatasetError that names `what` and matches `pattern`. */
async function rejectsNaming(promise: Promise<unknown>, what: string, pattern: RegExp) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.ok(err.message.includes(what), `message should name ${what}: ${err.message}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    assert.match(err.message, /\.$/, `a sentence: ${err.message}`);
    return;
  }
  assert.fail(`expected a DatasetError naming ${what}`);
}

Deno.test("image folder: PNG images decode exactly, labels follow the class list, in one fixed order", async () => {
  const images = await fixtureImages(SPEC);
  await withTemp(async (dir) => {
    await writeFiles(dir, entriesOf(images));
    const raw = await readImageFolder(dir, OPTIONS);
    assertSplit(raw.train, documentedOrder(images, "train"));
    assertSplit(raw.test, documentedOrder(images, "test"));
    // Labels: zebra 0, ant 1, mole 2, whatever the folders' alphabetical order; the order is
    // fixed (pinned here: a change of it changes every image-folder result).
    assert.deepEqual(
      documentedOrder(images, "train").map((im) => `${im.className}/${im.file}`),
      PINNED_TRAIN_ORDER,
    );

    const splits = await loadImageFolder(dir, OPTIONS);
    assert.deepEqual(splits.classNames, [...CLASSES]);
    for (const split of ["train", "test"] as const) {
      const ds = splits[split];
      assert.equal(ds.name, `toy/${split}`);
      // An unregistered folder: no registry key, and a normalisation only when given.
      assert.equal(ds.registryKey, undefined);
      assert.equal(ds.normalization, undefined);
      assert.equal(ds.numClasses, 3);
      assert.ok(ds.images instanceof Float32Array && ds.labels instanceof Int32Array);
      assert.deepEqual(ds.labels, raw[split].labels);
      raw[split].images.forEach((b, i) => assert.equal(ds.images[i], Math.fround(b / 255)));
    }
    // Given a normalisation, the splits carry it; given a registry key, they are that dataset's.
    const norm = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const own = imageFolderSplits(raw, { ...OPTIONS, normalization: norm });
    assert.deepEqual([own.train.normalization, own.test.name], [norm, "toy/test"]);
    const keyed = imageFolderSplits(raw, { classes: CLASSES, registryKey: "cifar10-jpeg" });
    assert.deepEqual([keyed.train.name, keyed.train.registryKey], [
      "cifar10-jpeg/train",
      "cifar10-jpeg",
    ]);
  });
});

Deno.test("image folder: a .tar and a .tar.gz, members in any order, with or without one wrapping folder, load as the folder does", async () => {
  const images = await fixtureImages(SPEC);
  await withTemp(async (dir) => {
    const folder = await writeFiles(join(dir, "plain"), entriesOf(images));
    const expected = await readImageFolder(folder, OPTIONS);
    const wrappedFolder = await writeFiles(join(dir, "wrapped"), entriesOf(images, "toy-v1"));
    const reversed = entriesOf(images).reverse();
    const sources: [string, Uint8Array | null][] = [
      [wrappedFolder, null],
      [join(dir, "toy.tar"), tarBytes(reversed)],
      [join(dir, "toy.tar.gz"), tarGzBytes(reversed)],
      [join(dir, "toy.tgz"), tarGzBytes(entriesOf(images, "toy-v1"))],
      [join(dir, "wrapped.tar"), tarBytes(entriesOf(images, "toy-v1").reverse())],
      // macOS's tar adds ._ files beside the wrapping folder: still one folder around the splits.
      [
        join(dir, "mac.tar"),
        tarBytes([["._toy-v1", new Uint8Array(4)], ...entriesOf(images, "toy-v1")]),
      ],
    ];
    for (const [source, bytes] of sources) {
      if (bytes) await Deno.writeFile(source, bytes);
      assert.deepEqual(await readImageFolder(source, OPTIONS), expected, source);
    }
  });
});

Deno.test("image folder: hidden files and files outside train/ and test/ are ignored; symlinked images load", async () => {
  const images = await fixtureImages(SPEC);
  await withTemp(async (dir) => {
    const root = await writeFiles(join(dir, "root"), entriesOf(images));
    const expected = await readImageFolder(root, OPTIONS);
    const note = new TextEncoder().encode("not an image");
    await writeFiles(root, [
      ["README.md", note],
      ["train/.DS_Store", note],
      ["train/ant/.hidden.png", note],
      ["extra/ant/z.png", images[0].bytes],
    ]);
    assert.deepEqual(await readImageFolder(root, OPTIONS), expected);

    // A folder of links to the images (as a cache or a shared copy may be) is the same folder.
    const linked = join(dir, "linked");
    for (const im of images) {
      await Deno.mkdir(join(linked, im.split, im.className), { recursive: true });
      await Deno.symlink(join(root, im.path), join(linked, im.path));
    }
    assert.deepEqual(await readImageFolder(linked, OPTIONS), expected);
    const linkedSplit = join(dir, "linked-split");
    await writeFiles(linkedSplit, entriesOf(images.filter((im) => im.split === "test")));
    await Deno.symlink(join(root, "train"), join(linkedSplit, "train"));
    assert.deepEqual(await readImageFolder(linkedSplit, OPTIONS), expected);
    // A dangling link is named, not skipped (skipping would lose an image without a word).
    const dangling = join(linked, "train/ant/gone.png");
    await Deno.symlink(join(dir, "nowhere.png"), dangling);
    await rejectsNaming(
      readImageFolder(linked, OPTIONS),
      dangling,
      /gone\.png cannot be decoded as an image \(No such file or directory.*\); replace or remove it\.$/,
    );
  });
});

Deno.test("image folder: JPEG images decode to their colours (within JPEG's loss), PNG and JPEG mix", async () => {
  const spec: FolderSpec = {
    classes: ["ant", "mole", "zebra"],
    files: { train: ["a.jpg", "b.JPEG", "c.png"], test: ["d.jpeg"] },
    shape: [8, 8, 3],
  };
  const images = await fixtureImages(spec);
  await withTemp(async (dir) => {
    await writeFiles(dir, entriesOf(images));
    const raw = await readImageFolder(dir, OPTIONS);
    for (const split of ["train", "test"] as const) {
      const expected = documentedOrder(images, split);
      const s = raw[split];
      assert.deepEqual([s.n, s.height, s.width, s.channels], [expected.length, 8, 8, 3]);
      expected.forEach((im, i) => {
        assert.equal(s.labels[i], CLASSES.indexOf(im.className as never));
        const got = s.images.subarray(i * 192, (i + 1) * 192);
        const worst = got.reduce((m, v, j) => Math.max(m, Math.abs(v - im.pixels[j])), 0);
        assert.ok(worst <= 6, `${im.path}: off by up to ${worst}`);
      });
    }
  });
});

Deno.test("image folder: every bad input is one sentence naming the file or folder", async (t) => {
  const images = await fixtureImages(SPEC);
  const good = entriesOf(images);
  const without = (prefix: string) => good.filter(([p]) => !p.startsWith(prefix));
  const png = images[0].bytes;
  const other = (await fixtureImages({ ...SPEC, shape: [5, 5, 3] }))[0].bytes;
  const text = new TextEncoder().encode("hello");
  const cases: [string, [string, Uint8Array][], string, RegExp][] = [
    [
      "missing split",
      without("test/"),
      "",
      /has no test\/ split with images; an image folder holds train\/<class>\/<image> and test\/<class>\/<image> \(JPEG or PNG\)\.$/,
    ],
    [
      "class with no images",
      without("test/mole/"),
      "",
      /: class mole has no images in test\/; every split needs every class/,
    ],
    [
      "folder not in the class list",
      [...good, ["train/whale/a.png", png]],
      "",
      /Folder train\/whale of .* is not one of the 3 classes \(zebra, ant, mole\); remove it/,
    ],
    [
      "non-image file",
      [...good, ["train/ant/notes.txt", text]],
      "train/ant/notes.txt",
      /is not a \.jpg, \.jpeg or \.png file; remove it\.$/,
    ],
    [
      "file outside a class folder",
      [...good, ["test/list.png", png]],
      "test/list.png",
      /is not inside a class folder of test\/; an image folder holds/,
    ],
    [
      "undecodable file",
      [...good, ["train/mole/broken.png", text]],
      "train/mole/broken.png",
      /cannot be decoded as an image \(Expected image \(BMP, JPEG, PNG, or GIF\), but got unsupported image type\); replace or remove it\.$/,
    ],
    [
      "truncated PNG: the decoder's reason, not its status code",
      [...good, ["test/zebra/cut.png", png.subarray(0, 60)]],
      "test/zebra/cut.png",
      /cannot be decoded as an image \(Invalid PNG data, size 60\); replace or remove it\.$/,
    ],
    [
      "mixed sizes",
      [...good, ["test/zebra/big.png", other]],
      "test/zebra/big.png",
      /big\.png is 5x5x3 \(height x width x channels\) but .*train\/\w+\/\w+\.png is 4x5x3; every image must have one shape/,
    ],
  ];
  for (const [what, files, named, pattern] of cases) {
    await t.step(what, async () => {
      await withTemp(async (dir) => {
        // The folder, and the same files as a .tar.gz: one sentence each, naming the member.
        const folder = await writeFiles(join(dir, "folder"), files);
        await rejectsNaming(
          readImageFolder(folder, OPTIONS),
          named ? join(folder, named) : folder,
          pattern,
        );
        const archive = join(dir, "toy.tar.gz");
        await Deno.writeFile(archive, tarGzBytes(files));
        await rejectsNaming(
          readImageFolder(archive, OPTIONS),
          named ? `${archive}:${named}` : archive,
          pattern,
        );
      });
    });
  }

  await t.step("broken archives and paths", async () => {
    await withTemp(async (dir) => {
      const tar = tarBytes(good);
      const broken: [string, Uint8Array | null, RegExp][] = [
        [
          "cut-in-header.tar",
          tar.subarray(0, 1500),
          /cut-in-header\.tar is not a valid tar archive \(tar archive is truncated: 476 stray bytes at byte 1024\); download or copy it again\.$/,
        ],
        [
          "cut-in-data.tar",
          concat(tar.subarray(0, 1024), ustarHeader("train/ant/big.png", 5000, "0"), png),
          /cut-in-data\.tar is not a valid tar archive \(tar entry at byte 1024 is truncated: it declares 5000 bytes but the archive ends after \d+\)/,
        ],
        [
          // Cut exactly after an entry: every member read is whole, but images are missing.
          "cut-at-entry.tar",
          tar.subarray(0, tar.length - 1024 - 1024),
          /cut-at-entry\.tar is not a valid tar archive \(tar archive is truncated: it ends at byte \d+ without the end-of-archive blocks\)/,
        ],
        [
          "cut.tar.gz",
          tarGzBytes(good).subarray(0, 300),
          /cut\.tar\.gz is not valid gzip data \(.*\); download or copy it again\.$/,
        ],
        [
          "garbage.tar.gz",
          new TextEncoder().encode("<html>404 not found</html>"),
          /garbage\.tar\.gz is not valid gzip data \(.*\); download or copy it again\.$/,
        ],
        [
          "not-a-tar.tar",
          new Uint8Array(2048).fill(65),
          /not-a-tar\.tar is not a valid tar archive \(tar header at byte 0 has a bad checksum/,
        ],
        ["absent.tar.gz", null, /Cannot read .*absent\.tar\.gz \(.*\); check the path\.$/],
        ["absent-folder", null, /absent-folder is neither a folder nor a \.tar\/\.tar\.gz archive/],
      ];
      for (const [name, bytes, pattern] of broken) {
        const path = join(dir, name);
        if (bytes) await Deno.writeFile(path, bytes);
        await rejectsNaming(readImageFolder(path, OPTIONS), path, pattern);
      }
      // A corrupt byte inside the gzip stream (not only a cut one) is caught by its CRC.
      const gz = tarGzBytes(good);
      gz[Math.floor(gz.length / 2)] ^= 0xff;
      const flipped = join(dir, "flipped.tgz");
      await Deno.writeFile(flipped, gz);
      await rejectsNaming(readImageFolder(flipped, OPTIONS), flipped, /is not valid gzip data/);
    });
  });
});
