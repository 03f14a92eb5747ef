/**
 * "CIFAR-10 (JPEG q75 copy)": CIFAR-10's train and test splits re-encoded as 32x32 JPEG at quality
 * 75 with 4:2:0 chroma (a public image-folder copy; provenance and checksum in
 * ../shared/data/README.md). Its pixels differ from the original CIFAR-10's by amounts comparable
 * with the attack radii, so every number measured on it is a number on this copy, never on
 * CIFAR-10; the original binary archives (lib/data/cifar.ts, dataset `cifar10`) stay the path for
 * a user with network access.
 *
 * Found at `dir` (a user's folder or archive, --data-dir), else ../shared/data/ beside the
 * repository, else data/cache/cifar10-jpeg/. An archive is SHA-256 checked, decoded once (libtensorflow's
 * JPEG decoder) and cached as raw bytes under data/cache/cifar10-jpeg/, so later loads take
 * about a second; the cache is checked whole (its own SHA-256) before use and rebuilt if damaged.
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { verifyChecksum } from "./checksum.ts";
import { DatasetError, type DatasetSplits } from "./dataset.ts";
import { existsSync, firstLine, readOptional } from "./files.ts";
import {
  type ImageFolderOptions,
  imageFolderSplits,
  isArchive,
  looksLikeImageFolder,
  type RawSplit,
  readImageFolder,
} from "./image_folder.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { REPO_ROOT } from "../util/repo_root.ts";

export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
] as const;

export const CIFAR10_JPEG_ARCHIVE = {
  file: "cifar10-jpeg.tar.gz",
  bytes: 19432150,
  sha256: "0bfcb68717a0ecb0d51ed61034906a773d48d424d94b766a46d7d1c55702a4d9",
};

export const CIFAR10_JPEG_CACHE = join(REPO_ROOT, "data", "cache", "cifar10-jpeg");
/** Where the archive is looked for when no path is given, in order. */
export const CIFAR10_JPEG_PLACES = [
  join(REPO_ROOT, "..", "shared", "data", CIFAR10_JPEG_ARCHIVE.file),
  join(CIFAR10_JPEG_CACHE, CIFAR10_JPEG_ARCHIVE.file),
];

const HOW_TO_GET =
  `put ${CIFAR10_JPEG_ARCHIVE.file} (SHA-256 ${CIFAR10_JPEG_ARCHIVE.sha256}) in ${CIFAR10_JPEG_CACHE}/ or pass --data-dir PATH (the archive, or a folder with train/<class>/*.jpg and test/<class>/*.jpg); with network access, prefer the original binary CIFAR-10 (--dataset cifar10)`;

/** The file or folder the dataset would load from, or undefined. */
export function cifar10JpegSource(dir?: string): string | undefined {
  if (dir !== undefined) {
    const d = resolve(dir);
    const inside = join(d, CIFAR10_JPEG_ARCHIVE.file);
    if (!isArchive(d) && existsSync(inside)) return inside;
    if (isArchive(d)) return existsSync(d) ? d : undefined;
    return looksLikeImageFolder(d) ? d : undefined;
  }
  return CIFAR10_JPEG_PLACES.find(existsSync);
}

/** Why the dataset cannot load (one sentence with the fix), or null; reads nothing. */
export function cifar10JpegAbsence(dir?: string): string | null {
  if (cifar10JpegSource(dir)) return null;
  const where = dir !== undefined ? resolve(dir) : CIFAR10_JPEG_PLACES.join(" or ");
  return `CIFAR-10 (JPEG q75 copy) not found at ${where}: ${HOW_TO_GET}.`;
}

export interface Cifar10JpegOptions {
  /** Where decoded archives are cached (default CIFAR10_JPEG_CACHE; tests use a temp folder). */
  cacheDir?: string;
}

