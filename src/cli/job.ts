/**
 * The main job behind `vae-lab train`: load MNIST, train a VAE, evaluate it, and write into an output
 * folder `metrics.json`, `report.html` and `model.json` (each written atomically).
 */
import * as fs from "fs";
import * as path from "path";
import { checkSetTargets, checkWritableFolder, recoverOutputSet, writeOutputSet } from "../files/output-set";
import { lockFolder } from "../files/folder-lock";
import { FileError } from "../files/file-error";
import { checkDataLimits } from "./flag-limits";
import { checkTrainingData } from "../data/checks";
import { BackendChoice, BackendInfo, initBackend } from "../engine/backend";
import { checkpointJson, CheckpointError, loadModel, loadTrainingState, StoredModel, trainingStateJson } from "../vae/checkpoint";
import { activeUnits, iwaeNllSteps } from "../vae/evaluate";
import { Binarize, MnistSet } from "../data/mnist";
import { DataRecord, DatasetName, DatasetSpec, loadDataset } from "../data/dataset";
import { ImageSet } from "../data/image-set";
import { imageKindText } from "../data/image-shape";
import { Fit, Size } from "../data/resize";
import { Figure, pageHtml, tableHtml } from "../plot/plot";
import { EpochRecord, evaluateElbo, StepProgress, TrainingDivergedError, trainVaeSteps, TrainingState } from "../vae/train";
import { classSamplesFigure, latentScatter, lossCurves, manifoldFigure, reconstructionFigure, samplesFigure } from "../vae/figures";
import { ConditionalVae } from "../vae/conditional";
import { Activation, Likelihood, Vae } from "../vae/model";
import { latentExplorerHtml } from "../vae/explorer";
import type { CategoricalEstimator } from "../vae/categorical";
import { ConvVae, convSizeProblem } from "../vae/conv";
import { InterruptedError } from "./signals";
import { plural } from "./plural";
import { CHECKPOINT_DIR, CHECKPOINT_FILES, JobConfig, OUTPUT_FILES } from "./job-config";
import { checkOutCheckpoint, continueCommand, refuseRunningCheckpoint, sameFolder } from "./epoch-checkpoint";

export { Arch, ARCH_CHOICES, CHECKPOINT_DIR, CHECKPOINT_FILES, DEFAULT_JOB, JobConfig, OUTPUT_FILES } from "./job-config";

/** How a job's data are read (data/dataset.ts): --data, --dataset and the flags that shape the images. */
export function jobDataSpec(config: JobConfig, binarize: Binarize = config.binarize): DatasetSpec {
  return {
    dataset: config.dataset,
    path: config.data,
    labels: config.labels,
    size: config.size,
    fit: config.fit,
    grey: config.grey,
    testFraction: config.testFraction,
    binarize,
    seed: config.seed,
    limit: config.trainSize,
  };
}

/** Load a job's training and test sets and check them, and the flags against them, before anything trains. */
export function loadJobData(config: JobConfig, binarize: Binarize = config.binarize): { train: ImageSet; test: ImageSet; where: string } {
  const { train, test, source } = loadDataset(jobDataSpec(config, binarize));
  checkTrainingData(train, test);
  checkDataLimits(config, { rows: train.rows, cols: train.cols, channels: train.channels, dir: source.where });
  return { train, test, where: source.where };
}

/**
 * What a checkpoint records of its data: the image shape (so that sample, encode and export draw it), the class
 * names, and how the images were read (`data`: DataRecord), so that encode reads new images the same way.
 */
export function dataMetadata(set: ImageSet, spec: DatasetSpec): { image: { rows: number; cols: number; channels: number }; classNames: string[]; data: DataRecord } {
  return { image: { rows: set.rows, cols: set.cols, channels: set.channels }, classNames: set.classNames, data: dataRecord(spec) };
}

