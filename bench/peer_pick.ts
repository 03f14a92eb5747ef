/**
 * Which PyTorch variant counts as "the peer" for a case (bench/bench.ts): the fastest fp32 one
 * (eager or torch.compile, any layout); the best eager, best compiled and best bf16 variants are
 * kept beside it. Pure, so tests/bench_test.ts can check the choice.
 */
import type { PeerVariant } from "./options.ts";

/** One variant's measurements in one case (medians over all its timed steps). */
export interface VariantResult {
  variant: PeerVariant;
  /** Median ms per step; NaN if the variant failed or was not run. */
  ms: number;
  /** CPU ms per step (all threads). */
  cpuMs: number;
  /** Peak RSS of the peer process while this variant ran, MB. */
  rssMb: number;
  /** Peak RSS above the RSS at the request's start (the largest over its requests), MB. */
  stepRssMb: number;
  /** Compile seconds spent in this case's warm-up (torch.compile only; 0 for eager). */
  compileS: number;
  /** Whether anything compiled during a timed step (the median would then include compilation). */
  recompiled: boolean;
}

export interface PeerPick {
  /** The fastest fp32 variant: what torch/ours is against. */
  best?: VariantResult;
  eager?: VariantResult;
  compiled?: VariantResult;
  bf16?: VariantResult;
}

/** The fastest of the results that pass `keep` and have a finite time (first wins a tie). */
function fastest(
  results: readonly VariantResult[],
  keep: (r: VariantResult) => boolean,
): VariantResult | undefined {
  let best: VariantResult | undefined;
  for (const r of results) {
    if (!keep(r) || !Number.isFinite(r.ms)) continue;
    if (!best || r.ms < best.ms) best = r;
  }
  return best;
}

export function bestOf(results: readonly VariantResult[]): PeerPick {
  return {
    best: fastest(results, (r) => r.variant.precision === "fp32"),
    eager: fastest(results, (r) => r.variant.precision === "fp32" && r.variant.mode === "eager"),
    compiled: fastest(
      results,
      (r) => r.variant.precision === "fp32" && r.variant.mode === "compile",
    ),
    bf16: fastest(results, (r) => r.variant.precision === "bf16"),
  };
}
