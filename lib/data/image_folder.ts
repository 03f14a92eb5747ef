/**
 * Image-folder datasets, the convention torchvision's ImageFolder and most public copies use:
 * `<split>/<class>/<image>` with JPEG or PNG files, read from a folder or from a .tar / .tar.gz
 * archive (one top-level folder around the splits is allowed, as many archives have). Images are
 * decoded with the decoder libtensorflow already ships (tfjs-node's decodeImage), so no image
 * library is added. Labels follow the class list given by the caller (the dataset registry), not
 * the folders' alphabetical order. Each split is listed by class and file name, then put in one fixed
 * pseudo-random order (seed 0), as CIFAR's own files are: evaluations that take the first n test
 * points (AutoAttack's budget) then see a sample of every class, not the first classes alone.
 *
 * Every image must decode to the same height x width x channels. Bad input is a DatasetError of
 * one sentence naming the file or folder: a missing split, an empty or missing class, a folder
 * that is not a listed class, a file that is not an image, a file that does not decode, mixed
 * sizes.
 */
import { join, relative, sep } from "node:path";
import {
  BYTE_TO_UNIT,
  type Dataset,
  DatasetError,
  type DatasetName,
  type DatasetSplits,
  type Normalization,
  splitIdentity,
} from "./dataset.ts";
import { firstLine, gunzipOrThrow, isDirectory } from "./files.ts";
import { readTar, TarError } from "./tar.ts";
import { tfjsNodeModule } from "../backend/backend.ts";
import { Rng } from "../util/rng.ts";

/** A decoded image: height x width x channels bytes, row-major, channels interleaved. */
export interface DecodedImage {
  height: number;
  width: number;
  channels: number;
  data: Uint8Array;
}

/** Decodes one file's bytes; throws (any error) when they are not an image. */
export type ImageDecoder = (bytes: Uint8Array) => DecodedImage;

/**
 * What the image-folder loader needs besides the files: the class list, and which dataset the
 * folder is. A registered one (lib/data/registry.ts, e.g. cifar10-jpeg) gives its `registryKey`:
 * its splits are stamped with `splitIdentity`, so training takes that entry's normalisation and
 * augmentation. Any other folder gives a `name` (the splits are "<name>/train", "<name>/test")
 * and, to be trained on, its own per-channel `normalization`.
 */
export type ImageFolderOptions =
  & {
    /** Class folder names in label order (label i = classes[i]). */
    classes: readonly string[];
    /** Default: tfjs-node's decodeImage (JPEG, PNG, BMP, GIF's first frame). */
    decode?: ImageDecoder;
  }
  & (
    | { registryKey: DatasetName }
    | { name: string; normalization?: Normalization }
  );

/** The raw (undecoded) images of an image folder as uint8 HWC, one split each. */
export interface RawSplit {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
}

const IMAGE_EXTENSIONS = /\.(jpe?g|png)$/i;
const SPLITS = ["train", "test"] as const;
const LAYOUT_HINT =
  "an image folder holds train/<class>/<image> and test/<class>/<image> (JPEG or PNG)";

/** One file of the folder: where it is (for messages) and its bytes. */
interface FileEntry {
  /** "/"-separated, relative to the folder or archive root. */
  path: string;
  /** For messages: the file on disk, or "archive:member". */
  shown: string;
  bytes: () => Promise<Uint8Array>;
}

/** Load both splits of an image folder (a directory or a .tar/.tar.gz/.tgz archive) as Datasets. */
export async function loadImageFolder(
  source: string,
  options: ImageFolderOptions,
): Promise<DatasetSplits> {
  return imageFolderSplits(await readImageFolder(source, options), options);
}

/** Read and decode both splits as uint8 (what a cache stores). */
export async function readImageFolder(
  source: string,
  options: ImageFolderOptions,
): Promise<{ train: RawSplit; test: RawSplit }> {
  const files = isArchive(source) ? await archiveFiles(source) : await folderFiles(source);
  const decode = options.decode ?? await tfjsDecoder();
  const grouped = groupFiles(files, source, options.classes);
  let shapeOf: { shape: string; path: string } | undefined;
  const read = async (split: typeof SPLITS[number]): Promise<RawSplit> => {
    const entries = grouped[split];
    let images: Uint8Array | undefined;
    const labels = new Int32Array(entries.length);
    let dims = { height: 0, width: 0, channels: 0 };
    for (let i = 0; i < entries.length; i++) {
      const { file, label } = entries[i];
      let img: DecodedImage;
      try {
        img = decode(await file.bytes());
      } catch (err) {
        throw new DatasetError(
          `${file.shown} cannot be decoded as an image (${
            decodeFailure(err)
          }); replace or remove it.`,
        );
      }
      const shape = `${img.height}x${img.width}x${img.channels}`;
      if (!shapeOf) shapeOf = { shape, path: file.shown };
      if (shape !== shapeOf.shape) {
        throw new DatasetError(
          `${file.shown} is ${shape} (height x width x channels) but ${shapeOf.path} is ${shapeOf.shape}; every image must have one shape: resize them first.`,
        );
      }
      if (!images) {
        dims = { height: img.height, width: img.width, channels: img.channels };
        images = new Uint8Array(entries.length * img.data.length);
      }
      images.set(img.data, i * img.data.length);
      labels[i] = label;
    }
    return { images: images!, labels, n: entries.length, ...dims };
  };
  const train = await read("train");
  const test = await read("test");
  return { train, test };
}