/** A job's DatasetSpec as a checkpoint records it: paths made absolute, the training-size limit left out. */
export function dataRecord(spec: DatasetSpec): DataRecord {
  const record: DataRecord = { binarize: spec.binarize ?? "none" };
  if (spec.dataset !== undefined) record.dataset = spec.dataset;
  if (spec.path !== undefined) record.path = path.resolve(spec.path);
  if (spec.labels !== undefined) record.labels = path.resolve(spec.labels);
  if (spec.size !== undefined) record.size = { rows: spec.size.rows, cols: spec.size.cols };
  if (spec.fit !== undefined) record.fit = spec.fit;
  if (spec.grey) record.grey = true;
  if (spec.testFraction !== undefined) record.testFraction = spec.testFraction;
  if (spec.seed !== undefined) record.seed = spec.seed;
  return record;
}

export interface Metrics {
  backend: string;
  config: JobConfig & { parameters: number };
  /** What was read: images used for training (after --train-size) and for testing, and their size. */
  data: { trainImages: number; testImages: number; rows: number; cols: number; channels: number; classNames: string[] };
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
  /** Where a long step stands: `done` of `total` images (the test ELBO after an epoch and at the end, the IWAE bound). */
  onProgress?: (label: string, done: number, total: number) => void;
}

/**
 * What a job interrupted now leaves: "nothing written, earlier outputs in OUT kept", or (a training run
 * with an epoch checkpoint) where its finished epochs are kept. A function, so that the message says what is
 * true when the signal comes.
 */
export type KeptNote = () => string;

/** The note of a job that has written nothing of its own (yet): `out`'s earlier outputs are kept. */
export function nothingWritten(out: string): KeptNote {
  return () => `nothing written, earlier outputs in ${out} kept`;
}

/** A job stopped by a signal (`signal.reason` names it): what it leaves is the KeptNote's text. */
export class JobInterruptedError extends InterruptedError {
  constructor(signalName: string, when: string, kept: string) {
    super(signalName, `interrupted by ${signalName} ${when}; ${kept}`);
    this.name = "JobInterruptedError";
  }
}


/**
 * Give a pending signal (Ctrl-C) its turn on the event loop, and stop with a JobInterruptedError saying
 * `when` if one came. Called between two phases of a job, and by driveSteps between two steps.
 */
export async function pauseForSignal(signal: AbortSignal | undefined, when: () => string, kept: KeptNote): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (signal?.aborted) throw new JobInterruptedError(String(signal.reason), when(), kept());
}

/**
 * Run a generator of steps (training, or the IWAE bound image by image) to its end, giving the event loop a
 * turn every 50 ms so that a signal (Ctrl-C) is noticed between two steps; after one, the generator is closed
 * and a JobInterruptedError says when (`when` of the last step) and what is kept. `onStep` sees every step.
 */
export async function driveSteps<Y, R>(steps: Generator<Y, R>, signal: AbortSignal | undefined, when: (step: Y) => string, kept: KeptNote, onStep?: (step: Y) => void): Promise<R> {
  let last = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    onStep?.(r.value);
    if (performance.now() - last > 50) {
      try {
        await pauseForSignal(signal, () => when(r.value), kept);
      } catch (e) {
        steps.return(undefined as R);
        throw e;
      }
      last = performance.now();
    }
  }
}

/** Check, before anything runs, that a job's output folder can take its set (both kinds of job). */
export function checkOutFolderForJob(out: string): void {
  // The checkpoint folder of a train running now is refused before the probe below writes into it.
  refuseRunningCheckpoint(out);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new Error(`--out: ${out} exists and is not a folder`);
  try {
    checkWritableFolder(out);
    checkSetTargets(out, OUTPUT_FILES);
  } catch (e) {
    throw new Error(`--out: ${(e as Error).message}`);
  }
}

/** One train per output folder at a time (files/folder-lock.ts): a second is refused now, not after training. */
export function lockOutFolder(out: string): () => void {
  // The checkpoint folder of a train running now is refused untouched (the lock would be taken inside it).
  refuseRunningCheckpoint(out);
  try {
    return lockFolder(out);
  } catch (e) {
    throw new Error(`--out: ${(e as Error).message}`);
  }
}

