/**
 * Dataset loaders: Fashion-MNIST (IDX files from the Debian package), CIFAR-10 and CIFAR-100 (the
 * official binary archives). Every loader returns images as float32 in [0, 1], NHWC, flattened into
 * one Float32Array, and labels as an Int32Array, so the training code can hand them to tf.tensor4d
 * without another copy or per-pixel objects.
 *
 * Input files are checked strictly (magic numbers, exact lengths, label ranges, archive checksums):
 * a bad file is a DatasetError whose one sentence names the file and the fix, never a zlib stack
 * trace and never a silently short dataset.
 *
 * CIFAR cannot be fetched on the project's build machines; users with network run
 *   bin/deno run -A scripts/dataset.ts download cifar10
 * (or call downloadCifar), which verifies the archive's size, MD5 and SHA-256 before extracting it
 * under data/cache/.
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { readTar, TarError } from "./tar.ts";

export interface Dataset {
  /** e.g. "fashion-mnist/train"; subsets append "[n=…,seed=…]". */
  name: string;
  /** n*height*width*channels floats in [0, 1], NHWC order. */
  images: Float32Array;
  /** n class indices in 0..numClasses-1. */
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  /** Normalisation for data that is not in the registry (lib/data/registry.ts), e.g. synthetic sets. */
  normalization?: { mean: number[]; std: number[] };
}

export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
  classNames: string[];
}

export type DatasetName = "fashion-mnist" | "cifar10" | "cifar100";
export type CifarName = "cifar10" | "cifar100";
export const DATASETS: readonly DatasetName[] = ["fashion-mnist", "cifar10", "cifar100"];

/** A missing, truncated or corrupt dataset file, or a bad request; the message names the file and the fix. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** What a downloaded archive must match before anything reads it. */
export interface ArchiveChecksum {
  bytes: number;
  md5: string;
  /** Checked too when given (the official archives have one). */
  sha256?: string;
}

/**
 * The official CIFAR binary archives. Sizes and SHA-256 from tensorflow/datasets
 * (tensorflow_datasets/url_checksums/cifar10.txt, cifar100.txt); MD5 from the dataset page
 * https://www.cs.toronto.edu/~kriz/cifar.html. Note the CIFAR-100 *binary* archive is 168513733
 * bytes: 169001437 is the size of the python-pickle archive.
 */
export const CIFAR_ARCHIVES: Readonly<
  Record<CifarName, { url: string; file: string } & Required<ArchiveChecksum>>
> = {
  cifar10: {
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    file: "cifar-10-binary.tar.gz",
    bytes: 170052171,
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
  },
  cifar100: {
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    file: "cifar-100-binary.tar.gz",
    bytes: 168513733,
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    sha256: "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
  },
};

/** The layout of each CIFAR binary archive once extracted. */
interface CifarLayout {
  title: string;
  folder: string;
  train: { file: string; records: number }[];
  test: { file: string; records: number }[];
  /** Label bytes before the 3072 pixel bytes, and which of them is the class. */
  labelBytes: number;
  labelIndex: number;
  numClasses: number;
  namesFile: string;
}

const CIFAR_LAYOUTS: Record<CifarName, CifarLayout> = {
  cifar10: {
    title: "CIFAR-10",
    folder: "cifar-10-batches-bin",
    train: [1, 2, 3, 4, 5].map((i) => ({ file: `data_batch_${i}.bin`, records: 10000 })),
    test: [{ file: "test_batch.bin", records: 10000 }],
    labelBytes: 1,
    labelIndex: 0,
    numClasses: 10,
    namesFile: "batches.meta.txt",
  },
  cifar100: {
    title: "CIFAR-100",
    folder: "cifar-100-binary",
    train: [{ file: "train.bin", records: 50000 }],
    test: [{ file: "test.bin", records: 10000 }],
    labelBytes: 2, // coarse (0..19), then fine (0..99): the paper uses the fine label
    labelIndex: 1,
    numClasses: 100,
    namesFile: "fine_label_names.txt",
  },
};

const CIFAR_SIDE = 32;
const CIFAR_PLANE = CIFAR_SIDE * CIFAR_SIDE;
const CIFAR_PIXELS = 3 * CIFAR_PLANE;
const CIFAR100_COARSE_CLASSES = 20;

export const FASHION_MNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];
const MNIST_SIDE = 28;
const IDX_IMAGES_MAGIC = 2051; // 0x00000803: unsigned bytes, 3 dimensions
const IDX_LABELS_MAGIC = 2049; // 0x00000801: unsigned bytes, 1 dimension

