/**
 * vae-lab: Variational Autoencoders from Bayes' rule to MNIST.
 * Everything the notebooks call is exported from here.
 */
import * as tf from "@tensorflow/tfjs";

export { tf };
export * from "./backend";
export * from "./random";
export * from "./idx";
export * from "./mnist";
export * from "./plot";
export { writeFileAtomic } from "./atomic-write";
export { quickMode, pick } from "./quick";
export * from "./gaussian";
export * from "./kl";
export * from "./bayes";
export * from "./elbo";
export * from "./estimators";
export * from "./costs";
export { tidyValue } from "./tidy";
export * from "./vae";
export * from "./vae-backprop";
export * from "./train";
export * from "./evaluate";
export * from "./checkpoint";
export * from "./vae-figures";
export { runJob, DEFAULT_JOB } from "./job";
export type { JobConfig, Metrics } from "./job";
export * from "./vae-gradients";
export * from "./pitfalls";
export { FileError } from "./file-error";
