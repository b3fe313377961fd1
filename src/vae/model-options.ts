/**
 * The named choices of the VAE's configuration (model.ts): hidden activations and decoder likelihoods. Kept
 * apart from the model, which loads TensorFlow.js, so that the command line can check its flags without it.
 */
export type Activation = "relu" | "tanh" | "softplus" | "elu" | "leakyRelu" | "sigmoid";
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "softplus", "elu", "leakyRelu", "sigmoid"];
export type Likelihood = "bernoulli" | "gaussian";
