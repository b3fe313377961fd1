/**
 * `vae-lab train --latent categorical`: train the 20×10 categorical VAE of vae/categorical.ts with one
 * gradient estimator and write `metrics.json` (per-epoch test −ELBO, seconds, encoder gradient variance and
 * SNR) and `report.html` (loss curves, decoded code variations) into the output folder, each atomically.
 */
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../engine/backend";
import { Rng } from "../engine/random";
import { writeFileAtomic } from "../files/atomic-write";
import { defaultMnistDir, loadMnist } from "../data/mnist";
import { imageGrid, lineChart, saveHtml, tableHtml } from "../plot/plot";
import {
  CategoricalEpochRecord,
  CategoricalVae,
  codeVariationImages,
  evaluateCategoricalElbo,
  samplePriorCode,
  trainCategoricalVae,
} from "../vae/categorical";
import type { JobCallbacks, JobConfig } from "./job";

export interface CategoricalMetrics {
  backend: string;
  config: JobConfig & { parameters: number; variables: number; classes: number; hiddenDims: number[] };
  epochs: CategoricalEpochRecord[];
  test: { elbo: number; recon: number; kl: number };
  totalSeconds: number;
}

/** Run the categorical job (the caller has checked the flags). */
export async function runCategoricalJob(config: JobConfig, cb: JobCallbacks = {}): Promise<CategoricalMetrics> {
  const t0 = performance.now();
  if (fs.existsSync(config.out) && !fs.statSync(config.out).isDirectory()) throw new Error(`--out: ${config.out} exists and is not a folder`);
  const estimator = config.estimator ?? "gumbel";
  const dir = config.data ?? defaultMnistDir();
  const binarize = config.binarize === "none" ? "static" : config.binarize;
  const train = loadMnist({ dir, split: "train", binarize, limit: config.trainSize, seed: config.seed });
  const test = loadMnist({ dir, split: "test", binarize, seed: config.seed + 1 });
  const backend = await initBackend(config.backend);
  cb.onBackend?.(backend);
  const hiddenDims = [config.hiddenDim, Math.max(1, Math.round(config.hiddenDim / 2))];
  const vae = new CategoricalVae({ inputDim: train.pixels, hiddenDims, variables: 20, classes: 10, seed: config.seed });
  try {
    const history = trainCategoricalVae(vae, train, test, {
      epochs: config.epochs,
      estimator,
      batchSize: config.batchSize,
      lr: config.lr,
      samples: config.samples,
      seed: config.seed,
      gradientStats: { repeats: 10, batchSize: Math.min(100, train.count) },
      onStep: (p) => cb.onStep?.({ ...p, epochs: config.epochs }),
      onEpoch: (r) =>
        cb.onEpoch?.({ epoch: r.epoch, trainLoss: r.trainLoss, testLoss: r.testLoss, recon: r.recon, kl: r.kl, seconds: r.seconds, trainRecon: NaN, trainKl: NaN, beta: 1 }, config.epochs),
    });
    cb.onPhase?.("evaluating");
    const final = evaluateCategoricalElbo(vae, test, { seed: config.seed });
    const metrics: CategoricalMetrics = {
      backend: backend.name,
      config: { ...config, binarize, estimator, parameters: vae.parameterCount(), variables: 20, classes: 10, hiddenDims },
      epochs: history,
      test: { elbo: final.loss, recon: final.recon, kl: final.kl },
      totalSeconds: 0,
    };
    cb.onPhase?.("writing report");
    fs.mkdirSync(config.out, { recursive: true });
    const x = history.map((h) => h.epoch);
    const base = samplePriorCode(vae, new Rng(config.seed));
    saveHtml(
      path.join(config.out, "report.html"),
      [
        {
          html: tableHtml(["", ""], [
            ["backend", backend.summary],
            ["model", `categorical VAE 784-${hiddenDims.join("-")}-(20×10), ${metrics.config.parameters} parameters`],
            ["estimator", `${estimator}, ${config.samples} samples of z per image`],
            ["training", `${config.epochs} epochs, ${train.count} images (binarisation: ${binarize}), batch ${config.batchSize}, Adam lr ${config.lr}, seed ${config.seed}`],
            ["test −ELBO (nats/image)", final.loss],
            ["seconds per epoch", history.map((h) => h.seconds.toFixed(1)).join(", ")],
          ]),
        },
        lineChart(
          [
            { name: "train loss", x, y: history.map((h) => h.trainLoss), mode: "lines+markers" },
            { name: "test −ELBO (discrete z)", x, y: history.map((h) => h.testLoss), mode: "lines+markers" },
          ],
          { title: `Categorical VAE, ${estimator}`, xTitle: "epoch", yTitle: "nats per image" },
        ),
        imageGrid(codeVariationImages(vae, base, [0, 1, 2, 3, 4]), 28, 28, { columns: 10, title: "A prior code with variables 1–5 (rows) set to each class 0–9 (columns)", width: 640 }),
      ],
      "vae-lab categorical VAE report",
    );
    metrics.totalSeconds = (performance.now() - t0) / 1000;
    writeFileAtomic(path.join(config.out, "metrics.json"), JSON.stringify(metrics, null, 2) + "\n");
    return metrics;
  } finally {
    vae.dispose();
  }
}
