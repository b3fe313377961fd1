/**
 * What a `vae-lab train` job is: its settings (JobConfig), their defaults, and the files it writes. Kept
 * apart from the job itself (job.ts, which loads TensorFlow.js) so that the command line can parse and check
 * its flags, and print its help, without loading it.
 */
import type { BackendChoice } from "../engine/backend-choice";
import type { Binarize } from "../data/image-set";
import type { DatasetName } from "../data/dataset-names";
import type { Fit, Size } from "../data/resize";
import type { Activation, Likelihood, LrSchedule, Objective } from "../vae/model-options";
import type { CategoricalEstimator } from "../vae/categorical-estimators";

/** "mlp": the MLP VAE (model.ts); "conv": the TensorFlow convolutional-VAE tutorial's model (conv.ts). */
export type Arch = "mlp" | "conv";
export const ARCH_CHOICES: readonly Arch[] = ["mlp", "conv"];

export interface JobConfig {
  arch: Arch;
  epochs: number;
  latentDim: number;
  hiddenDim: number;
  /** Hidden layers of the MLP, each hiddenDim wide, in the encoder and (mirrored) in the decoder. */
  hiddenLayers: number;
  batchSize: number;
  lr: number;
  /** "constant", or "burda": 3^i epochs at lr·10^(−i/7) (vae/schedule.ts). */
  lrSchedule: LrSchedule;
  likelihood: Likelihood;
  binarize: Binarize;
  beta: number;
  warmupEpochs: number;
  /** Free bits λ in nats per latent unit (0 = the plain KL); Gaussian latents only. */
  freeBits?: number;
  samples: number;
  /** "elbo": the β-weighted negative ELBO; "iwae": the negative k-sample IWAE bound, k = samples. */
  objective: Objective;
  activation: Activation;
  seed: number;
  /** Training images to use (first N); undefined = all 60 000. */
  trainSize?: number;
  /** Importance samples per test image for the IWAE estimate (0 = skip). */
  iwaeK: number;
  /** Test images the IWAE estimate averages over. */
  iwaeImages: number;
  data?: string;
  out: string;
  backend: BackendChoice;
  /**
   * Continue the run saved in this folder (its model.json and training-state.json) for `epochs` more
   * epochs; the other settings must be that run's (cli/resume.ts reads them from training-state.json).
   */
  resume?: string;
  /** "categorical": the 20×10 categorical VAE of vae/categorical.ts (run by cli/categorical-job.ts). Default gaussian. */
  latent?: "gaussian" | "categorical";
  /** Gradient estimator of the categorical VAE's encoder. */
  estimator?: CategoricalEstimator;
  /** --dataset: a named data set [mnist, unless --data is another kind of data]. */
  dataset?: DatasetName;
  /** --size: resize every image to rows × cols. */
  size?: Size;
  /** --fit: how a resized image keeps its aspect ratio [crop]. */
  fit?: Fit;
  /** --grey: read colour images as grey. */
  grey?: boolean;
  /** --test-fraction: the share held out for testing where the data have no test split [0.1]. */
  testFraction?: number;
  /** --labels: the labels of a .npy file of images. */
  labels?: string;
  /**
   * --conditional: a conditional VAE (vae/conditional.ts) whose encoder and decoder also read the image's
   * class, one-hot; needs labelled data. MLP and Gaussian latent only.
   */
  conditional?: boolean;
}

/** Defaults of `vae-lab train` (and so of `npm start`): a 2-D latent space, so the scatter is the latent space itself. */
export const DEFAULT_JOB: JobConfig = {
  arch: "mlp",
  epochs: 10,
  latentDim: 2,
  hiddenDim: 400,
  hiddenLayers: 1,
  batchSize: 128,
  lr: 1e-3,
  lrSchedule: "constant",
  likelihood: "bernoulli",
  binarize: "none",
  beta: 1,
  warmupEpochs: 0,
  freeBits: 0,
  samples: 1,
  objective: "elbo",
  activation: "relu",
  seed: 1,
  trainSize: undefined,
  iwaeK: 100,
  iwaeImages: 1000,
  data: undefined,
  out: "out",
  backend: "auto",
};

/** The files a job writes into --out, replaced together. */
export const OUTPUT_FILES = ["model.json", "report.html", "metrics.json", "training-state.json"] as const;

/**
 * The folder inside --out where `vae-lab train` keeps the run as it was at the end of its last finished epoch
 * (CHECKPOINT_FILES, replaced together after every epoch), so that a signal, a kill or a crash loses at most
 * the epoch under way; `vae-lab train --resume OUT/checkpoint` continues it, and the run's final outputs remove it.
 */
export const CHECKPOINT_DIR = "checkpoint";
export const CHECKPOINT_FILES = ["model.json", "training-state.json"] as const;
