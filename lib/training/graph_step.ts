/**
 * A training step that runs as one libtensorflow graph once it has been seen to be replayable
 * (tfjs-node only): lib/backend/graph_replay.ts with the batch, the labels and the learning rate as
 * inputs, the loss as output, and the step's Rng (TrainStep.rng) for its random draws (PGD's random
 * start in AT). Why: TensorFlow's eager runtime costs ~20 µs per op on these machines, and a
 * PreActResNet-18 step is 600-1000 ops. The graph ran PRN-18 width 16 steps 1.3-1.4x faster than
 * eager with bit-identical results (bench/NOTES.md).
 *
 * Per input shape: one plain eager call, two recorded eager calls, then the graph, after it gave
 * the second recorded call's results (every updated variable and the loss) twice within
 * `tolerance` (default 0: bit for bit; lib/backend/speed_settings.ts REPLAY). A shape whose graph
 * does not stays eager, with the reason in status().
 *
 * This project's steps (PreActResNet-18 and the small CNN; ST, SAM, AT L-inf and L2) replay bit for
 * bit; the rules and guards that took are listed in lib/backend/speed_settings.ts.
 */
import * as tf from "@tensorflow/tfjs-core";
import { replayable } from "../backend/graph_replay.ts";
import { nodeBackend } from "../backend/op_trace.ts";
import { REPLAY } from "../backend/speed_settings.ts";
import type { LearningRate } from "../optim/sgd.ts";
import type { TrainStep } from "./train.ts";

/** Default agreement asked of the graph against the eager step it was built from (0: bit for bit). */
export const GRAPH_STEP_TOLERANCE = REPLAY.tolerance;

export interface GraphStepStatus {
  /** Input shapes ("128x28x28x1/128") whose step runs as a graph. */
  graphs: string[];
  /** Input shapes that stay eager, with the reason. */
  eager: Record<string, string>;
  /** Largest relative difference seen when a graph was checked against its eager step. */
  worstDifference: number;
  /** Steps run as a graph so far. */
  graphSteps: number;
}

export type GraphTrainStep = TrainStep & { status(): GraphStepStatus; dispose(): void };

/**
 * `eager` (a lib/training/train.ts TrainStep) that runs as one graph per input shape once that is
 * safe (see the top of this file). On a backend other than tfjs-node it is `eager` unchanged.
 */
export function graphTrainStep(
  eager: TrainStep,
  tolerance: number = GRAPH_STEP_TOLERANCE,
): GraphTrainStep {
  if (nodeBackend() === null) {
    const none: GraphStepStatus = { graphs: [], eager: {}, worstDifference: 0, graphSteps: 0 };
    return Object.assign((x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate) => eager(x, y, lr), {
      rng: eager.rng,
      status: () => structuredClone(none),
      dispose: () => {},
    });
  }
  const replay = replayable(
    async ([x, y, lr]) => [await eager(x as tf.Tensor4D, y as tf.Tensor1D, lr as tf.Scalar)],
    {
      tolerance,
      rng: eager.rng,
      keyOf: ([x, y]) => `${x.shape.join("x")}/${y.shape.join("x")}`,
    },
  );
  const step = async (x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate): Promise<tf.Scalar> => {
    const lrT = typeof lr === "number" ? tf.scalar(lr) : lr;
    try {
      const [loss] = await replay([x, y, lrT]);
      return loss as tf.Scalar;
    } finally {
      if (lrT !== lr) lrT.dispose();
    }
  };
  return Object.assign(step, {
    rng: eager.rng,
    status: (): GraphStepStatus => {
      const s = replay.status();
      return {
        graphs: s.graphs,
        eager: s.eager,
        worstDifference: s.worstDifference,
        graphSteps: s.graphCalls,
      };
    },
    dispose: () => replay.dispose(),
  });
}
