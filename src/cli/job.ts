/**
 * The main job behind `vae-lab train`: load MNIST, train a VAE, evaluate it, and write into an output
 * folder `metrics.json`, `report.html` and `model.json` (each written atomically).
 */
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../files/atomic-write";
import { BackendChoice, BackendInfo, initBackend } from "../engine/backend";
import { saveVae } from "../vae/checkpoint";
import { activeUnits, iwaeNll } from "../vae/evaluate";
import { Binarize, defaultMnistDir, loadMnist } from "../data/mnist";
import { Figure, saveHtml, tableHtml } from "../plot/plot";
import { EpochRecord, evaluateElbo, StepProgress, trainVae } from "../vae/train";
import { latentScatter, lossCurves, manifoldFigure, reconstructionFigure, samplesFigure } from "../vae/figures";
import { Activation, Likelihood, Vae } from "../vae/model";
import { ConvVae } from "../vae/conv";

/** "mlp": the MLP VAE (model.ts); "conv": the TensorFlow CVAE tutorial's convolutional VAE (conv.ts). */
export type Arch = "mlp" | "conv";
export const ARCH_CHOICES: readonly Arch[] = ["mlp", "conv"];

export interface JobConfig {
  arch: Arch;
  epochs: number;
  latentDim: number;
  hiddenDim: number;
  batchSize: number;
  lr: number;
  likelihood: Likelihood;
  binarize: Binarize;
  beta: number;
  warmupEpochs: number;
  samples: number;
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
}

/** Defaults of `vae-lab train` (and so of `npm start`): a 2-D latent space, so the scatter is the latent space itself. */
export const DEFAULT_JOB: JobConfig = {
  arch: "mlp",
  epochs: 10,
  latentDim: 2,
  hiddenDim: 400,
  batchSize: 128,
  lr: 1e-3,
  likelihood: "bernoulli",
  binarize: "none",
  beta: 1,
  warmupEpochs: 0,
  samples: 1,
  activation: "relu",
  seed: 1,
  trainSize: undefined,
  iwaeK: 100,
  iwaeImages: 1000,
  data: undefined,
  out: "out",
  backend: "auto",
};

export interface Metrics {
  backend: string;
  config: JobConfig & { parameters: number };
  epochs: Pick<EpochRecord, "epoch" | "trainLoss" | "testLoss" | "recon" | "kl" | "seconds">[];
  test: {
    /** Negative ELBO per image, nats (one sample of z). */
    elbo: number;
    recon: number;
    kl: number;
    /** k-sample IWAE estimate of −log p(x) per image (null when skipped). */
    iwae: { k: number; images: number; nll: number } | null;
    activeUnits: number;
  };
  totalSeconds: number;
}

export interface JobCallbacks {
  onBackend?: (b: BackendInfo) => void;
  onStep?: (p: StepProgress & { epochs: number }) => void;
  onEpoch?: (r: EpochRecord, epochs: number) => void;
  onPhase?: (message: string) => void;
}