/**
 * Decoded uint8 splits -> the DatasetSplits every loader returns (the one way an image folder,
 * registered or not, becomes Datasets; loadCifar10Jpeg goes through it from its cache too).
 */
export function imageFolderSplits(
  raw: { train: RawSplit; test: RawSplit },
  options: ImageFolderOptions,
): DatasetSplits {
  const identity = (
    split: "train" | "test",
  ): Pick<Dataset, "name" | "registryKey" | "normalization"> =>
    "registryKey" in options ? splitIdentity(options.registryKey, split) : {
      name: `${options.name}/${split}`,
      ...(options.normalization && { normalization: options.normalization }),
    };
  return {
    train: toDataset(raw.train, identity("train"), options.classes.length),
    test: toDataset(raw.test, identity("test"), options.classes.length),
    classNames: [...options.classes],
  };
}

/** uint8 HWC images -> a Dataset of floats in [0, 1]. */
function toDataset(
  raw: RawSplit,
  identity: Pick<Dataset, "name" | "registryKey" | "normalization">,
  numClasses: number,
): Dataset {
  const images = new Float32Array(raw.images.length);
  for (let i = 0; i < images.length; i++) images[i] = BYTE_TO_UNIT[raw.images[i]];
  return {
    ...identity,
    images,
    labels: raw.labels,
    n: raw.n,
    height: raw.height,
    width: raw.width,
    channels: raw.channels,
    numClasses,
  };
}

export function isArchive(path: string): boolean {
  return /\.(tar|tar\.gz|tgz)$/i.test(path);
}

/**
 * Whether a folder has the layout's train/ and test/ folders, directly or inside its one
 * (non-hidden) subfolder: presence only, for dry runs; loading checks everything else.
 */
export function looksLikeImageFolder(path: string): boolean {
  const entries = (dir: string) => {
    try {
      return [...Deno.readDirSync(dir)].filter((e) => !e.name.startsWith("."));
    } catch {
      return [];
    }
  };
  const isFolder = (dir: string, e: Deno.DirEntry) =>
    e.isDirectory || (e.isSymlink && isDirectorySync(join(dir, e.name)));
  const hasSplits = (dir: string) => {
    const folders = entries(dir).filter((e) => isFolder(dir, e)).map((e) => e.name);
    return SPLITS.every((s) => folders.includes(s));
  };
  const top = entries(path);
  // As the loader unwraps: one folder and nothing else around the splits.
  return hasSplits(path) ||
    (top.length === 1 && isFolder(path, top[0]) && hasSplits(join(path, top[0].name)));
}

