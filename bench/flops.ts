/**
 * FLOPs of the benchmark's steps, from each architecture's own multiply-add count (checked against
 * PyTorch forward hooks on bench/peer_torch.py's models in tests/bench_test.ts).
 */
import { type Arch, forwardMacs } from "../lib/models/model.ts";

export type Method = "ST" | "SAM" | "AT" | "EVAL";

export interface ModelCase {
  arch: Arch;
  width: number;
  size: number;
  channels: number;
  label: string;
}

/** Forward FLOPs of one image: 2 x the architecture's multiply-adds (lib/models/architectures.ts). */
export function forwardFlops(m: ModelCase, classes = 10): number {
  const c = m.channels;
  return 2 * forwardMacs({
    arch: m.arch,
    width: m.width,
    inputShape: [m.size, m.size, c],
    numClasses: classes,
    mean: new Array(c).fill(0),
    std: new Array(c).fill(1),
  });
}

/** FLOPs of one batch step: ST 3F, SAM 6F, AT-10 10 x (F + F) + 3F, EVAL 10 x 2F + 2F. */
export function stepFlops(m: ModelCase, method: Method, batch: number): number {
  const f = forwardFlops(m) * batch;
  return { ST: 3 * f, SAM: 6 * f, AT: 23 * f, EVAL: 22 * f }[method];
}
