/**
 * What an optimizer is, for the rest of the project (the attacks' pattern, lib/attacks/attack.ts):
 * a name, its options with defaults and validation, the gradient passes one step costs (the cost
 * models' unit), labels for tables, its results-CSV columns, and an Updater that makes one update
 * of the base SGD's parameters (momentum and weight decay stay in lib/optim/sgd.ts, as davda54/sam
 * wraps any base optimizer). Registered in lib/optim/registry.ts; tests/optimizers_contract_test.ts
 * checks every registered one.
 *
 * A method's optimizer is written flat, `{ name, ...options }` (e.g. { name: "sam", rho: 0.1,
 * adaptive: false }): that is the form the committed results' run keys hash, so it stays.
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { NamedArray } from "../models/model.ts";
import type { LearningRate, Sgd } from "./sgd.ts";

/** An optimizer as a method names it: its name and its options, flat. */
export interface OptimizerSpec {
  name: string;
  [option: string]: unknown;
}

/**
 * The training loss at the current weights for gradient pass `pass` (1 = the first pass of the
 * step); the caller decides which passes update BatchNorm's running statistics.
 */
export type PassLoss = (pass: number) => tf.Scalar;

/** One run's updater: makes each step, and keeps whatever state the optimizer has beyond SGD's. */
export interface Updater {
  /** One update of the base optimizer's params; returns the first pass's loss (caller disposes). */
  step(loss: PassLoss, lr: LearningRate): tf.Scalar;
  /** Extra state as plain arrays (keys "<optimizer>:..."), for checkpoints; {} when none. */
  exportState(names: readonly string[]): Record<string, NamedArray>;
  importState(names: readonly string[], state: Record<string, NamedArray>): void;
  dispose(): void;
}

export interface Optimizer<O extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  /** Option names, for checkKnownKeys and --help. */
  optionNames: readonly string[];
  /** Fill defaults and check every option (OptionError naming the first bad one). */
  resolve(options: Record<string, unknown>): O;
  /** Gradient passes per step, averaged over steps when it varies (SGD 1, SAM 2). */
  gradientPasses(options: O): number;
  /** The table family: "" for plain SGD, else e.g. "SAM", "ASAM". */
  family(options: O): string;
  /** Short label, e.g. "SAM rho=0.1"; "" for plain SGD. */
  label(options: O): string;
  /** The results CSV's optimizer columns (their names are fixed: rho, adaptive). */
  columns(options: O): { rho: number | null; adaptive: boolean | null };
  /**
   * Whether every step runs the same ops, so lib/training/graph_step.ts may replay one recorded
   * step for all of them. An optimizer whose steps differ (periodic work) says false: eager only.
   */
  sameOpsEveryStep: boolean;
  createUpdater(opt: Sgd, options: O): Updater;
}

/** An Updater with no state of its own. */
export function statelessUpdater(step: Updater["step"]): Updater {
  return { step, exportState: () => ({}), importState: () => {}, dispose: () => {} };
}
