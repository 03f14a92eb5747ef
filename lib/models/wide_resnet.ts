/**
 * WRN-16-k, the WideResNet family most robustness leaderboards report (Zagoruyko & Komodakis,
 * "Wide Residual Networks", BMVC 2016; the layout of RobustBench's WideResNet): conv3x3(16) ->
 * 3 groups of (16-4)/6 = 2 pre-activation blocks (lib/models/preact_block.ts) at 16k, 32k, 64k
 * channels (stride 1, 2, 2) -> BN-ReLU -> global average pool -> linear. Here `width` is the widen
 * factor k (WRN-16-8: width 8). No dropout (RobustBench's models use none).
 *
 * Initialisation as the reference code: conv weights N(0, 2 / (k*k*out_channels)), BatchNorm 1
 * and 0, linear weight PyTorch's default U(+-1/sqrt(fan_in)) and bias 0; parameter names as
 * RobustBench's (conv1.weight, block1.layer.0.bn1.weight, ..., convShortcut, bn1, fc).
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Architecture } from "./architecture.ts";
import { convMacs } from "./architecture.ts";
import {
  addParam,
  type BN,
  bnParams,
  bnRelu,
  type Builder,
  conv,
  linear,
  uniform,
} from "./layers.ts";
import { globalAvgPool } from "./ops.ts";
import { type PreActBlock, preActBlock, preActBlockMacs, preActForward } from "./preact_block.ts";

const DEPTH = 16;
const BLOCKS_PER_GROUP = (DEPTH - 4) / 6;
const groups = (k: number) => [[16 * k, 1], [32 * k, 2], [64 * k, 2]];

function kaimingConv(b: Builder, name: string, k: number, cin: number, cout: number): tf.Variable {
  const values = b.rng.fillNormal(new Float32Array(k * k * cin * cout));
  const std = Math.sqrt(2 / (k * k * cout));
  for (let i = 0; i < values.length; i++) values[i] *= std;
  return addParam(b, name, [k, k, cin, cout], values);
}

export const WIDE_RESNET_16: Architecture = {
  name: "wrn16",
  title: "WRN-16-k",
  widthMeaning: "the widen factor k (channels 16k, 32k, 64k; WRN-16-8: width 8)",
  minInputSide: 4,
  build(b, spec) {
    const bns: BN[] = [];
    const conv1 = kaimingConv(b, "conv1.weight", 3, spec.inputShape[2], 16);
    const blocks: PreActBlock[] = [];
    let inPlanes = 16;
    groups(spec.width).forEach(([planes, firstStride], gi) => {
      for (let j = 0; j < BLOCKS_PER_GROUP; j++) {
        const p = `block${gi + 1}.layer.${j}`;
        const names = {
          bn1: `${p}.bn1`,
          conv1: `${p}.conv1.weight`,
          bn2: `${p}.bn2`,
          conv2: `${p}.conv2.weight`,
          shortcut: `${p}.convShortcut.weight`,
        };
        const stride = j === 0 ? firstStride : 1;
        blocks.push(preActBlock(b, bns, names, inPlanes, planes, stride, kaimingConv));
        inPlanes = planes;
      }
    });
    const bnFinal = bnParams(b, "bn1", inPlanes);
    bns.push(bnFinal);
    const bound = 1 / Math.sqrt(inPlanes);
    const fc = {
      w: addParam(
        b,
        "fc.weight",
        [inPlanes, spec.numClasses],
        uniform(b.rng, inPlanes * spec.numClasses, bound),
      ),
      b: addParam(b, "fc.bias", [spec.numClasses], new Float32Array(spec.numClasses)),
    };
    return {
      bns,
      body: (x, mode, moments) => {
        let out = conv(x, conv1, 1);
        for (const blk of blocks) out = preActForward(blk, out, mode, moments);
        return linear(globalAvgPool(bnRelu(out, bnFinal, mode, moments)), fc);
      },
    };
  },
  forwardMacs(spec) {
    let [h, w] = spec.inputShape;
    let macs = convMacs(h, w, 3, spec.inputShape[2], 16);
    let inPlanes = 16;
    for (const [planes, firstStride] of groups(spec.width)) {
      for (let j = 0; j < BLOCKS_PER_GROUP; j++) {
        const r = preActBlockMacs(h, w, inPlanes, planes, j === 0 ? firstStride : 1);
        [macs, h, w, inPlanes] = [macs + r.macs, r.h, r.w, planes];
      }
    }
    return macs + inPlanes * spec.numClasses;
  },
};
