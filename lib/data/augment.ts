/**
 * Training-batch assembly with data augmentation, done in JavaScript on the flat NHWC arrays of a
 * Dataset: one pass gathers the shuffled examples, crops and flips them into a fresh batch array.
 * All randomness comes from the run's Rng (per example: crop row, crop column, flip), so resumed
 * runs see the same batches.
 *
 * Presets:
 * - "cifar": random crop to the original size from the image padded by 4 pixels with reflection
 *   (torchvision RandomCrop(32, padding=4, padding_mode="reflect")) + random horizontal flip,
 *   the authors' CIFAR augmentation.
 * - "fashion" (our choice for Fashion-MNIST): random crop from the image padded by 2 pixels with
 *   ZEROS + random horizontal flip. Zeros, because Fashion-MNIST's background is black and
 *   reflection would copy garment pixels into the border; 2 pixels, because its 28x28 items fill
 *   the frame more tightly than CIFAR objects; flips preserve every Fashion-MNIST class.
 * - "none": the examples as they are.
 */
import type { Rng } from "../util/rng.ts";
import { checkChoice } from "../util/validate.ts";

export interface AugmentSpec {
  /** Pixels of padding before the random crop (0 = no crop). */
  pad: number;
  padMode: "reflect" | "zero";
  flip: boolean;
}

export const AUGMENTS = ["cifar", "fashion", "none"] as const;
export type AugmentName = typeof AUGMENTS[number];

export const AUGMENT_PRESETS: Record<AugmentName, AugmentSpec> = {
  cifar: { pad: 4, padMode: "reflect", flip: true },
  fashion: { pad: 2, padMode: "zero", flip: true },
  none: { pad: 0, padMode: "zero", flip: false },
};

/** An augmentation in words, e.g. "random crop (4 px padding, reflect) + horizontal flip". */
export function describeAugment(name: AugmentName): string {
  const a = AUGMENT_PRESETS[name];
  const parts = [
    ...(a.pad > 0
      ? [`random crop (${a.pad} px padding, ${a.padMode === "reflect" ? "reflect" : "zeros"})`]
      : []),
    ...(a.flip ? ["horizontal flip"] : []),
  ];
  return parts.length ? parts.join(" + ") : "none";
}

export function checkAugment(name: unknown): AugmentName {
  return checkChoice("augment", name, AUGMENTS);
}

/** Reflect index i into [0, n) without repeating the edge (PyTorch "reflect"). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

export interface ImageArray {
  images: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/**
 * Gather examples `indices[start..end)` of `data` into a new [count, H, W, C] array, augmented
 * by `spec` with randomness from `rng` (no draws when spec is "none").
 */
export function gatherBatch(
  data: ImageArray,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  spec: AugmentSpec,
  rng: Rng,
): Float32Array {
  const { height: h, width: w, channels: c } = data;
  const src = data.images;
  const plane = h * w * c;
  const row = w * c;
  const count = end - start;
  const out = new Float32Array(count * plane);
  const identity = spec.pad === 0 && !spec.flip;
  const colMap = new Int32Array(w);
  for (let b = 0; b < count; b++) {
    const base = indices[start + b] * plane;
    const dst = b * plane;
    if (identity) {
      out.set(src.subarray(base, base + plane), dst);
      continue;
    }
    const oy = spec.pad > 0 ? rng.int(2 * spec.pad + 1) - spec.pad : 0;
    const ox = spec.pad > 0 ? rng.int(2 * spec.pad + 1) - spec.pad : 0;
    const flip = spec.flip && rng.float() < 0.5;
    // Output column j reads source column colMap[j] (-1 = zero padding).
    for (let j = 0; j < w; j++) {
      const jj = (flip ? w - 1 - j : j) + ox;
      colMap[j] = jj >= 0 && jj < w ? jj : spec.padMode === "reflect" ? reflect(jj, w) : -1;
    }
    for (let i = 0; i < h; i++) {
      let ii = i + oy;
      if (ii < 0 || ii >= h) {
        if (spec.padMode === "zero") continue; // the row stays zero
        ii = reflect(ii, h);
      }
      const srcRow = base + ii * row;
      const dstRow = dst + i * row;
      for (let j = 0; j < w; j++) {
        const sj = colMap[j];
        if (sj < 0) continue;
        const s = srcRow + sj * c;
        const d = dstRow + j * c;
        for (let k = 0; k < c; k++) out[d + k] = src[s + k];
      }
    }
  }
  return out;
}