/** Run the whole job; returns the metrics that were written. */
export async function runJob(config: JobConfig, cb: JobCallbacks = {}, signal?: AbortSignal): Promise<Metrics> {
  const t0 = performance.now();
  // The output folder and the data are checked before anything is printed or started.
  if (config.arch === "conv" && config.likelihood !== "bernoulli") throw new Error("--likelihood: the conv model has a Bernoulli likelihood only");
  checkOutFolderForJob(config.out);
  const { train, test, where: dir } = loadJobData(config);
  const convProblem = config.arch === "conv" ? convSizeProblem(train.rows, train.cols) : undefined;
  if (convProblem) {
    // The size is the images' own, or the one --size asked for; a resumed run keeps the size it was trained at.
    const where = config.size ? `the size --size gives` : `the size of the images in ${dir}`;
    throw new Error(`--arch conv: ${convProblem}, ${where}${config.resume ? "" : `; resize them with --size (e.g. --size 32)`}`);
  }
  if (config.conditional && train.classNames.length < 2) {
    const found = train.classNames.length === 0 ? "no labels (give class subfolders, or --labels for a .npy file)" : "one class only";
    throw new Error(`--conditional: the conditional VAE is conditioned on the image's class, but ${dir} has ${found}`);
  }
  const release = lockOutFolder(config.out);
  try {
    // Leftovers of an interrupted earlier write in --out are finished or removed now (a finished run's
    // outputs, which remove its checkpoint, completed), then what its checkpoint folder holds is checked.
    recoverOutputSet(config.out, OUTPUT_FILES);
    checkOutCheckpoint(config.out, config.resume, true);
    return await trainAndWrite(config, cb, signal, t0, train, test);
  } finally {
    release();
  }
}

