/**
 * vae-lab: Variational Autoencoders from Bayes' rule to MNIST — the library.
 *
 * - `prob/`: Bayes' rule, Bayesian networks, Gaussians, KL, the ELBO, gradient estimators and test costs.
 * - `vae/`: the MLP model and the convolutional one (conv.ts), the MLP's written-out backpropagation (and the
 *   same in one native call, fused-gradients.ts), training,
 *   evaluation, checkpoints, figures.
 * - `engine/`: what runs underneath (backend choice, native kernels, Adam, dense products, seeded randomness).
 * - `data/`: data sets (ImageSet): MNIST and Fashion-MNIST (IDX files), folders of PNG/JPEG images, NumPy
 *   .npy arrays, and loadDataset, which reads whichever it is given.
 *
 * Notebook helpers (display, quick mode, the runner and site builder) are in `vae-lab/notebook`; the
 * deliberately wrong computations notebook 11 shows are in `vae-lab/pitfalls`.
 */
import * as tf from "./engine/tf";

export { tf };
export * from "./engine/backend";
export * from "./engine/random";
export { convKernelStatus } from "./engine/wasm-conv";
export type { ConvKernelStatus } from "./engine/wasm-conv";
export { nativeThreadCount, setNativeThreads } from "./engine/native-kernels";
export { tidyValue } from "./engine/tidy";
export { batchNorm } from "./engine/batch-norm";
export { createAdam } from "./engine/optimizer";
export type { AdamOptions, AdamState, TrainingOptimizer } from "./engine/optimizer";
export * from "./data/idx";
export * from "./data/mnist";
export * from "./data/image-set";
export * from "./data/dataset";
export * from "./data/fashion-mnist";
export * from "./data/image-folder";
export * from "./data/image-file";
export * from "./data/npy";
export * from "./data/resize";
export * from "./data/image-moments";
export * from "./plot/plot";
export { writeFileAtomic } from "./files/atomic-write";
export { FileError } from "./files/file-error";
export * from "./prob/gaussian";
export * from "./prob/kl";
export * from "./prob/bayes";
export * from "./prob/bayes-network";
export * from "./prob/elbo";
export * from "./prob/estimators";
export * from "./prob/costs";
export * from "./prob/categorical";
export * from "./vae/model";
export * from "./vae/conv";
export type { LatentModel } from "./vae/latent-model";
export * from "./vae/backprop";
export * from "./vae/fused-gradients";
export * from "./vae/encoder-gradients";
export * from "./vae/train";
export * from "./vae/evaluate";
export * from "./vae/iwae";
export * from "./vae/amortisation";
export * from "./vae/conditional";
export * from "./vae/schedule";
export * from "./vae/prior-pairing";
export * from "./vae/loss-conventions";
export * from "./vae/checkpoint";
export * from "./vae/figures";
export * from "./vae/explorer";
export * from "./vae/layers-export";
export * from "./vae/layers-load";
export * from "./vae/categorical";
export { runJob, DEFAULT_JOB } from "./cli/job";
export type { JobConfig, Metrics } from "./cli/job";
export * from "./variational/brachistochrone";
export * from "./autoencoder/autoencoder";