/** byte -> byte/255 as float32, so decoding is one table lookup per pixel. */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, b) => b / 255);

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

/** $FASHION_MNIST_DIR if set, else where `apt-get install dataset-fashion-mnist` puts the files. */
export function defaultFashionMnistDir(): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get("FASHION_MNIST_DIR");
  } catch {
    fromEnv = undefined; // no --allow-env: fall back to the package location
  }
  return fromEnv || FASHION_MNIST_DEFAULT_DIR;
}

const FASHION_FIX =
  "reinstall with `apt-get install --reinstall dataset-fashion-mnist` or set FASHION_MNIST_DIR to a directory with the four original files";

/** Load Fashion-MNIST's 60000 training and 10000 test images (28x28x1) from its four IDX files (.gz or raw). */
export async function loadFashionMnist(
  dir: string = defaultFashionMnistDir(),
): Promise<DatasetSplits> {
  const [train, test] = await Promise.all([
    readIdxSplit(dir, "train", "fashion-mnist/train"),
    readIdxSplit(dir, "t10k", "fashion-mnist/test"),
  ]);
  return { train, test, classNames: [...FASHION_MNIST_CLASSES] };
}

async function readIdxSplit(dir: string, prefix: string, name: string): Promise<Dataset> {
  const [imageFile, labelFile] = await Promise.all([
    readIdxFile(dir, `${prefix}-images-idx3-ubyte`),
    readIdxFile(dir, `${prefix}-labels-idx1-ubyte`),
  ]);
  const images = decodeIdxImages(imageFile.bytes, imageFile.path);
  const labels = decodeIdxLabels(labelFile.bytes, labelFile.path, FASHION_MNIST_CLASSES.length);
  if (images.n !== labels.length) {
    throw new DatasetError(
      `${imageFile.path} holds ${images.n} images but ${labelFile.path} holds ${labels.length} labels; ${FASHION_FIX}.`,
    );
  }
  return {
    name,
    images: images.pixels,
    labels,
    n: images.n,
    height: MNIST_SIDE,
    width: MNIST_SIDE,
    channels: 1,
    numClasses: FASHION_MNIST_CLASSES.length,
  };
}

/** Reads `<base>.gz` (gunzipped) or, failing that, the uncompressed `<base>`. */
async function readIdxFile(
  dir: string,
  base: string,
): Promise<{ path: string; bytes: Uint8Array }> {
  const gzPath = join(dir, `${base}.gz`);
  const gz = await readOptional(gzPath);
  if (gz) return { path: gzPath, bytes: gunzipOrThrow(gz, gzPath, FASHION_FIX) };
  const rawPath = join(dir, base);
  const raw = await readOptional(rawPath);
  if (raw) return { path: rawPath, bytes: raw };
  throw new DatasetError(`${gzPath} is missing; ${FASHION_FIX}.`);
}