/** runJob after its checks, holding the output folder's lock. */
async function trainAndWrite(config: JobConfig, cb: JobCallbacks, signal: AbortSignal | undefined, t0: number, train: MnistSet, test: MnistSet): Promise<Metrics> {
  const backend = await initBackend(config.backend);
  cb.onBackend?.(backend);
  const start = config.resume ? loadResumePoint(config.resume, config) : undefined;
  if (start && start.vae.config.inputDim !== train.pixels) {
    start.vae.dispose();
    throw new CheckpointError(path.join(config.resume!, "model.json"), `reads ${start.vae.config.inputDim} values per image, but the data now hold ${imageKindText(train)}`);
  }
  const mlp = {
    inputDim: train.pixels,
    hiddenDims: Array.from({ length: config.hiddenLayers }, () => config.hiddenDim),
    latentDim: config.latentDim,
    activation: config.activation,
    likelihood: config.likelihood,
    gaussianVariance: config.likelihood === "gaussian" ? ("learned" as const) : 1,
    seed: config.seed,
  };
  const vae =
    start?.vae ??
    (config.arch === "conv"
      ? new ConvVae({ latentDim: config.latentDim, rows: train.rows, cols: train.cols, channels: train.channels, seed: config.seed })
      : config.conditional
        ? new ConditionalVae({ ...mlp, conditionDim: train.classNames.length })
        : new Vae(mlp));
  let state: TrainingState | undefined = start?.state;
  const total = (start?.state.epoch ?? 0) + config.epochs;
  // The stored job: --data and --labels as absolute paths, so that a resume from another working directory reads the same data.
  const { resume: _resumedFrom, ...job } = config;
  const storedJob = (epochs: number) => ({ ...job, data: absolute(job.data), labels: absolute(job.labels), epochs });
  // The image shape goes with the model, so that sample, encode and export draw the data's shape.
  // A conditional model records what it is conditioned on (the class, in the order of classNames).
  const modelJson = (history: EpochRecord[]) =>
    checkpointJson(vae, { history, backend: backend.name, ...dataMetadata(train, jobDataSpec(config)), ...(vae instanceof ConditionalVae ? { condition: { on: "class" } } : {}) });
  // The epoch checkpoint (out/checkpoint/): the run at the end of its last finished epoch, replaced after each.
  const checkpointDir = path.join(config.out, CHECKPOINT_DIR);
  // Set once this run has a checkpoint there: the one it continues (runJob let it through), or its own first.
  let checkpointEpoch = config.resume !== undefined && sameFolder(config.resume, checkpointDir) ? start?.state.epoch : undefined;
  const madeCheckpointDir = !fs.existsSync(checkpointDir);
  // The folder the run writes into, as the checkpoint records it (a resume finishes into it only from there).
  const realOut = () => fs.realpathSync(config.out);
  const kept: KeptNote = () =>
    checkpointEpoch === undefined
      ? nothingWritten(config.out)()
      : `the run up to epoch ${checkpointEpoch} of ${total} is kept in ${checkpointDir} (finish it with ${continueCommand(checkpointDir)}), earlier outputs in ${config.out} kept`;
  const saveCheckpoint = (s: TrainingState, history: EpochRecord[]) => {
    const files = {
      "model.json": modelJson(history),
      // What `vae-lab train --resume` continues from (Adam's moments, the random stream), and how far the run was to go.
      "training-state.json": trainingStateJson(s, { job: storedJob(s.epoch), unfinished: { epochs: total, out: realOut() } }),
    };
    try {
      writeOutputSet(checkpointDir, files);
    } catch (e) {
      // An earlier checkpoint stays whole, and the message says so; a first one that could not be written
      // leaves no empty folder behind (only one this run made, and only if empty).
      if (checkpointEpoch !== undefined && e instanceof FileError) throw new FileError(e.file, `${e.problem}; ${kept()}`);
      if (madeCheckpointDir) {
        try {
          fs.rmdirSync(checkpointDir);
        } catch {
          // not empty, or not there
        }
      }
      throw e;
    }
    checkpointEpoch = s.epoch;
  };
  try {
    let latest: EpochRecord[] = [];
    // `--resume DIR --epochs 0` trains no further: it evaluates the run and writes its outputs.
    if (config.epochs > 0) {
      const steps = trainVaeSteps(vae, train, test, {
        epochs: config.epochs,
        batchSize: config.batchSize,
        lr: config.lr,
        beta: config.beta,
        warmupEpochs: config.warmupEpochs,
        freeBits: config.freeBits,
        samples: config.samples,
        objective: config.objective,
        lrSchedule: config.lrSchedule,
        seed: config.seed,
        resume: start?.state,
        onState: (s, h) => {
          state = s;
          saveCheckpoint(s, [...(start?.history ?? []), ...h]);
        },
        onStep: (p) => cb.onStep?.({ ...p, epochs: total }),
        onTestProgress: (p) => cb.onProgress?.(`epoch ${p.epoch}/${total}: test −ELBO`, p.done, p.total),
        onEpoch: (r) => cb.onEpoch?.(r, total),
      });
      try {
        latest = await driveSteps(steps, signal, (p) => `during training (epoch ${p.epoch}/${total})`, kept);
      } catch (e) {
        // Resuming would diverge the same way with the same settings, which a resume cannot change.
        if (e instanceof TrainingDivergedError && checkpointEpoch !== undefined) {
          throw new Error(`${e.message}; the run up to epoch ${checkpointEpoch} is kept in ${checkpointDir} (delete it to start again with other settings)`);
        }
        throw e;
      }
    }
    const between = (when: string) => pauseForSignal(signal, () => when, kept);
    await between("after training, before evaluating");
    const history = [...(start?.history ?? []), ...latest];
    cb.onPhase?.("evaluating");
    const final = evaluateElbo(vae, test, { seed: config.seed, onProgress: (done, all) => cb.onProgress?.("test −ELBO", done, all) });
    await between("while evaluating (after the test ELBO)");
    const iwaeImages = Math.min(config.iwaeImages, test.count);
    const iwae =
      config.iwaeK > 0
        ? {
            k: config.iwaeK,
            images: iwaeImages,
            nll: await driveSteps(
              iwaeNllSteps(vae, test, { k: config.iwaeK, limit: config.iwaeImages, seed: config.seed }),
              signal,
              (i) => `while evaluating (IWAE, image ${i}/${iwaeImages})`,
              kept,
              (i) => cb.onProgress?.(`IWAE bound (k=${config.iwaeK})`, i, iwaeImages),
            ),
          }
        : null;
    const au = activeUnits(vae, test).count;
    await between("while evaluating (after the active units)");
    const metrics: Metrics = {
      backend: backend.name,
      // The run's epochs in all (a resumed run's too, as its history lists them), not this call's.
      config: { ...job, epochs: total, parameters: vae.parameterCount() },
      data: { trainImages: train.count, testImages: test.count, rows: train.rows, cols: train.cols, channels: train.channels, classNames: train.classNames },
      epochs: history.map(({ epoch, trainLoss, testLoss, recon, kl, seconds }) => ({ epoch, trainLoss, testLoss, recon, kl, seconds })),
      test: { elbo: final.loss, recon: final.recon, kl: final.kl, iwae, activeUnits: au },
      totalSeconds: 0,
    };
    cb.onPhase?.("writing report");
    const shape = { rows: train.rows, cols: train.cols, channels: train.channels };
    const figures: (Figure | { html: string })[] = [{ html: summaryHtml(metrics, backend) }, lossCurves(history)];
    if (vae instanceof ConditionalVae) {
      // A conditional model's code is read with the class (q(z|x, c)); its samples are drawn class by class.
      figures.push(latentScatter(vae, test), reconstructionFigure(vae, test), classSamplesFigure(vae, { n: 10, seed: 1, shape, classNames: train.classNames }));
    } else {
      // A 2-D latent plane is shown as the explorer (the scatter beside the digit decoded under the pointer).
      figures.push(config.latentDim === 2 ? { html: latentExplorerHtml(vae, test, { includePlotly: false }) } : latentScatter(vae, test));
      if (config.latentDim === 2) figures.push(manifoldFigure(vae, { n: 20, shape }));
      figures.push(reconstructionFigure(vae, test), samplesFigure(vae, { n: 30, seed: 1, shape }));
    }
    metrics.totalSeconds = (performance.now() - t0) / 1000;
    await between("before writing the outputs");
    // The four files replace the previous run's as one set (files/output-set.ts), and the epoch checkpoint
    // (whose run they finish) goes with them, its folder too where nothing else is in it.
    const checkpointFiles = checkpointEpoch !== undefined ? Object.fromEntries(CHECKPOINT_FILES.map((f) => [`${CHECKPOINT_DIR}/${f}`, null])) : {};
    try {
      writeOutputSet(config.out, {
        "model.json": modelJson(history),
        "report.html": pageHtml(figures, "vae-lab training report"),
        "metrics.json": JSON.stringify(metrics, null, 2) + "\n",
        // What `vae-lab train --resume` continues from (Adam's moments, the random stream).
        "training-state.json": trainingStateJson(state!, { job: storedJob(total) }),
        ...checkpointFiles,
      });
    } catch (e) {
      // A full disk at the end loses no training: the error says where the run is kept and how to finish it.
      if (e instanceof FileError && checkpointEpoch !== undefined) throw new FileError(e.file, `${e.problem}; ${kept()}`);
      throw e;
    }
    return metrics;
  } finally {
    vae.dispose();
  }
}

