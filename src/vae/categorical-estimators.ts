/**
 * The gradient estimators of the categorical VAE's encoder (categorical.ts), by name. Kept apart from the
 * model, which loads TensorFlow.js, so that the command line can check --estimator without it.
 */
export type CategoricalEstimator = "score" | "score-loo" | "vimco" | "gumbel" | "st";
export const CATEGORICAL_ESTIMATORS: readonly CategoricalEstimator[] = ["score", "score-loo", "vimco", "gumbel", "st"];
