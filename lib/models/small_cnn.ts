/**
 * The small CNN for Fashion-MNIST-sized work (width w): [conv3x3(w)-BN-ReLU-maxpool2]
 * [conv3x3(2w)-BN-ReLU-maxpool2] [conv3x3(4w)-BN-ReLU] -> global average pool -> linear.
 * For 28x28 inputs that is 28->14->7.
 */
import type { Architecture } from "./architecture.ts";
import { convMacs } from "./architecture.ts";
import { type BN, bnParams, convBnRelu, convParam, linear, linearParams } from "./layers.ts";
import { globalAvgPool, maxPool2x2 } from "./ops.ts";
import type * as tf from "@tensorflow/tfjs-core";

const widths = (w: number) => [w, 2 * w, 4 * w];

export const SMALL_CNN: Architecture = {
  name: "smallcnn",
  title: "small CNN",
  widthMeaning: "channels of the first conv (8 in the default preset)",
  minInputSide: 4,
  build(b, spec) {
    const bns: BN[] = [];
    const convs: tf.Variable[] = [];
    let cin = spec.inputShape[2];
    widths(spec.width).forEach((cout, i) => {
      convs.push(convParam(b, `conv${i + 1}.weight`, 3, cin, cout));
      bns.push(bnParams(b, `bn${i + 1}`, cout));
      cin = cout;
    });
    const fc = linearParams(b, "linear", cin, spec.numClasses);
    return {
      bns,
      body: (x, mode, moments) => {
        let h = x;
        convs.forEach((c, i) => {
          h = convBnRelu(h, c, 1, bns[i], mode, moments);
          if (i < convs.length - 1) h = maxPool2x2(h);
        });
        return linear(globalAvgPool(h), fc);
      },
    };
  },
  forwardMacs(spec) {
    let [h, w, cin] = spec.inputShape;
    let macs = 0;
    widths(spec.width).forEach((cout, i) => {
      macs += convMacs(h, w, 3, cin, cout);
      cin = cout;
      if (i < 2) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
    });
    return macs + cin * spec.numClasses;
  },
};