/** Run the whole job; returns the metrics that were written. */
export async function runJob(config: JobConfig, cb: JobCallbacks = {}): Promise<Metrics> {
  const t0 = performance.now();
  if (fs.existsSync(config.out) && !fs.statSync(config.out).isDirectory()) throw new Error(`--out: ${config.out} exists and is not a folder`);
  // Data first: a bad --data fails before anything is printed or started.
  if (config.arch === "conv" && config.likelihood !== "bernoulli") throw new Error("--likelihood: the conv model has a Bernoulli likelihood only");
  const dir = config.data ?? defaultMnistDir();
  const train = loadMnist({ dir, split: "train", binarize: config.binarize, limit: config.trainSize, seed: config.seed });
  const test = loadMnist({ dir, split: "test", binarize: config.binarize, seed: config.seed + 1 });
  const backend = await initBackend(config.backend);
  cb.onBackend?.(backend);
  const vae =
    config.arch === "conv"
      ? new ConvVae({ latentDim: config.latentDim, seed: config.seed })
      : new Vae({
          inputDim: train.pixels,
          hiddenDims: [config.hiddenDim],
          latentDim: config.latentDim,
          activation: config.activation,
          likelihood: config.likelihood,
          gaussianVariance: config.likelihood === "gaussian" ? "learned" : 1,
          seed: config.seed,
        });
  try {
    const history = trainVae(vae, train, test, {
      epochs: config.epochs,
      batchSize: config.batchSize,
      lr: config.lr,
      beta: config.beta,
      warmupEpochs: config.warmupEpochs,
      samples: config.samples,
      seed: config.seed,
      onStep: (p) => cb.onStep?.({ ...p, epochs: config.epochs }),
      onEpoch: (r) => cb.onEpoch?.(r, config.epochs),
    });
    cb.onPhase?.("evaluating");
    const final = evaluateElbo(vae, test, { seed: config.seed });
    const iwae =
      config.iwaeK > 0 ? { k: config.iwaeK, images: Math.min(config.iwaeImages, test.count), nll: iwaeNll(vae, test, { k: config.iwaeK, limit: config.iwaeImages, seed: config.seed }) } : null;
    const au = activeUnits(vae, test).count;
    const metrics: Metrics = {
      backend: backend.name,
      config: { ...config, parameters: vae.parameterCount() },
      epochs: history.map(({ epoch, trainLoss, testLoss, recon, kl, seconds }) => ({ epoch, trainLoss, testLoss, recon, kl, seconds })),
      test: { elbo: final.loss, recon: final.recon, kl: final.kl, iwae, activeUnits: au },
      totalSeconds: 0,
    };
    cb.onPhase?.("writing report");
    fs.mkdirSync(config.out, { recursive: true });
    saveVae(vae, path.join(config.out, "model.json"), { history, backend: backend.name });
    const figures: (Figure | { html: string })[] = [
      { html: summaryHtml(metrics, backend) },
      lossCurves(history),
      latentScatter(vae, test),
    ];
    if (config.latentDim === 2) figures.push(manifoldFigure(vae));
    figures.push(reconstructionFigure(vae, test), samplesFigure(vae));
    saveHtml(path.join(config.out, "report.html"), figures, "vae-lab training report");
    metrics.totalSeconds = (performance.now() - t0) / 1000;
    writeFileAtomic(path.join(config.out, "metrics.json"), JSON.stringify(metrics, null, 2) + "\n");
    return metrics;
  } finally {
    vae.dispose();
  }
}

function summaryHtml(m: Metrics, backend: BackendInfo): string {
  const c = m.config;
  const rows: (string | number)[][] = [
    ["backend", backend.summary],
    [
      "model",
      c.arch === "conv"
        ? `bernoulli convolutional VAE (TensorFlow CVAE tutorial's), z = ${c.latentDim}, ${c.parameters} parameters`
        : `${c.likelihood} MLP VAE 784-${c.hiddenDim}-${c.latentDim} (${c.activation}), ${c.parameters} parameters`,
    ],
    ["data", `${c.trainSize ?? 60000} training images, binarisation: ${c.binarize}`],
    ["training", `${c.epochs} epochs, batch ${c.batchSize}, Adam lr ${c.lr}, β ${c.beta}, seed ${c.seed}`],
    ["test −ELBO (nats/image)", m.test.elbo],
    ["  reconstruction / KL", `${m.test.recon.toFixed(2)} / ${m.test.kl.toFixed(2)}`],
    ["IWAE −log p(x) estimate", m.test.iwae ? `${m.test.iwae.nll.toFixed(2)} (k = ${m.test.iwae.k}, ${m.test.iwae.images} test images)` : "skipped"],
    ["active units", `${m.test.activeUnits} of ${c.latentDim}`],
    ["seconds per epoch", m.epochs.map((e) => e.seconds.toFixed(1)).join(", ")],
  ];
  return tableHtml(["", ""], rows, 5);
}
