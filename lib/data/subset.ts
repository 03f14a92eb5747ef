/**
 * Seeded, class-stratified subsets of a dataset (the small CPU presets train on them).
 *
 * The shuffle draws from its own mulberry32 generator, not from lib/util/rng.ts (xoshiro128**):
 * the committed results (results/*.csv, the rendered report) were trained on the images this
 * generator picks, and another generator would pick other images for the same seed, so every
 * preset that takes a subset would stop reproducing its committed rows. tests/data_split_test.ts
 * pins the picks.
 */
import { type Dataset, DatasetError } from "./dataset.ts";

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

/** Small, fast, seedable PRNG (uniform in [0, 1)); kept as it is, see the module comment. */
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
