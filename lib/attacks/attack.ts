/**
 * The one interface every attack implements (torchattacks' pattern: one file per attack behind
 * one base). An attack gets the model and the mode to run it in from its caller, the threat model
 * (norm, eps), its own resolved options and an Rng; it returns adversarial examples inside the
 * eps-ball around x and inside the box (default [0, 1]). Evaluation runs attacks in "eval" mode,
 * adversarial training in "train" mode (batch statistics, as the authors do).
 *
 * Attacks are registered by name in ./registry.ts; an attack use (name + threat + options) is an
 * AttackSpec, and attackKey() names its results column, e.g. "pgd10_linf_8_255".
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { BatchMoments, Classifier, Mode } from "../models/model.ts";
import type { Rng } from "../util/rng.ts";
import type { AttackGraphs } from "./attack_graphs.ts";
import { checkChoice, checkNumber } from "../util/validate.ts";

export const NORMS = ["linf", "l2"] as const;
export type Norm = typeof NORMS[number];

/** Where an attack may move x: the norm ball of radius eps (in [0, 1] pixel units). */
export interface ThreatModel {
  norm: Norm;
  eps: number;
}

/** What the caller owns: the model, the mode it runs in, the noise, the box. */
export interface AttackTarget {
  model: Classifier;
  /** "eval" (running BN statistics) for evaluation, "train" inside adversarial training. */
  mode: Mode;
  rng: Rng;
  /** Train mode only: every attack forward pass pushes its BN batch moments here when given. */
  moments?: BatchMoments[];
  /** Box the examples are clamped to: default [0, 1]; null = none (non-pixel inputs). */
  bounds?: readonly [number, number] | null;
  /**
   * The graph engine's replays of the attack iterations (./attack_graphs.ts), eval mode only;
   * absent = every iteration runs eager. Either way the results are the same, bit for bit.
   */
  graphs?: AttackGraphs;
}

// deno-lint-ignore no-explicit-any
export type AttackOptions = Record<string, any>;

/**
 * What one use of an attack costs per example, in passes through the model (the planner's time
 * estimates, the cost table and the bench's FLOP count are derived from these, never from names):
 *   inputGradient  forward + backward to the input (one PGD step, one APGD iteration);
 *   forward        forward only (one Square query).
 * Counted per example the attack starts on; bookkeeping outside the model is not counted.
 */
export interface AttackPasses {
  inputGradient: number;
  forward: number;
}

export interface Attack<O extends AttackOptions = AttackOptions> {
  /** Registry name, e.g. "pgd", "apgd-ce". */
  readonly name: string;
  /** One line for --help and the report. */
  readonly summary: string;
  /** Uses gradients (false for black-box attacks such as Square). */
  readonly whiteBox: boolean;
  /** Fill this attack's defaults (which may depend on the threat) and check every option. */
  resolve(options: Partial<O>, threat: ThreatModel): O;
  /** Short tag of the attack and its budget for column keys: "pgd10", "apgdce100", "square5000". */
  tag(options: O): string;
  /** Passes through the model per example at these (resolved) options: see AttackPasses. */
  passes(options: O): AttackPasses;
  /** Adversarial examples for the batch (the caller disposes them); x [N,H,W,C], y int32 [N]. */
  run(
    target: AttackTarget,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    threat: ThreatModel,
    options: O,
  ): Promise<tf.Tensor4D>;
}

/** One use of an attack: which, where, with what options (unset options take its defaults). */
export interface AttackSpec {
  attack: string;
  norm: Norm;
  eps: number;
  options?: AttackOptions;
}

export function checkThreat(t: ThreatModel, prefix = ""): ThreatModel {
  checkChoice(`${prefix}norm`, t.norm, NORMS);
  checkNumber(`${prefix}eps`, t.eps, { min: 0, max: 1 });
  return t;
}

/** "8_255" for eps = 8/255; other radii print as "eps0.01". */
export function epsLabel(eps: number): string {
  const k = eps * 255;
  const whole = Math.round(k);
  if (Math.abs(k - whole) < 1e-6) return `${whole}_255`;
  return `eps${Number(eps.toPrecision(6))}`;
}

/** "linf_8_255": the threat part of a column key. */
export function threatKey(norm: Norm, eps: number): string {
  return `${norm}_${epsLabel(eps)}`;
}

/** "L∞ 8/255" for labels. */
export function threatLabel(norm: Norm, eps: number): string {
  const k = eps * 255;
  const r = Math.abs(k - Math.round(k)) < 1e-6 ? `${Math.round(k)}/255` : `${eps}`;
  return `${norm === "linf" ? "L∞" : "L2"} ${r}`;
}
