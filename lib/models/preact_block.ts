/**
 * The pre-activation residual block that PreActResNet-18 and WideResNet share (He et al. 2016;
 * Zagoruyko & Komodakis 2016 use the same order): a = relu(bn1(x)); shortcut = conv1x1(a, stride)
 * on a stride or width change, else x; out = conv3x3(relu(bn2(conv3x3(a, stride))), 1) + shortcut.
 * Convs have no bias. Parameters are created in PyTorch's order: bn1, conv1, bn2, conv2, shortcut.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchMoments } from "./ops.ts";
import { type BN, bnParams, bnRelu, type Builder, conv, convBnRelu, type Mode } from "./layers.ts";
import { convMacs, convOut } from "./architecture.ts";

export interface PreActBlock {
  bn1: BN;
  conv1: tf.Variable;
  bn2: BN;
  conv2: tf.Variable;
  shortcut?: tf.Variable;
  stride: number;
}

/** Parameter names of a block (PyTorch's, which differ between the two model zoos). */
export interface BlockNames {
  bn1: string;
  conv1: string;
  bn2: string;
  conv2: string;
  shortcut: string;
}

/** A conv weight's builder: (builder, name, k, cin, cout) -> variable, with its initialisation. */
export type ConvInit = (
  b: Builder,
  name: string,
  k: number,
  cin: number,
  cout: number,
) => tf.Variable;

export function preActBlock(
  b: Builder,
  bns: BN[],
  names: BlockNames,
  inPlanes: number,
  planes: number,
  stride: number,
  convInit: ConvInit,
): PreActBlock {
  const bnOf = (name: string, c: number) => {
    const bn = bnParams(b, name, c);
    bns.push(bn);
    return bn;
  };
  const blk: PreActBlock = {
    bn1: bnOf(names.bn1, inPlanes),
    conv1: convInit(b, names.conv1, 3, inPlanes, planes),
    bn2: bnOf(names.bn2, planes),
    conv2: convInit(b, names.conv2, 3, planes, planes),
    stride,
  };
  if (stride !== 1 || inPlanes !== planes) {
    blk.shortcut = convInit(b, names.shortcut, 1, inPlanes, planes);
  }
  return blk;
}

export function preActForward(
  blk: PreActBlock,
  x: tf.Tensor4D,
  mode: Mode,
  moments?: BatchMoments[],
): tf.Tensor4D {
  const a = bnRelu(x, blk.bn1, mode, moments);
  const shortcut = blk.shortcut ? conv(a, blk.shortcut, blk.stride) : x;
  const h = convBnRelu(a, blk.conv1, blk.stride, blk.bn2, mode, moments);
  return tf.add(conv(h, blk.conv2, 1), shortcut);
}

/** Multiply-adds of one block on an h x w input; returns them with the output side. */
export function preActBlockMacs(
  h: number,
  w: number,
  inPlanes: number,
  planes: number,
  stride: number,
): { macs: number; h: number; w: number } {
  const [ho, wo] = [convOut(h, stride), convOut(w, stride)];
  let macs = convMacs(ho, wo, 3, inPlanes, planes) + convMacs(ho, wo, 3, planes, planes);
  if (stride !== 1 || inPlanes !== planes) macs += convMacs(ho, wo, 1, inPlanes, planes);
  return { macs, h: ho, w: wo };
}
