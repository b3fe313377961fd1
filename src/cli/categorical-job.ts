/**
 * `vae-lab train --latent categorical`: train the 20×10 categorical VAE of vae/categorical.ts with one
 * gradient estimator and write `metrics.json` (per-epoch test −ELBO, seconds, encoder gradient variance and
 * SNR), `report.html` (loss curves, decoded code variations) and `model.json` (a categorical checkpoint)
 * into the output folder as one set, with runJob's checks, lock and signal handling.
 */
import { initBackend } from "../engine/backend";
import { Rng } from "../engine/random";
import { recoverOutputSet, writeOutputSet } from "../files/output-set";
import { Binarize, MnistSet } from "../data/mnist";
import { imageGrid, lineChart, pageHtml, tableHtml } from "../plot/plot";
import { categoricalCheckpointJson } from "../vae/checkpoint";
import {
  CategoricalEpochRecord,
  CategoricalVae,
  codeVariationImages,
  evaluateCategoricalElbo,
  samplePriorCode,
  trainCategoricalVaeSteps,
} from "../vae/categorical";
import { checkOutCheckpoint } from "./epoch-checkpoint";
import { checkOutFolderForJob, dataMetadata, driveSteps, JobCallbacks, JobConfig, jobDataSpec, loadJobData, lockOutFolder, nothingWritten, OUTPUT_FILES, pauseForSignal } from "./job";
import { plural } from "./plural";

export interface CategoricalMetrics {
  backend: string;
  config: JobConfig & { parameters: number; variables: number; classes: number; hiddenDims: number[] };
  epochs: CategoricalEpochRecord[];
  test: { elbo: number; recon: number; kl: number };
  totalSeconds: number;
}

/** Run the categorical job (the caller has checked the flags): the same checks, lock, signals and output set as runJob. */
export async function runCategoricalJob(config: JobConfig, cb: JobCallbacks = {}, signal?: AbortSignal): Promise<CategoricalMetrics> {
  const t0 = performance.now();
  checkOutFolderForJob(config.out);
  const binarize = config.binarize === "none" ? "static" : config.binarize;
  const { train, test } = loadJobData(config, binarize);
  const release = lockOutFolder(config.out);
  try {
    recoverOutputSet(config.out, OUTPUT_FILES);
    // An unfinished Gaussian run's checkpoint in --out: its outputs would later replace this run's.
    checkOutCheckpoint(config.out, undefined, false);
    return await trainAndWrite(config, cb, signal, t0, train, test, binarize);
  } finally {
    release();
  }
}

async function trainAndWrite(config: JobConfig, cb: JobCallbacks, signal: AbortSignal | undefined, t0: number, train: MnistSet, test: MnistSet, binarize: Binarize): Promise<CategoricalMetrics> {
  recoverOutputSet(config.out, OUTPUT_FILES);
  const estimator = config.estimator ?? "gumbel";
  const backend = await initBackend(config.backend);
  cb.onBackend?.(backend);
  const hiddenDims = [config.hiddenDim, Math.max(1, Math.round(config.hiddenDim / 2))];
  const vae = new CategoricalVae({ inputDim: train.pixels, hiddenDims, variables: 20, classes: 10, seed: config.seed });
  const between = (when: string) => pauseForSignal(signal, () => when, nothingWritten(config.out));
  try {
    const steps = trainCategoricalVaeSteps(vae, train, test, {
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
    const history = await driveSteps(steps, signal, (p) => `during training (epoch ${p.epoch}/${config.epochs})`, nothingWritten(config.out));
    await between("after training, before evaluating");
    cb.onPhase?.("evaluating");
    const final = evaluateCategoricalElbo(vae, test, { seed: config.seed, onProgress: (done, all) => cb.onProgress?.("test −ELBO", done, all) });
    await between("while evaluating");
    const metrics: CategoricalMetrics = {
      backend: backend.name,
      config: { ...config, binarize, estimator, parameters: vae.parameterCount(), variables: 20, classes: 10, hiddenDims },
      epochs: history,
      test: { elbo: final.loss, recon: final.recon, kl: final.kl },
      totalSeconds: 0,
    };
    cb.onPhase?.("writing report");
    const x = history.map((h) => h.epoch);
    const base = samplePriorCode(vae, new Rng(config.seed));
    const report = pageHtml(
      [
        {
          html: tableHtml(["", ""], [
            ["backend", backend.summary],
            ["model", `categorical VAE ${train.pixels}-${hiddenDims.join("-")}-(20×10), ${metrics.config.parameters} parameters`],
            ["estimator", `${estimator}, ${plural(config.samples, "sample")} of z per image`],
            ["training", `${plural(config.epochs, "epoch")}, ${plural(train.count, "image")} of ${train.rows}×${train.cols} (binarisation: ${binarize}), batch ${config.batchSize}, Adam lr ${config.lr}, seed ${config.seed}`],
            ["test −ELBO (nats/image)", final.loss.toFixed(2)],
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
        imageGrid(codeVariationImages(vae, base, [0, 1, 2, 3, 4]), train.rows, train.cols, { columns: 10, title: "A prior code with variables 1–5 (rows) set to each class 0–9 (columns)", width: 640 }),
      ],
      "vae-lab categorical VAE report",
    );
    metrics.totalSeconds = (performance.now() - t0) / 1000;
    await between("before writing the outputs");
    // The same set as a Gaussian run's: an earlier run's model.json is replaced by this model's (a categorical
    // checkpoint, which sample, encode, export and --resume refuse by name) and its training-state.json removed.
    writeOutputSet(config.out, {
      "model.json": categoricalCheckpointJson(vae, { history, backend: backend.name, ...dataMetadata(train, jobDataSpec(config, binarize)) }),
      "report.html": report,
      "metrics.json": JSON.stringify(metrics, null, 2) + "\n",
      "training-state.json": null,
    });
    return metrics;
  } finally {
    vae.dispose();
  }
}
