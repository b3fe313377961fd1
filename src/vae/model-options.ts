/**
 * The named choices of the VAE's configuration (model.ts) and training (train.ts): hidden activations, decoder
 * likelihoods and training objectives. Kept apart from the model, which loads TensorFlow.js, so that the
 * command line can check its flags without it.
 */
export type Activation = "relu" | "tanh" | "softplus" | "elu" | "leakyRelu" | "sigmoid";
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "softplus", "elu", "leakyRelu", "sigmoid"];
export type Likelihood = "bernoulli" | "gaussian";

/** The training objectives of trainVae: the (β-weighted) ELBO, or the IWAE bound of Burda et al. (2016). */
export type Objective = "elbo" | "iwae";
export const OBJECTIVES: readonly Objective[] = ["elbo", "iwae"];

/** Learning-rate schedules (schedule.ts): the same rate throughout, or Burda et al.'s 3^i passes at lr·10^(−i/7). */
export type LrSchedule = "constant" | "burda";
export const LR_SCHEDULES: readonly LrSchedule[] = ["constant", "burda"];