function isDirectorySync(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Sort files into (split, class), checking the layout; each split ordered by class, then name. */
function groupFiles(
  files: FileEntry[],
  source: string,
  classes: readonly string[],
): Record<typeof SPLITS[number], { file: FileEntry; label: number }[]> {
  // .DS_Store, ._name, .ipynb_checkpoints/ and the like are not the folder's content.
  const rel = files.map((f) => ({ f, parts: f.path.split("/") }))
    .filter((r) => !r.parts.some((p) => p.startsWith(".")));
  // One folder around the splits (e.g. "cifar10/train/...") is unwrapped.
  const tops = new Set(rel.map((r) => r.parts[0]));
  const wrapped = tops.size === 1 && !SPLITS.some((s) => tops.has(s)) &&
    rel.every((r) => r.parts.length > 1);
  type Item = { file: FileEntry; label: number };
  const out: Record<typeof SPLITS[number], Item[]> = { train: [], test: [] };
  const counts = new Map<string, number>();
  for (const { f, parts: all } of rel) {
    const parts = wrapped ? all.slice(1) : all;
    const name = parts[parts.length - 1];
    const split = parts[0];
    if (!(SPLITS as readonly string[]).includes(split)) {
      // Anything outside train/ and test/ (a README, a licence) is not ours to judge.
      continue;
    }
    if (parts.length !== 3) {
      throw new DatasetError(
        `${f.shown} is not inside a class folder of ${split}/; ${LAYOUT_HINT}.`,
      );
    }
    const label = classes.indexOf(parts[1]);
    if (label < 0) {
      throw new DatasetError(
        `Folder ${split}/${parts[1]} of ${source} is not one of the ${classes.length} classes (${
          classes.join(", ")
        }); remove it or use a dataset whose class list has it.`,
      );
    }
    if (!IMAGE_EXTENSIONS.test(name)) {
      throw new DatasetError(`${f.shown} is not a .jpg, .jpeg or .png file; remove it.`);
    }
    out[split as typeof SPLITS[number]].push({ file: f, label });
    const key = `${split}/${parts[1]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const split of SPLITS) {
    if (out[split].length === 0) {
      throw new DatasetError(`${source} has no ${split}/ split with images; ${LAYOUT_HINT}.`);
    }
    for (const c of classes) {
      if (!counts.get(`${split}/${c}`)) {
        throw new DatasetError(
          `${source}: class ${c} has no images in ${split}/; every split needs every class (${LAYOUT_HINT}).`,
        );
      }
    }
    out[split].sort((a, b) =>
      a.label - b.label || (a.file.path < b.file.path ? -1 : a.file.path > b.file.path ? 1 : 0)
    );
    const listed = out[split];
    out[split] = Array.from(
      Rng.fromSeed(LISTING_SEED).permutation(listed.length),
      (i) => listed[i],
    );
  }
  return out;
}

/** The seed of the fixed order of every split (changing it changes every image-folder result). */
const LISTING_SEED = 0;

async function archiveFiles(path: string): Promise<FileEntry[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new DatasetError(`Cannot read ${path} (${firstLine(err)}); check the path.`);
  }
  const fix = "download or copy it again";
  const tar = /\.(gz|tgz)$/i.test(path) ? gunzipOrThrow(bytes, path, fix) : bytes;
  try {
    // A plain .tar cut at an entry boundary would otherwise lose images without a word.
    return readTar(tar).filter((e) => e.type === "file").map((e) => ({
      path: e.name,
      shown: `${path}:${e.name}`,
      bytes: () => Promise.resolve(e.data),
    }));
  } catch (err) {
    if (err instanceof TarError) {
      throw new DatasetError(`${path} is not a valid tar archive (${err.message}); ${fix}.`);
    }
    throw err;
  }
}

async function folderFiles(root: string): Promise<FileEntry[]> {
  if (!(await isDirectory(root))) {
    throw new DatasetError(
      `${root} is neither a folder nor a .tar/.tar.gz archive; ${LAYOUT_HINT}.`,
    );
  }
  const out: FileEntry[] = [];
  const walk = async (dir: string, depth: number) => {
    for await (const e of Deno.readDir(dir)) {
      const full = join(dir, e.name);
      // A link counts as what it points to (a folder of links to a shared copy is a folder); a
      // dangling one as a file, so that reading it names it.
      const kind = e.isSymlink ? await Deno.stat(full).catch(() => undefined) : e;
      if (kind?.isDirectory && depth < 3) await walk(full, depth + 1);
      else if (!kind || kind.isFile) {
        out.push({
          path: relative(root, full).split(sep).join("/"),
          shown: full,
          bytes: () => Deno.readFile(full),
        });
      }
    }
  };
  await walk(root, 0);
  return out;
}

/**
 * Why a file did not decode, in a few words: libtensorflow's errors read "Invalid TF_Status: 3"
 * on their first line and say what was wrong on a "Message:" line.
 */
function decodeFailure(err: unknown): string {
  const text = String(err instanceof Error ? err.message : err);
  const message = text.match(/^Message: (.+)$/m)?.[1].trim();
  return message || firstLine(err);
}

/** tfjs-node's decoder, loaded on first use (the data layer does not need TensorFlow otherwise). */
async function tfjsDecoder(): Promise<ImageDecoder> {
  let tfn: any;
  try {
    tfn = await tfjsNodeModule();
  } catch (err) {
    throw new DatasetError(`Decoding images needs tfjs-node: ${firstLine(err)}`);
  }
  return (bytes) => {
    const t = tfn.node.decodeImage(bytes, 0, "int32", false);
    try {
      const [height, width, channels] = t.shape;
      return { height, width, channels, data: Uint8Array.from(t.dataSync()) };
    } finally {
      t.dispose();
    }
  };
}
