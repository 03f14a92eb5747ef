/**
 * CIFAR-10 and CIFAR-100 from the official binary archives: their layouts, loading the extracted
 * files into the Dataset layout of lib/data/dataset.ts (32x32x3, NHWC in [0, 1]), and extracting a
 * verified archive found in the directory. Downloading: lib/data/download.ts.
 *
 * The files are checked strictly (exact lengths, record counts, label ranges, archive checksums):
 * a bad file is a DatasetError whose one sentence names the file and the fix.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ArchiveChecksum, verifyChecksum } from "./checksum.ts";
import {
  BYTE_TO_UNIT,
  type Dataset,
  DatasetError,
  type DatasetSplits,
  splitIdentity,
} from "./dataset.ts";
import {
  exists,
  existsSync,
  firstLine,
  gunzipOrThrow,
  isDirectory,
  readOptional,
} from "./files.ts";
import { readTar, TarError } from "./tar.ts";

export type CifarName = "cifar10" | "cifar100";

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
export interface CifarLayout {
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

export const CIFAR_LAYOUTS: Readonly<Record<CifarName, CifarLayout>> = {
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
  const train = await readCifarSplit(name, folder, layout.train, "train", officialCounts);
  const test = await readCifarSplit(name, folder, layout.test, "test", officialCounts);
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
  throw new DatasetError(cifarNotFound(name, dir));
}

function cifarNotFound(name: CifarName, dir: string): string {
  const layout = CIFAR_LAYOUTS[name];
  const official = CIFAR_ARCHIVES[name];
  const archive = join(dir, official.file);
  return `${layout.title} not found: neither ${
    join(dir, layout.folder)
  } nor ${archive} exists; run \`bin/deno run -A scripts/dataset.ts download ${name}\` on a machine with network, or download ${official.url} (MD5 ${official.md5}) by hand to ${archive}.`;
}

/**
 * Why CIFAR-10/100 cannot load from `dir` (neither the extracted files nor the archive are
 * there, and the fix), or null when loadCifar10/100 would find one of them. Looks where
 * findOrExtractCifar looks, without reading or extracting anything (for plans and dry runs).
 */
export function cifarAbsence(name: CifarName, dir: string = defaultCifarDir(name)): string | null {
  return cifarSource(name, dir) ? null : cifarNotFound(name, resolve(dir));
}

/**
 * What loadCifar10/100 would read from `dir`: the extracted folder in it, `dir` itself when it is
 * that folder, or the archive in it (extracted on load); undefined when none is there.
 */
export function cifarSource(
  name: CifarName,
  dir: string = defaultCifarDir(name),
): string | undefined {
  const layout = CIFAR_LAYOUTS[name];
  const d = resolve(dir);
  if (existsSync(join(d, layout.folder))) return join(d, layout.folder);
  if (existsSync(join(d, layout.train[0].file))) return d; // dir is the extracted folder itself
  const archive = join(d, CIFAR_ARCHIVES[name].file);
  return existsSync(archive) ? archive : undefined;
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
  split: "train" | "test",
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
    ...splitIdentity(name, split),
    images,
    labels,
    n,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    channels: 3,
    numClasses: layout.numClasses,
  };
}

/**
 * Verify the archive, then unpack only the files the loader needs into `<dir>/<folder>` (written to
 * a temporary folder first and renamed, so a crash never leaves a half-extracted dataset behind).
 */
export async function extractCifarArchive(
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
