/**
 * The one pseudo-random generator of a training run: model init, shuffling, augmentation and the
 * PGD random starts all draw from it, and its whole state is four 32-bit words that a checkpoint
 * stores, so a resumed run draws exactly the numbers an uninterrupted run would have drawn.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna), seeded through splitmix32. Numbers are generated in
 * JavaScript, not by the backend, so every backend sees the same noise for the same seed.
 */

import { fnv1aText } from "./fnv1a.ts";

export type RngState = [number, number, number, number];

/** One fillUniform or fillNormal call: its parameters and what it drew. */
export type RngDraw =
  | { kind: "uniform"; lo: number; hi: number; values: Float32Array }
  | { kind: "normal"; values: Float32Array };

const TWO_POW_32 = 4294967296;

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  #s: Uint32Array;
  /**
   * While not null, fillUniform and fillNormal append their draws here. lib/training/graph_step.ts
   * uses this to feed a step's random starts to its graph; it checks by the state that nothing else
   * was drawn meanwhile.
   */
  draws: RngDraw[] | null = null;

  private constructor(state: ArrayLike<number>) {
    this.#s = Uint32Array.from(state);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1; // xoshiro's one forbidden state
  }

  /** A generator from an integer seed (0 ≤ seed < 2^32). */
  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
      throw new RangeError(
        `Invalid option seed: got ${seed}, expected an integer in [0, 4294967295].`,
      );
    }
    const sm = splitmix32(seed);
    return new Rng([sm(), sm(), sm(), sm()]);
  }

  /** A generator continuing from a state saved by getState(). */
  static fromState(state: readonly number[]): Rng {
    if (
      !Array.isArray(state) || state.length !== 4 ||
      !state.every((v) => Number.isInteger(v) && v >= 0 && v < TWO_POW_32)
    ) {
      throw new RangeError(
        `Invalid RNG state: got ${JSON.stringify(state)}, expected four integers in [0, 2^32).`,
      );
    }
    return new Rng(state);
  }

  /** The state as four plain numbers (JSON-safe). */
  getState(): RngState {
    return [this.#s[0], this.#s[1], this.#s[2], this.#s[3]];
  }

  setState(state: readonly number[]): void {
    this.#s = Rng.fromState(state).#s;
  }

  /** An independent generator seeded from this one (advances this one by two draws). */
  fork(): Rng {
    const sm = splitmix32(this.uint32() ^ Math.imul(this.uint32(), 0x27d4eb2d));
    return new Rng([sm(), sm(), sm(), sm()]);
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  float(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Fill with uniform numbers in [lo, hi). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    const span = hi - lo;
    for (let i = 0; i < out.length; i++) out[i] = lo + span * this.float();
    this.draws?.push({ kind: "uniform", lo, hi, values: out });
    return out;
  }

  /** Fill with standard normal numbers (Box-Muller, both outputs used). */
  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.float(); // (0, 1]: log stays finite
      const u2 = this.float();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    this.draws?.push({ kind: "normal", values: out });
    return out;
  }
}

/** Draw again what `d` drew, of the same kind, parameters and length, from `rng` (advancing it). */
export function redraw(rng: Rng, d: RngDraw): Float32Array {
  const out = new Float32Array(d.values.length);
  return d.kind === "uniform" ? rng.fillUniform(out, d.lo, d.hi) : rng.fillNormal(out);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A 32-bit seed from a string (FNV-1a): independent noise streams named by key. */
export function seedFromString(text: string): number {
  return fnv1aText(text);
}