/** Load the copy: from the decoded cache when it is there and whole, else decode (and cache). */
export async function loadCifar10Jpeg(
  dir?: string,
  options: Cifar10JpegOptions = {},
): Promise<DatasetSplits> {
  const cacheDir = options.cacheDir ?? CIFAR10_JPEG_CACHE;
  const source = cifar10JpegSource(dir);
  if (!source) throw new DatasetError(cifar10JpegAbsence(dir)!);
  const folder: ImageFolderOptions = { classes: CIFAR10_CLASSES, registryKey: "cifar10-jpeg" };
  const archive = isArchive(source);
  let raw: { train: RawSplit; test: RawSplit } | undefined;
  let cachePath: string | undefined;
  if (archive) {
    const bytes = await readOptional(source);
    if (!bytes) throw new DatasetError(cifar10JpegAbsence(dir)!);
    const sha = createHash("sha256").update(bytes).digest("hex");
    // The copy by its own name must be the published one; a user's archive of another name is
    // their own image folder, used as it is.
    if (basename(source) === CIFAR10_JPEG_ARCHIVE.file) {
      verifyChecksum(bytes, CIFAR10_JPEG_ARCHIVE, source, `${HOW_TO_GET}`);
    }
    cachePath = join(cacheDir, `decoded-v2-${sha.slice(0, 16)}.bin`);
    raw = await readCache(cachePath);
  }
  if (!raw) {
    raw = await readImageFolder(source, folder);
    if (cachePath) writeCache(cachePath, raw);
  }
  return imageFolderSplits(raw, folder);
}

// v2: splits in the loader's fixed shuffled order (v1, never committed, was class-sorted).
const CACHE_MAGIC = "sam-at decoded images v2\n";

/**
 * Cache layout: magic line, one JSON line (shapes, counts, SHA-256 of the payload), then train
 * images, train labels (uint8), test images, test labels.
 */
function writeCache(path: string, raw: { train: RawSplit; test: RawSplit }): void {
  const parts = [raw.train.images, labelBytes(raw.train), raw.test.images, labelBytes(raw.test)];
  const payload = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) payload.set(p, (o += p.length) - p.length);
  const meta = (s: RawSplit) => ({
    n: s.n,
    height: s.height,
    width: s.width,
    channels: s.channels,
  });
  const header = JSON.stringify({
    train: meta(raw.train),
    test: meta(raw.test),
    sha256: createHash("sha256").update(payload).digest("hex"),
  });
  const head = new TextEncoder().encode(CACHE_MAGIC + header + "\n");
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, out);
  } catch (err) {
    // A cache that cannot be written only costs the next load a few seconds of decoding.
    console.error(`Note: could not cache the decoded images at ${path} (${firstLine(err)}).`);
  }
}

function labelBytes(s: RawSplit): Uint8Array {
  return Uint8Array.from(s.labels);
}

/** The cached splits, or undefined when the cache is absent or not whole (then it is rebuilt). */
async function readCache(path: string): Promise<{ train: RawSplit; test: RawSplit } | undefined> {
  const bytes = await readOptional(path);
  if (!bytes) return undefined;
  const text = new TextDecoder().decode(bytes.subarray(0, 4096));
  const lines = text.split("\n");
  if (lines[0] + "\n" !== CACHE_MAGIC || lines.length < 3) return undefined;
  let header: any;
  try {
    header = JSON.parse(lines[1]);
  } catch {
    return undefined;
  }
  const start = new TextEncoder().encode(lines[0] + "\n" + lines[1] + "\n").length;
  const payload = bytes.subarray(start);
  if (createHash("sha256").update(payload).digest("hex") !== header.sha256) return undefined;
  let o = 0;
  const take = (n: number) => payload.subarray(o, o += n);
  const split = (m: any): RawSplit | undefined => {
    if (![m?.n, m?.height, m?.width, m?.channels].every(Number.isInteger)) return undefined;
    const images = take(m.n * m.height * m.width * m.channels);
    return { ...m, images, labels: Int32Array.from(take(m.n)) };
  };
  const train = split(header.train);
  const test = split(header.test);
  if (!train || !test || o !== payload.length) return undefined;
  return { train, test };
}
