/**
 * PreActResNet-18 (the paper's model; Wei et al.'s model.py): conv3x3(w) -> 4 stages of 2
 * pre-activation blocks (lib/models/preact_block.ts) at widths w, 2w, 4w, 8w (stride 1, 2, 2, 2)
 * -> BN-ReLU -> global average pool -> linear (with bias). Global average pooling equals the
 * paper's 4x4 average pool at 32x32 input and also works for 28x28 inputs. Parameter names and
 * order are PyTorch's (conv1.weight, layer1.0.bn1.weight, ..., linear.bias).
 */
import type { Architecture } from "./architecture.ts";
import { convMacs } from "./architecture.ts";
import { type BN, bnParams, bnRelu, conv, convParam, linear, linearParams } from "./layers.ts";
import { globalAvgPool } from "./ops.ts";
import { type PreActBlock, preActBlock, preActBlockMacs, preActForward } from "./preact_block.ts";

const stages = (w: number) => [[w, 1], [2 * w, 2], [4 * w, 2], [8 * w, 2]];

export const PREACT_RESNET18: Architecture = {
  name: "prn18",
  title: "PreActResNet-18",
  widthMeaning: "channels of the first stage (64 in the paper)",
  minInputSide: 8,
  build(b, spec) {
    const w = spec.width;
    const bns: BN[] = [];
    const conv1 = convParam(b, "conv1.weight", 3, spec.inputShape[2], w);
    const blocks: PreActBlock[] = [];
    let inPlanes = w;
    stages(w).forEach(([planes, firstStride], li) => {
      for (let j = 0; j < 2; j++) {
        const p = `layer${li + 1}.${j}`;
        const names = {
          bn1: `${p}.bn1`,
          conv1: `${p}.conv1.weight`,
          bn2: `${p}.bn2`,
          conv2: `${p}.conv2.weight`,
          shortcut: `${p}.shortcut.0.weight`,
        };
        const stride = j === 0 ? firstStride : 1;
        blocks.push(preActBlock(b, bns, names, inPlanes, planes, stride, convParam));
        inPlanes = planes;
      }
    });
    const bnFinal = bnParams(b, "bn", 8 * w);
    bns.push(bnFinal);
    const fc = linearParams(b, "linear", 8 * w, spec.numClasses);
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
    const w = spec.width;
    let [h, wd] = spec.inputShape;
    let macs = convMacs(h, wd, 3, spec.inputShape[2], w);
    let inPlanes = w;
    for (const [planes, firstStride] of stages(w)) {
      for (let j = 0; j < 2; j++) {
        const r = preActBlockMacs(h, wd, inPlanes, planes, j === 0 ? firstStride : 1);
        [macs, h, wd, inPlanes] = [macs + r.macs, r.h, r.w, planes];
      }
    }
    return macs + inPlanes * spec.numClasses;
  },
};
