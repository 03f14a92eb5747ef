/**
 * FLOPs of the benchmark's steps, from each architecture's own multiply-add count (checked against
 * PyTorch forward hooks on bench/peer_torch.py's models in tests/bench_test.ts) and the passes the
 * plugins state: the optimizer's gradient passes (lib/optim/) and the attack's passes
 * (lib/attacks/attack.ts AttackPasses). No method is priced by its name.
 *
 * Convention, with F the forward FLOPs of the batch:
 *   forward pass                                        1F
 *   input-gradient pass: forward + backward to the input 2F (the backward to the input costs what
 *                        the forward does; an attack asks for nothing else, as the peer's
 *                        torch.autograd.grad w.r.t. the input)
 *   gradient pass: forward + backward to the weights and the input  3F (as the usual 3x rule)
 * So ST 3F, SAM 6F, AT-10 10 x 2F + 3F = 23F, PGD-10 evaluation (clean and adversarial forward
 * beside the attack) 2F + 10 x 2F = 22F.
 */
import type { AttackSpec } from "../lib/attacks/attack.ts";
import { attackPasses, resolveAttack } from "../lib/attacks/registry.ts";
import { type Arch, forwardMacs } from "../lib/models/model.ts";
import { type Method as TrainMethod, optimizerPasses } from "../lib/training/method.ts";

/** What the benchmark times: a training step of a method, or an evaluation batch. */
export type Method = "ST" | "SAM" | "AT" | "EVAL";

export interface ModelCase {
  arch: Arch;
  width: number;
  size: number;
  channels: number;
  label: string;
}

/** Passes through the model of one step, per image, by kind (FLOPs: 3F, 2F, 1F; see above). */
export interface StepPasses {
  /** Forward + backward to the weights (and the input). */
  gradient: number;
  /** Forward + backward to the input only (an attack's gradient step). */
  inputGradient: number;
  /** Forward only. */
  forward: number;
}

/** A training step: the optimizer's gradient passes, after the passes of the attack making its inputs. */
export function trainStepPasses(m: TrainMethod): StepPasses {
  const a = m.perturb ? attackPasses(resolveAttack(m.perturb)) : { inputGradient: 0, forward: 0 };
  return { gradient: optimizerPasses(m), ...a };
}

/** An evaluation batch: the clean forward, the attack's passes, the forward on its examples. */
export function evalStepPasses(attack: AttackSpec): StepPasses {
  const a = attackPasses(resolveAttack(attack));
  return { gradient: 0, inputGradient: a.inputGradient, forward: a.forward + 2 };
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

/** FLOPs of one batch step of these passes: (3 gradient + 2 input-gradient + 1 forward) x F. */
export function stepFlops(m: ModelCase, passes: StepPasses, batch: number): number {
  const f = forwardFlops(m) * batch;
  return (3 * passes.gradient + 2 * passes.inputGradient + passes.forward) * f;
}
