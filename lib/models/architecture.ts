/**
 * What an architecture is, for the rest of the project: a name, what its `width` means, the
 * smallest input it takes, how to build its parameters and forward pass from the shared layer
 * builders (lib/models/layers.ts), and the multiply-adds of one image's forward pass (the cost
 * models and the benchmark's FLOP counts derive from it). Registered in lib/models/architectures.ts;
 * tests/architectures_contract_test.ts checks every registered one.
 */
import type { BatchMoments } from "./ops.ts";
import type { BN, Body, Builder } from "./layers.ts";
import type { ModelSpec } from "./model.ts";

export type { BatchMoments };

export interface Architecture {
  name: string;
  /** For labels, e.g. "PreActResNet-18". */
  title: string;
  /** What ModelSpec.width means for it, e.g. "channels of the first stage (64 in the paper)". */
  widthMeaning: string;
  /** Images must be at least this many pixels high and wide. */
  minInputSide: number;
  /** Parameters in PyTorch's registration order; `bns` in forward's BatchNorm order. */
  build(b: Builder, spec: ModelSpec): { body: Body; bns: BN[] };
  /** Multiply-adds of one image's forward pass (convolutions and linear layers). */
  forwardMacs(spec: ModelSpec): number;
}

/** Output side of a k x k conv at `stride` with PyTorch's (k-1)/2 padding. */
export function convOut(side: number, stride: number): number {
  return Math.floor((side - 1) / stride) + 1;
}

/** Multiply-adds of a k x k conv producing an h x w x cout map from cin channels. */
export function convMacs(h: number, w: number, k: number, cin: number, cout: number): number {
  return h * w * k * k * cin * cout;
}