function absolute(p: string | undefined): string | undefined {
  return p === undefined ? undefined : path.resolve(p);
}

/** The model, its history and its training state saved in folder `dir` by an earlier run. */
function loadResumePoint(dir: string, job: JobConfig): { vae: StoredModel; history: EpochRecord[]; state: TrainingState } {
  const stateFile = path.join(dir, "training-state.json");
  const { state } = loadTrainingState(stateFile);
  const { model: vae, metadata } = loadModel(path.join(dir, "model.json"));
  const fail = (problem: string): never => {
    vae.dispose();
    throw new CheckpointError(stateFile, problem);
  };
  const history = (metadata?.history ?? []) as EpochRecord[];
  if (!Array.isArray(history) || !history.every((h) => h && typeof h === "object" && Number.isFinite(h.epoch) && Number.isFinite(h.testLoss))) {
    fail("cannot be continued: model.json's metadata.history is not a list of epoch records");
  }
  if (history.length !== state.epoch) fail(`is from epoch ${state.epoch} but model.json from epoch ${history.length}`);
  // Adam's moments must be those of this model's variables, in number and size.
  const variables = vae.variables();
  for (const key of ["m", "v"] as const) {
    const moments = state.adam[key];
    if (moments.length !== variables.length) fail(`adam.${key} holds moments for ${moments.length} variables, model.json's model has ${variables.length}`);
    moments.forEach((a, i) => {
      if (a && a.length !== variables[i].size) fail(`adam.${key}[${i}] has ${a.length} values, model.json's variable ${i} has ${variables[i].size}`);
    });
  }
  // The stored settings must describe the model they continue, or the metrics and report would describe another.
  const widths = vae instanceof ConvVae ? [] : vae.config.hiddenDims;
  const model =
    vae instanceof ConvVae
      ? { arch: "conv", latentDim: vae.config.latentDim }
      : {
          arch: "mlp",
          latentDim: vae.config.latentDim,
          // A model whose layers differ in width (made with the library) is no job's: its widths are named as such.
          hiddenDim: widths.length > 0 && widths.every((w) => w === widths[0]) ? widths[0] : widths.join("×"),
          hiddenLayers: widths.length,
          activation: vae.config.activation,
          likelihood: vae.config.likelihood,
          conditional: vae instanceof ConditionalVae,
        };
  for (const [field, value] of Object.entries(model)) {
    // A run stored before --conditional existed has no such field: it was not conditional.
    const stored = field === "conditional" ? (job.conditional ?? false) : job[field as keyof JobConfig];
    if (stored !== value) fail(`job.${field} is ${JSON.stringify(stored)} but model.json's model has ${JSON.stringify(value)}`);
  }
  return { vae, history, state };
}

