/**
 * Tiny image folders for tests: `<split>/<class>/<file>` PNG or JPEG images encoded with
 * tfjs-node's own encoders, written to a temp folder or packed as a tar / tar.gz archive. Each
 * image's pixels say which (split, class, file) it is, so a test can check that every decoded
 * image carries its own label, whatever order the loader puts them in.
 */
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { tfjsNodeModule } from "../lib/backend/backend.ts";
import { tarOf } from "./tar_bytes.ts";

export type Split = "train" | "test";

export interface FixtureImage {
  /** "/"-separated, relative to the folder's root (without any wrapping folder). */
  path: string;
  split: Split;
  /** Class folder name. */
  className: string;
  file: string;
  height: number;
  width: number;
  channels: number;
  /** What the image holds (height x width x channels, HWC); a JPEG decodes to about this. */
  pixels: Uint8Array;
  /** The encoded file. */
  bytes: Uint8Array;
}

export interface FolderSpec {
  /** Class folder names, in the order their images are written (not necessarily label order). */
  classes: readonly string[];
  /** File names of every class, per split; the extension picks the format (.png, .jpg/.jpeg). */
  files: Record<Split, readonly string[]>;
  /** [height, width, channels] of every image; default [4, 5, 3]. */
  shape?: readonly [number, number, number];
}

/**
 * Pixel values of an image: PNG is lossless, so every pixel differs (a transposed or shifted
 * image shows); JPEG is lossy, so its images are one flat colour per image, which q95 keeps to a
 * few levels.
 */
export function fixturePixels(
  split: Split,
  classIndex: number,
  fileIndex: number,
  shape: readonly [number, number, number],
  jpeg: boolean,
): Uint8Array {
  const [h, w, c] = shape;
  const s = split === "train" ? 0 : 1;
  const out = new Uint8Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    for (let ch = 0; ch < c; ch++) {
      out[p * c + ch] = jpeg
        ? [20 + 45 * classIndex, 20 + 40 * fileIndex, 60 + 120 * s][ch % 3] % 256
        : (s * 101 + classIndex * 53 + fileIndex * 29 + p * 7 + ch * 85) % 256;
    }
  }
  return out;
}

let tfn: any;
async function node(): Promise<any> {
  return tfn ??= await tfjsNodeModule();
}

/** PNG or JPEG (quality 95) bytes of HWC uint8 pixels. */
export async function encodeImage(
  pixels: Uint8Array,
  shape: readonly [number, number, number],
  format: "png" | "jpeg",
): Promise<Uint8Array> {
  const tf = await node();
  const t = tf.tensor3d(pixels, [...shape], "int32");
  try {
    const bytes = format === "png"
      ? await tf.node.encodePng(t)
      : await tf.node.encodeJpeg(t, shape[2] === 1 ? "grayscale" : "rgb", 95);
    return new Uint8Array(bytes);
  } finally {
    t.dispose();
  }
}

/** The images of a spec, split by split, class by class, file by file as listed. */
export async function fixtureImages(spec: FolderSpec): Promise<FixtureImage[]> {
  const shape = spec.shape ?? [4, 5, 3];
  const out: FixtureImage[] = [];
  for (const split of ["train", "test"] as const) {
    for (const [ci, className] of spec.classes.entries()) {
      for (const [fi, file] of spec.files[split].entries()) {
        const jpeg = /\.jpe?g$/i.test(file);
        const pixels = fixturePixels(split, ci, fi, shape, jpeg);
        out.push({
          path: `${split}/${className}/${file}`,
          split,
          className,
          file,
          height: shape[0],
          width: shape[1],
          channels: shape[2],
          pixels,
          bytes: await encodeImage(pixels, shape, jpeg ? "jpeg" : "png"),
        });
      }
    }
  }
  return out;
}

/** Write (path, bytes) files under `root` (folders made as needed); returns root. */
export async function writeFiles(
  root: string,
  files: Iterable<readonly [string, Uint8Array]>,
): Promise<string> {
  for (const [path, bytes] of files) {
    await Deno.mkdir(dirname(join(root, path)), { recursive: true });
    await Deno.writeFile(join(root, path), bytes);
  }
  return root;
}

/** (path, bytes) of images, optionally inside one wrapping folder. */
export function entriesOf(
  images: readonly FixtureImage[],
  wrap = "",
): [string, Uint8Array][] {
  return images.map((im) => [wrap ? `${wrap}/${im.path}` : im.path, im.bytes]);
}

/** A tar archive of the entries, in the order given. */
export function tarBytes(entries: Iterable<readonly [string, Uint8Array]>): Uint8Array {
  return tarOf(entries);
}

/** A tar.gz archive of the entries (a plain Uint8Array, not a Buffer). */
export function tarGzBytes(entries: Iterable<readonly [string, Uint8Array]>): Uint8Array {
  return new Uint8Array(gzipSync(tarOf(entries)));
}