function decodeIdxImages(bytes: Uint8Array, path: string): { n: number; pixels: Float32Array } {
  const header = 16;
  if (bytes.length < header) {
    throw new DatasetError(
      `${path} is truncated: ${bytes.length} bytes, shorter than the 16-byte IDX header; ${FASHION_FIX}.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== IDX_IMAGES_MAGIC) {
    throw new DatasetError(
      `${path} is not an IDX image file: magic number ${magic}, expected ${IDX_IMAGES_MAGIC}; ${FASHION_FIX}.`,
    );
  }
  const n = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== MNIST_SIDE || cols !== MNIST_SIDE) {
    throw new DatasetError(
      `${path} holds ${rows}x${cols} images, expected ${MNIST_SIDE}x${MNIST_SIDE}; ${FASHION_FIX}.`,
    );
  }
  const expected = header + n * rows * cols;
  if (bytes.length !== expected) {
    throw new DatasetError(
      `${path} is ${
        bytes.length < expected ? "truncated" : "too long"
      }: expected ${expected} bytes after decompression for ${n} images, got ${bytes.length}; ${FASHION_FIX}.`,
    );
  }
  const src = bytes.subarray(header);
  const pixels = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) pixels[i] = BYTE_TO_UNIT[src[i]];
  return { n, pixels };
}

function decodeIdxLabels(bytes: Uint8Array, path: string, numClasses: number): Int32Array {
  const header = 8;
  if (bytes.length < header) {
    throw new DatasetError(
      `${path} is truncated: ${bytes.length} bytes, shorter than the 8-byte IDX header; ${FASHION_FIX}.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== IDX_LABELS_MAGIC) {
    throw new DatasetError(
      `${path} is not an IDX label file: magic number ${magic}, expected ${IDX_LABELS_MAGIC}; ${FASHION_FIX}.`,
    );
  }
  const n = view.getUint32(4);
  if (bytes.length !== header + n) {
    throw new DatasetError(
      `${path} is ${bytes.length < header + n ? "truncated" : "too long"}: expected ${
        header + n
      } bytes after decompression for ${n} labels, got ${bytes.length}; ${FASHION_FIX}.`,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = bytes[header + i];
    if (label >= numClasses) {
      throw new DatasetError(
        `${path} has label ${label} at index ${i}, outside 0..${numClasses - 1}; ${FASHION_FIX}.`,
      );
    }
    labels[i] = label;
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10 / CIFAR-100

/** data/cache/<name> inside this repository, found from this module's own location. */
export function defaultCifarDir(name: CifarName): string {
  return fileURLToPath(new URL(`../../data/cache/${name}`, import.meta.url));
}

export interface CifarLoadOptions {
  /**
   * Require the official record counts (50000 train, 10000 test). Default true; the tests' small
   * files turn it off, and then any whole number of records is accepted.
   */
  officialCounts?: boolean;
  /** What an archive found in the directory must match before it is extracted; default: the official one. */
  checksum?: ArchiveChecksum;
}

/** CIFAR-10 (10 classes, 32x32x3) from `dir`: the extracted cifar-10-batches-bin/ or cifar-10-binary.tar.gz. */
export function loadCifar10(dir?: string, options: CifarLoadOptions = {}): Promise<DatasetSplits> {
  return loadCifar("cifar10", dir, options);
}

/** CIFAR-100 with its 100 fine labels, from `dir`: the extracted cifar-100-binary/ or cifar-100-binary.tar.gz. */
export function loadCifar100(dir?: string, options: CifarLoadOptions = {}): Promise<DatasetSplits> {
  return loadCifar("cifar100", dir, options);
}

async function loadCifar(
  name: CifarName,
  dir: string = defaultCifarDir(name),
  options: CifarLoadOptions,
): Promise<DatasetSplits> {
  const layout = CIFAR_LAYOUTS[name];
  const folder = await findOrExtractCifar(
    name,
    resolve(dir),
    options.checksum ?? CIFAR_ARCHIVES[name],
  );
  const officialCounts = options.officialCounts ?? true;
  const classNames = await readClassNames(name, folder);
  const train = await readCifarSplit(name, folder, layout.train, `${name}/train`, officialCounts);
  const test = await readCifarSplit(name, folder, layout.test, `${name}/test`, officialCounts);
  return { train, test, classNames };
}

/** Where the extracted files are: `dir/<folder>`, or `dir` itself, or extracted now from the archive in `dir`. */
async function findOrExtractCifar(
  name: CifarName,
  dir: string,
  checksum: ArchiveChecksum,
): Promise<string> {
  const layout = CIFAR_LAYOUTS[name];
  const nested = join(dir, layout.folder);
  if (await isDirectory(nested)) return nested;
  if (await exists(join(dir, layout.train[0].file))) return dir; // dir is the extracted folder itself
  const archive = join(dir, CIFAR_ARCHIVES[name].file);
  if (await exists(archive)) {
    await extractCifarArchive(name, archive, dir, checksum);
    return nested;
  }
  const official = CIFAR_ARCHIVES[name];
  throw new DatasetError(
    `${layout.title} not found: neither ${nested} nor ${archive} exists; run \`bin/deno run -A scripts/dataset.ts download ${name}\` on a machine with network, or download ${official.url} (MD5 ${official.md5}) by hand to ${archive}.`,
  );
}

/** Fix text for a bad extracted CIFAR file: re-extract from a verified archive. */
function cifarFix(name: CifarName, folder: string): string {
  return `delete ${folder} and re-extract it from a verified ${
    CIFAR_ARCHIVES[name].file
  } (\`bin/deno run -A scripts/dataset.ts download ${name}\` does both)`;
}

async function readClassNames(name: CifarName, folder: string): Promise<string[]> {
  const layout = CIFAR_LAYOUTS[name];
  const path = join(folder, layout.namesFile);
  const bytes = await readOptional(path);
  if (!bytes) throw new DatasetError(`${path} is missing; ${cifarFix(name, folder)}.`);
  const names = new TextDecoder().decode(bytes).split(/\r?\n/).map((s) => s.trim()).filter((s) =>
    s !== ""
  );
  if (names.length !== layout.numClasses) {
    throw new DatasetError(
      `${path} lists ${names.length} class names, expected ${layout.numClasses}; ${
        cifarFix(name, folder)
      }.`,
    );
  }
  return names;
}

async function readCifarSplit(
  name: CifarName,
  folder: string,
  files: { file: string; records: number }[],
  datasetName: string,
  officialCounts: boolean,
): Promise<Dataset> {
  const layout = CIFAR_LAYOUTS[name];
  const recordBytes = layout.labelBytes + CIFAR_PIXELS;
  const parts: { path: string; bytes: Uint8Array; records: number }[] = [];
  for (const { file, records: official } of files) {
    const path = join(folder, file);
    const bytes = await readOptional(path);
    if (!bytes) throw new DatasetError(`${path} is missing; ${cifarFix(name, folder)}.`);
    if (bytes.length === 0 || bytes.length % recordBytes !== 0) {
      throw new DatasetError(
        `${path} is truncated or corrupt: ${bytes.length} bytes is not a whole number of ${recordBytes}-byte records; ${
          cifarFix(name, folder)
        }.`,
      );
    }
    const records = bytes.length / recordBytes;
    if (officialCounts && records !== official) {
      throw new DatasetError(
        `${path} holds ${records} records, expected ${official} (${
          official * recordBytes
        } bytes); ${cifarFix(name, folder)}.`,
      );
    }
    parts.push({ path, bytes, records });
  }

  const n = parts.reduce((sum, p) => sum + p.records, 0);
  const images = new Float32Array(n * CIFAR_PIXELS);
  const labels = new Int32Array(n);
  let k = 0; // image index across files
  for (const { path, bytes, records } of parts) {
    for (let r = 0; r < records; r++, k++) {
      const rec = r * recordBytes;
      if (layout.labelBytes === 2 && bytes[rec] >= CIFAR100_COARSE_CLASSES) {
        throw new DatasetError(
          `${path} has coarse label ${bytes[rec]} in record ${r}, outside 0..${
            CIFAR100_COARSE_CLASSES - 1
          }; ${cifarFix(name, folder)}.`,
        );
      }
      const label = bytes[rec + layout.labelIndex];
      if (label >= layout.numClasses) {
        throw new DatasetError(
          `${path} has label ${label} in record ${r}, outside 0..${layout.numClasses - 1}; ${
            cifarFix(name, folder)
          }.`,
        );
      }
      labels[k] = label;
      // Channel-planar (all R, all G, all B) -> interleaved NHWC.
      const src = rec + layout.labelBytes;
      const dst = k * CIFAR_PIXELS;
      for (let p = 0; p < CIFAR_PLANE; p++) {
        const o = dst + 3 * p;
        images[o] = BYTE_TO_UNIT[bytes[src + p]];
        images[o + 1] = BYTE_TO_UNIT[bytes[src + CIFAR_PLANE + p]];
        images[o + 2] = BYTE_TO_UNIT[bytes[src + 2 * CIFAR_PLANE + p]];
      }
    }
  }
  return {
    name: datasetName,
    images,
    labels,
    n,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    channels: 3,
    numClasses: layout.numClasses,
  };
}

// ---------------------------------------------------------------------------------------------
// Archives: checksum, extraction, download

/** Hex MD5 and SHA-256 of some bytes (WebCrypto has no MD5, node:crypto has both). */
export function checksums(bytes: Uint8Array): { md5: string; sha256: string } {
  return {
    md5: createHash("md5").update(bytes).digest("hex"),
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

/** Throw a DatasetError (naming `path` and `fix`) unless the bytes match the expected size and hashes. */
export function verifyChecksum(
  bytes: Uint8Array,
  expected: ArchiveChecksum,
  path: string,
  fix: string,
): void {
  if (bytes.length !== expected.bytes) {
    throw new DatasetError(
      `${path} has ${bytes.length} bytes, expected ${expected.bytes}; ${fix}.`,
    );
  }
  const actual = checksums(bytes);
  if (actual.md5 !== expected.md5.toLowerCase()) {
    throw new DatasetError(`${path} has MD5 ${actual.md5}, expected ${expected.md5}; ${fix}.`);
  }
  if (expected.sha256 && actual.sha256 !== expected.sha256.toLowerCase()) {
    throw new DatasetError(
      `${path} has SHA-256 ${actual.sha256}, expected ${expected.sha256}; ${fix}.`,
    );
  }
}

/**
 * Verify the archive, then unpack only the files the loader needs into `<dir>/<folder>` (written to
 * a temporary folder first and renamed, so a crash never leaves a half-extracted dataset behind).
 */
async function extractCifarArchive(
  name: CifarName,
  archivePath: string,
  dir: string,
  checksum: ArchiveChecksum,
): Promise<void> {
  const layout = CIFAR_LAYOUTS[name];
  const official = CIFAR_ARCHIVES[name];
  const fix =
    `delete it and download it again from ${official.url} (or run \`bin/deno run -A scripts/dataset.ts download ${name}\`)`;
  const archive = await Deno.readFile(archivePath);
  verifyChecksum(archive, checksum, archivePath, fix);

  const tar = gunzipOrThrow(archive, archivePath, fix);
  let entries;
  try {
    entries = readTar(tar);
  } catch (err) {
    if (err instanceof TarError) {
      throw new DatasetError(`${archivePath} is not a valid tar archive (${err.message}); ${fix}.`);
    }
    throw err;
  }
  const byName = new Map(entries.filter((e) => e.type === "file").map((e) => [e.name, e.data]));
  const wanted = [
    layout.namesFile,
    ...layout.train.map((f) => f.file),
    ...layout.test.map((f) => f.file),
  ];
  const missing = wanted.filter((file) => !byName.has(`${layout.folder}/${file}`));
  if (missing.length > 0) {
    throw new DatasetError(
      `${archivePath} lacks ${missing.map((f) => `${layout.folder}/${f}`).join(", ")}; ${fix}.`,
    );
  }

  const staging = await Deno.makeTempDir({ dir, prefix: `.${layout.folder}.partial-` });
  try {
    for (const file of wanted) {
      await Deno.writeFile(join(staging, file), byName.get(`${layout.folder}/${file}`)!);
    }
    await Deno.chmod(staging, 0o755); // makeTempDir creates it private
    await Deno.rename(staging, join(dir, layout.folder));
  } catch (err) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw new DatasetError(
      `Could not extract ${archivePath} into ${dir} (${
        firstLine(err)
      }); check that the directory is writable.`,
    );
  }
}

export interface DownloadOptions {
  /** Injected in tests; default: the global fetch. */
  fetch?: (url: string) => Promise<Response>;
  /** Default: the official URL. */
  url?: string;
  /** Default: the official size and hashes. */
  checksum?: ArchiveChecksum;
  /** Progress lines; default: stderr. */
  log?: (line: string) => void;
}

/**
 * Download the official binary archive into `cacheDir` (default data/cache/<name>), verify its size,
 * MD5 and SHA-256 before anything uses it, and extract it. Returns the extracted folder. Already
 * extracted: returns at once; archive already there: verified and extracted without downloading.
 */
export async function downloadCifar(
  name: CifarName,
  cacheDir: string = defaultCifarDir(name),
  options: DownloadOptions = {},
): Promise<string> {
  if (!(name in CIFAR_ARCHIVES)) {
    throw new DatasetError(`downloadCifar cannot fetch "${name}": use cifar10 or cifar100.`);
  }
  const layout = CIFAR_LAYOUTS[name];
  const official = CIFAR_ARCHIVES[name];
  const url = options.url ?? official.url;
  const checksum = options.checksum ?? official;
  const log = options.log ?? ((line: string) => console.error(line));
  const fetcher = options.fetch ?? ((u: string) => fetch(u));
  const dir = resolve(cacheDir);
  const folder = join(dir, layout.folder);
  const archivePath = join(dir, official.file);

  if (await isDirectory(folder)) return folder;
  await Deno.mkdir(dir, { recursive: true });
  if (!(await exists(archivePath))) {
    await downloadVerified(url, archivePath, checksum, fetcher, log);
  }
  await extractCifarArchive(name, archivePath, dir, checksum);
  log(`${layout.title} ready in ${folder}`);
  return folder;
}

/** Stream `url` into a temp file beside `dest`, hashing as it goes; rename only if size and hashes match. */
async function downloadVerified(
  url: string,
  dest: string,
  expected: ArchiveChecksum,
  fetcher: (url: string) => Promise<Response>,
  log: (line: string) => void,
): Promise<void> {
  const byHand =
    `download ${url} by hand and put it at ${dest} (expected MD5 ${expected.md5}, ${expected.bytes} bytes)`;
  log(`Downloading ${url} (${(expected.bytes / 1e6).toFixed(0)} MB) to ${dest}`);
  let response: Response;
  try {
    response = await fetcher(url);
  } catch (err) {
    throw new DatasetError(`Could not download ${url} (${firstLine(err)}); ${byHand}.`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new DatasetError(
      `Could not download ${url} (HTTP ${response.status}${
        response.statusText ? ` ${response.statusText}` : ""
      }); ${byHand}.`,
    );
  }

  const temp = `${dest}.part-${crypto.randomUUID().slice(0, 8)}`;
  const md5 = createHash("md5");
  const sha256 = createHash("sha256");
  let received = 0;
  let nextReport = 0.1;
  const file = await Deno.open(temp, { write: true, createNew: true });
  try {
    try {
      for await (const chunk of response.body) {
        received += chunk.length;
        if (received > expected.bytes) break; // wrong file: stop reading, report below
        md5.update(chunk);
        sha256.update(chunk);
        for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
        if (received >= nextReport * expected.bytes) {
          log(`  ${Math.round((100 * received) / expected.bytes)}%`);
          nextReport += 0.1;
        }
      }
    } catch (err) {
      throw new DatasetError(
        `Download of ${url} broke off after ${received} bytes (${
          firstLine(err)
        }); retry, or ${byHand}.`,
      );
    } finally {
      file.close();
    }
    if (received !== expected.bytes) {
      throw new DatasetError(
        `Download of ${url} has ${
          received > expected.bytes ? "more than " : ""
        }${received} bytes, expected ${expected.bytes}, so it was deleted; retry, or ${byHand}.`,
      );
    }
    const gotMd5 = md5.digest("hex");
    if (gotMd5 !== expected.md5.toLowerCase()) {
      throw new DatasetError(
        `Download of ${url} has MD5 ${gotMd5}, expected ${expected.md5}, so it was deleted; retry, or ${byHand}.`,
      );
    }
    const gotSha = sha256.digest("hex");
    if (expected.sha256 && gotSha !== expected.sha256.toLowerCase()) {
      throw new DatasetError(
        `Download of ${url} has SHA-256 ${gotSha}, expected ${expected.sha256}, so it was deleted; retry, or ${byHand}.`,
      );
    }
    await Deno.rename(temp, dest);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Any dataset by name; subsets

/**
 * A seeded, class-stratified subset of n images (for the small CPU presets): each class keeps its
 * share of n (largest remainders round), the images within a class are drawn by a seeded shuffle,
 * and the result keeps the original order. Same (ds, n, seed), same subset.
 */
export function subset(ds: Dataset, n: number, seed: number): Dataset {
  if (!Number.isInteger(n) || n < 1 || n > ds.n) {
    throw new DatasetError(
      `Cannot take a subset of ${n} images from ${ds.name}: n must be a whole number from 1 to ${ds.n}.`,
    );
  }
  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
  for (let i = 0; i < ds.n; i++) byClass[ds.labels[i]].push(i);

  // Largest-remainder apportionment of n over the classes, ties to the lower class index.
  const quotas = byClass.map((idx) => (n * idx.length) / ds.n);
  const take = quotas.map(Math.floor);
  let left = n - take.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, c) => ({ c, rem: q - Math.floor(q) })).sort((a, b) =>
    b.rem - a.rem || a.c - b.c
  );
  for (let j = 0; left > 0; j++, left--) take[order[j].c]++;

  const random = mulberry32(seed);
  const chosen: number[] = [];
  byClass.forEach((idx, c) => {
    const pool = idx.slice();
    for (let i = 0; i < take[c]; i++) { // partial Fisher-Yates: the first take[c] slots are the draw
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    chosen.push(...pool.slice(0, take[c]));
  });
  chosen.sort((a, b) => a - b);

  const size = ds.height * ds.width * ds.channels;
  const images = new Float32Array(n * size);
  const labels = new Int32Array(n);
  chosen.forEach((src, dst) => {
    images.set(ds.images.subarray(src * size, (src + 1) * size), dst * size);
    labels[dst] = ds.labels[src];
  });
  return { ...ds, name: `${ds.name}[n=${n},seed=${seed}]`, images, labels, n };
}

/** Small, fast, seedable PRNG (uniform in [0, 1)). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function gunzipOrThrow(bytes: Uint8Array, path: string, fix: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new DatasetError(`${path} is not valid gzip data (${firstLine(err)}); ${fix}.`);
  }
}

/** The file's bytes, or undefined if it does not exist. Other failures (permissions) become DatasetErrors. */
async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new DatasetError(
      `Cannot read ${path} (${firstLine(err)}); check that it is a readable file.`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0];
}
