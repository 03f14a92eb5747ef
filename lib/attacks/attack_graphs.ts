/**
 * The graph engine for attacks: each attack's repeated iteration (PGD's and FGSM's gradient step
 * with its projection, APGD's step, Square's candidate scoring) is a lib/backend/graph_replay.ts
 * replayable, kept here under a key that names everything the iteration's code depends on besides
 * its input tensors (attack, norm, eps, step size, box, mode). The caller that owns the model and
 * its evaluation (lib/training/evaluate.ts) makes one AttackGraphs per evaluation, passes it in
 * AttackTarget.graphs, and disposes it afterwards; without one, attacks run eager.
 *
 * An iteration is replayed only after its graph gave the eager iteration's results bit for bit
 * (lib/backend/speed_settings.ts REPLAY), so an attack's adversarial examples, and every accuracy
 * and robust flag, are the eager engine's. Attacks run in eval mode only use it: in train mode (AT)
 * the forward passes push BatchNorm moments, a side effect a graph would not repeat, and the whole
 * training step is replayed instead (lib/training/graph_step.ts).
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  type Replayable,
  replayable,
  type ReplayableSync,
  replayableSync,
  type ReplayFn,
  type ReplayOptions,
} from "../backend/graph_replay.ts";
import type { AttackTarget } from "./attack.ts";

export interface AttackGraphStatus {
  /** Iterations run as a graph. */
  graphCalls: number;
  /** "key @ shapes" whose iterations run as a graph. */
  graphs: string[];
  /** "key @ shapes" that stay eager, with the reason. */
  eager: Record<string, string>;
}

export class AttackGraphs {
  #fns = new Map<string, Replayable | ReplayableSync>();

  /** The replayable of `key`, made from make() on first use (with `options`, e.g. warmCalls). */
  get(key: string, make: () => ReplayFn, options: ReplayOptions = {}): Replayable {
    let f = this.#fns.get(`async ${key}`) as Replayable | undefined;
    if (!f) {
      f = replayable(make(), options);
      this.#fns.set(`async ${key}`, f);
    }
    return f;
  }

  /** get() for a synchronous iteration (PGD's, so that pgd() itself can replay). */
  getSync(
    key: string,
    make: () => (inputs: readonly tf.Tensor[]) => tf.Tensor[],
    options: ReplayOptions = {},
  ): ReplayableSync {
    let f = this.#fns.get(`sync ${key}`) as ReplayableSync | undefined;
    if (!f) {
      f = replayableSync(make(), options);
      this.#fns.set(`sync ${key}`, f);
    }
    return f;
  }

  status(): AttackGraphStatus {
    const out: AttackGraphStatus = { graphCalls: 0, graphs: [], eager: {} };
    for (const [key, f] of this.#fns) {
      const s = f.status();
      out.graphCalls += s.graphCalls;
      const name = key.replace(/^(a?sync) /, "");
      out.graphs.push(...s.graphs.map((g) => `${name} @ ${g}`));
      for (const [g, why] of Object.entries(s.eager)) out.eager[`${name} @ ${g}`] = why;
    }
    return out;
  }

  dispose(): void {
    for (const f of this.#fns.values()) f.dispose();
    this.#fns.clear();
  }
}

/**
 * Run `f` on `inputs` through target.graphs under `key` when the target has one and runs in eval
 * mode; else eagerly (f itself). f must compute its results from its inputs alone (plus the model's
 * variables and constants fixed by `key`).
 */
export async function iterate(
  target: Pick<AttackTarget, "graphs" | "mode">,
  key: string,
  f: ReplayFn,
  inputs: tf.Tensor[],
  options: ReplayOptions = {},
): Promise<tf.Tensor[]> {
  if (!target.graphs || target.mode !== "eval") return [...await f(inputs)];
  return target.graphs.get(key, () => f, options)(inputs);
}
