/**
 * Beyond the paper: train the linear classifier of Section 4's Gaussian model
 * (lib/theory/gaussian_model.ts) with this project's own training library (createSgd, samStep,
 * pgd), on samples from the model, and compare the weight w it puts on the robust feature with
 * population references of the logistic loss. One idea per file; this module re-exports them:
 *
 *   toy_model.ts            the classifier as a library Classifier (createLinearToy, toyTensors, effectiveW)
 *   toy_sam.ts              SAM with the exact inner maximum on one weight (samStepEndpoints)
 *   toy_attack.ts           PGD on the non-robust features only (attackNonRobust)
 *   toy_loop.ts             the training loop (trainToy, validateToyOptions, toyLearningRate)
 *   logistic_population.ts  population logistic loss and its ST / SAM optima, standard error of w
 */
export {
  createLinearToy,
  effectiveW,
  type LinearToy,
  type ToySample,
  toyTensors,
} from "./toy_model.ts";
export { samStepEndpoints } from "./toy_sam.ts";
export { attackNonRobust, type NonRobustAttack } from "./toy_attack.ts";
export {
  TOY_METHODS,
  toyLearningRate,
  type ToyMethod,
  type ToyTrainOptions,
  type ToyTrainResult,
  trainToy,
  validateToyOptions,
} from "./toy_loop.ts";
export {
  type LogisticOptimum,
  logisticOptimum,
  type LogisticPoint,
  logisticPopulation,
  logisticSamExact,
  logisticSamFirstOrder,
  logisticStandardErrorW,
} from "./logistic_population.ts";
