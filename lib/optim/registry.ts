/**
 * The optimizer registry: one line per optimizer (each implements lib/optim/optimizer.ts in its
 * own file). Nothing outside the plugins and this file branches on an optimizer's name.
 */
import { checkChoice, checkKnownKeys, fail } from "../util/validate.ts";
import { LOOKSAM_OPTIMIZER } from "./looksam.ts";
import type { Optimizer, OptimizerSpec, Updater } from "./optimizer.ts";
import { SAM_OPTIMIZER } from "./sam.ts";
import { type Sgd, SGD_OPTIMIZER } from "./sgd.ts";

export const OPTIMIZERS_BY_NAME: Readonly<Record<string, Optimizer<any>>> = Object.freeze({
  sgd: SGD_OPTIMIZER,
  sam: SAM_OPTIMIZER,
  looksam: LOOKSAM_OPTIMIZER,
});

export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS_BY_NAME);

/** A plugin and its resolved options. */
export interface ResolvedOptimizer {
  plugin: Optimizer<any>;
  options: Record<string, unknown>;
  /** The flat spec with every default filled: { name, ...options }. */
  spec: OptimizerSpec;
}

/** Check an optimizer spec and fill its defaults; one sentence naming the bad part. */
export function resolveOptimizer(spec: unknown): ResolvedOptimizer {
  if (spec === null || typeof spec !== "object") {
    fail("method.optimizer", spec, `{ name: one of ${OPTIMIZER_NAMES.join(", ")} }`);
  }
  const o = spec as Record<string, unknown>;
  const name = checkChoice("method.optimizer.name", o.name, OPTIMIZER_NAMES);
  const plugin = OPTIMIZERS_BY_NAME[name];
  checkKnownKeys("method.optimizer", o, ["name", ...plugin.optionNames]);
  const { name: _, ...raw } = o;
  const options = plugin.resolve(raw);
  return { plugin, options, spec: { name, ...options } };
}

/** A run's updater for this optimizer spec. */
export function createUpdater(opt: Sgd, spec: OptimizerSpec): Updater {
  const r = resolveOptimizer(spec);
  return r.plugin.createUpdater(opt, r.options);
}
