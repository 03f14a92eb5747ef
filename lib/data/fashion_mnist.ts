/**
 * Fashion-MNIST from its four IDX files (as the Debian package dataset-fashion-mnist installs them,
 * gzipped or raw): 60000 training and 10000 test images, 28x28x1, in the Dataset layout of
 * lib/data/dataset.ts.
 *
 * The files are checked strictly (magic numbers, exact lengths, label ranges): a bad file is a
 * DatasetError whose one sentence names the file and the fix, never a silently short dataset.
 */
import { join } from "node:path";
import {
  BYTE_TO_UNIT,
  type Dataset,
  DatasetError,
  type DatasetSplits,
  splitIdentity,
} from "./dataset.ts";
import { existsSync, gunzipOrThrow, readOptional } from "./files.ts";

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
    readIdxSplit(dir, "train", splitIdentity("fashion-mnist", "train")),
    readIdxSplit(dir, "t10k", splitIdentity("fashion-mnist", "test")),
  ]);
  return { train, test, classNames: [...FASHION_MNIST_CLASSES] };
}

const FASHION_FILES = [
  "train-images-idx3-ubyte",
  "train-labels-idx1-ubyte",
  "t10k-images-idx3-ubyte",
  "t10k-labels-idx1-ubyte",
];

/**
 * Why Fashion-MNIST cannot load from `dir` (the first of its four files that is absent, and the
 * fix), or null when all four are there. A quick presence check for plans and dry runs: it reads
 * no file, so a corrupt one is still found only by loadFashionMnist.
 */
export function fashionMnistAbsence(dir: string = defaultFashionMnistDir()): string | null {
  for (const base of FASHION_FILES) {
    const gz = join(dir, `${base}.gz`);
    if (!existsSync(gz) && !existsSync(join(dir, base))) return `${gz} is missing; ${FASHION_FIX}.`;
  }
  return null;
}

async function readIdxSplit(
  dir: string,
  prefix: string,
  identity: ReturnType<typeof splitIdentity>,
): Promise<Dataset> {
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
    ...identity,
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