/** "10 classes (0, 1, …)", "no labels". */
function classesText(names: string[]): string {
  if (names.length === 0) return "no labels";
  const shown = names.length <= 10 ? names.join(", ") : `${names.slice(0, 10).join(", ")}, …`;
  return `${plural(names.length, "class", "classes")} (${shown})`;
}

function summaryHtml(m: Metrics, backend: BackendInfo): string {
  const c = m.config;
  const rows: (string | number)[][] = [
    ["backend", backend.summary],
    [
      "model",
      c.arch === "conv"
        ? `bernoulli convolutional VAE (TensorFlow convolutional-VAE tutorial's${(m.data.channels ?? 1) === 3 ? ", 3 input and output channels" : ""}), z = ${c.latentDim}, ${c.parameters} parameters`
        : `${c.likelihood} ${c.conditional ? `conditional MLP VAE (encoder and decoder also read the class, one-hot of ${m.data.classNames.length})` : "MLP VAE"} ${[m.data.rows * m.data.cols * (m.data.channels ?? 1), ...Array.from({ length: c.hiddenLayers }, () => c.hiddenDim), c.latentDim].join("-")} (${c.activation}), ${c.parameters} parameters`,
    ],
    ["data", `${plural(m.data.trainImages, "training image")} and ${plural(m.data.testImages, "test image")} of ${m.data.rows}×${m.data.cols} pixels${(m.data.channels ?? 1) === 3 ? " in colour (red, green, blue: 3 values a pixel)" : ""}, ${classesText(m.data.classNames)}, binarisation: ${c.binarize}`],
    ["training", `${plural(c.epochs, "epoch")}, batch ${c.batchSize}, Adam lr ${c.lr}${c.lrSchedule === "burda" ? " × 10^(−i/7) in stage i (Burda et al.'s schedule)" : ""}, ${c.objective === "iwae" ? `IWAE bound, k = ${c.samples}` : `−ELBO, β ${c.beta}${c.samples > 1 ? `, ${c.samples} samples` : ""}`}, seed ${c.seed}`],
    [c.conditional ? "test −ELBO, a bound on −log p(x|class) (nats/image)" : "test −ELBO (nats/image)", m.test.elbo.toFixed(2)],
    ["  reconstruction / KL", `${m.test.recon.toFixed(2)} / ${m.test.kl.toFixed(2)}`],
    [c.conditional ? "IWAE −log p(x|class) estimate" : "IWAE −log p(x) estimate", m.test.iwae ? `${m.test.iwae.nll.toFixed(2)} (k = ${m.test.iwae.k}, ${plural(m.test.iwae.images, "test image")})` : "skipped"],
    ["active units", `${m.test.activeUnits} of ${c.latentDim}`],
    ["seconds per epoch", m.epochs.map((e) => e.seconds.toFixed(1)).join(", ")],
  ];
  return tableHtml(["", ""], rows, 5);
}
