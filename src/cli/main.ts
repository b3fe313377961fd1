#!/usr/bin/env node
/**
 * The `vae-lab` command. Every user error (unknown flag, bad value, unreadable data) ends with one line on
 * stderr naming the flag or file, and a non-zero exit; VAE_LAB_DEBUG=1 shows stack traces.
 */
import { parseArgs } from "util";
import * as path from "path";
// Only light modules are imported here: the flags are parsed and checked, and the help printed, without
// loading TensorFlow.js (half a second of a bad command's time). Each command loads what it runs (below).
import { BackendChoice, parseBackendChoice } from "../engine/backend-choice";
import { ARCH_CHOICES, Arch, DEFAULT_JOB, JobConfig } from "./job-config";
import { parsePeers, parseThreads, peersPython, PEER_NAMES } from "../bench/peers";
import { exitCodeOf, InterruptedError, onInterrupt } from "./signals";
import { Binarize, BINARIZE_CHOICES } from "../data/image-set";
import { DATASET_CHOICES, DatasetName } from "../data/dataset-names";
import type { DatasetDescription } from "../data/dataset";
import { Fit, FIT_CHOICES, parseSize } from "../data/resize";
import { ProgressPrinter } from "./progress";
import { attachNegativeValues, checkTrainLimits, FLAG_MAX, FlagError, pathFlag } from "./flag-limits";
import { checkOutFolder } from "./out-guard";
import { plural } from "./plural";
import { ENCODE_HELP, EXPORT_HELP, RESUME_HELP, SAMPLE_HELP } from "./command-help";
import { ACTIVATIONS, Activation, Likelihood, LR_SCHEDULES, LrSchedule, Objective, OBJECTIVES } from "../vae/model-options";
import { CATEGORICAL_ESTIMATORS, CategoricalEstimator } from "../vae/categorical-estimators";
import { deferred } from "./deferred-modules";


/** An error in how the command was called: exit code 2, with a pointer to --help. */
export class UsageError extends Error {}

const HELP = `vae-lab — Variational Autoencoders on MNIST with TensorFlow.js

Usage:
  vae-lab train [options]     Train a VAE on MNIST or your own images; write metrics.json, report.html, model.json to --out.
  vae-lab train --resume DIR  Continue the run saved in DIR (model and optimizer state) for more epochs.
  vae-lab sample --model FILE [--n N] [--seed S] [--label L] [--out F.html|F.json]
                              Decode draws from the prior N(0, I) of a trained model [samples.html]
                              (--label: the class a conditional model draws).
  vae-lab encode --model FILE --out F.json [--data PATH] [--split test|train] [--limit N]
                              Write q(z|x) (mean, log-variance) of the model's images, or of others, as JSON.
  vae-lab export --model FILE --out DIR
                              Write DIR/encoder/ and DIR/decoder/ as TensorFlow.js Layers models.
  vae-lab bench [options]     Time the reference setup (784-400-20, batch 128; --arch conv: the conv VAE) on this backend.
  vae-lab notebooks [--quick] [--out DIR] [--only NN ...]
                              Execute every notebook and publish them as HTML pages with an index [site/].
  vae-lab info [--backend B] [--data PATH] [--dataset D]
                              Show the backend that runs here and the data that would be read.
  vae-lab --help, vae-lab COMMAND --help

Options of train (default in brackets):
  --arch A               mlp | conv (the TensorFlow convolutional-VAE tutorial's model) [${DEFAULT_JOB.arch}]
  --epochs N             training epochs [${DEFAULT_JOB.epochs}]
  --latent-dim N         latent dimensions [${DEFAULT_JOB.latentDim}]
  --hidden-dim N         width of each hidden layer [${DEFAULT_JOB.hiddenDim}]
  --hidden-layers N      hidden layers of the encoder and of the decoder (Burda et al.'s 784-200-200-50:
                         --hidden-layers 2 --hidden-dim 200 --latent-dim 50 --activation tanh) [${DEFAULT_JOB.hiddenLayers}]
  --batch-size N         minibatch size [${DEFAULT_JOB.batchSize}]
  --lr X                 Adam learning rate [${DEFAULT_JOB.lr}]
  --lr-schedule S        constant | burda (Burda et al.: 3^i epochs at lr·10^(−i/7), i = 0…7, 3280 epochs
                         in all; epochs count on across --resume) [${DEFAULT_JOB.lrSchedule}]
  --likelihood L         bernoulli | gaussian (learned variance) [${DEFAULT_JOB.likelihood}]
  --binarize M           none | static | dynamic | threshold (pixel > 0.5) [${DEFAULT_JOB.binarize}]
  --beta X               KL weight β [${DEFAULT_JOB.beta}]
  --warmup N             epochs of linear KL warm-up from 0 to β [${DEFAULT_JOB.warmupEpochs}]
  --free-bits X          free bits (Kingma et al. 2016): train on Σ_j max(X, KL of latent unit j), so no unit
                         is pushed below X nats towards the prior; 0 = the plain KL [${DEFAULT_JOB.freeBits}]
  --samples N            samples of z per image: L of the ELBO, k of the IWAE bound [${DEFAULT_JOB.samples}]
  --objective O          elbo (recon + β·KL) | iwae (the k-sample importance-weighted bound of Burda et al.
                         2016, k = --samples; no --beta or --warmup) [${DEFAULT_JOB.objective}]
  --activation A         ${ACTIVATIONS.join(" | ")} [${DEFAULT_JOB.activation}]
  --seed N               seed of everything random [${DEFAULT_JOB.seed}]
  --train-size N         use the first N training images [all]
  --iwae-k N             importance samples for the IWAE log-likelihood, 0 = skip [${DEFAULT_JOB.iwaeK}]
  --iwae-images N        test images the IWAE estimate averages over [${DEFAULT_JOB.iwaeImages}]
  --data PATH            the data: a folder of MNIST-named IDX files; a folder of PNG/JPEG images (one
                         subfolder per class, or none; train/ and test/ subfolders give the split); a .npy
                         file of images; a folder of x_train.npy, x_test.npy [, y_train.npy, y_test.npy]
                         [MNIST as installed with vae-lab]
  --dataset D            mnist | fashion-mnist (read where installed, or from --data) [mnist]
  --size N               resize every image to N×N, or to H×W given as HxW (16x24): area average when
                         shrinking, bilinear when growing [the images' own size, which must then be one]
  --fit F                how --size keeps the aspect ratio: crop (the centred part of that shape) | pad
                         (the whole image, black borders) | stretch [crop]
  --grey                 read colour images as grey (0.299 R + 0.587 G + 0.114 B) [colour images train in
                         colour: red, green and blue each a Bernoulli or Gaussian value of the decoder]
  --test-fraction X      share held out for testing (chosen by a fixed seed) where the data have no test split [0.1]
  --labels FILE          labels of a .npy file of images: a .npy file of integers, one per image
  --out DIR              output folder [${DEFAULT_JOB.out}]
  --backend B            auto | tensorflow | wasm | cpu [auto]
  --resume DIR           continue the run saved in DIR (see vae-lab train --help)
  --conditional          a conditional VAE (Sohn et al. 2015): the encoder and the decoder also read the
                         image's class (one-hot), so that vae-lab sample can draw a chosen class; needs
                         labelled data
  --latent L             gaussian | categorical (20 variables × 10 classes, Jang et al. 2016) [gaussian]
  --estimator E          categorical only: ${CATEGORICAL_ESTIMATORS.join(" | ")} [gumbel]
                         (categorical defaults: --samples 2, --binarize static, hidden 512-256)

Options of bench:
  --arch A               mlp (the reference setup) | conv (the convolutional VAE, z = 2) [mlp]
  --steps N              time N optimisation steps instead of a full epoch (469 steps)
  --backend B            auto | tensorflow | wasm | cpu [auto]
  --no-torch             skip the system PyTorch comparison (Debian's python3-torch, from a clone)
  --profile              also print where a training step's time goes, kernel by kernel
  --peers LIST           also run the same epoch in other frameworks, one table side by side (seconds,
                         images/s, test −ELBO, ratio to the fastest): all | none | a comma-separated list of
                         ${PEER_NAMES.join(", ")} [system-torch only]
                         (make their venv first: npm run bench:peers-setup)
  --threads T            one (vae-lab and each peer on one thread) | default (vae-lab on every core,
                         each peer at its framework's default) | both [one]
  --peers-python PATH    the Python that runs the peers [$VAE_LAB_PEERS_VENV/bin/python, else
                         ~/.cache/vae-lab/peers-venv/bin/python]

Options of notebooks:
  --quick                run the notebooks in quick mode (reduced data and sample counts, as in CI)
  --out DIR              folder of the site: one page per notebook, index.html, assets/ [site]
  --only NN              only the notebooks whose file name contains NN (e.g. --only 07); repeatable [all]

Options of info:
  --backend B            the backend to start and describe: auto | tensorflow | wasm | cpu [auto]
  --data PATH            the data to describe, as train --data takes them [MNIST as installed with vae-lab]
  --dataset D            mnist | fashion-mnist (read where installed, or from --data) [mnist]
  --size N               as train's: the size the images would be read at
  --grey                 as train's: read colour images as grey
  --test-fraction X      as train's: the share held out where the data have no test split [0.1]
  --labels FILE          as train's: the labels of a .npy file of images

Environment: VAE_LAB_BACKEND (default backend), VAE_LAB_DEBUG=1 (stack traces on errors),
  VAE_LAB_THREADS=N (threads of the native kernels; default 1, the same numbers run after run; with N the
  results differ from one thread's in float32 rounding), VAE_LAB_NATIVE=0 (no native kernels),
  OPENBLAS_CORETYPE (the OpenBLAS kernels to use; by default vae-lab picks SkylakeX/Haswell where OpenBLAS
  falls back to narrower ones than the CPU runs), VAE_LAB_BLAS_CORE=keep (leave OpenBLAS's own choice),
  VAE_LAB_BLAS_CACHE=off (check the OpenBLAS kernels in a child process every time instead of reusing the
  answer kept in ~/.cache/vae-lab/openblas-core.json).
`;

type Parsed = ReturnType<typeof parseArgs>;

/** The known flag closest to a mistyped one (at most two edits away, or one it begins), if any. */
export function nearestFlag(typed: string, known: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    return prev[b.length];
  };
  const scored = known.map((k) => ({ k, d: k.startsWith(typed) && typed.length >= 3 ? 0.5 : distance(typed, k) })).sort((x, y) => x.d - y.d);
  return scored.length && scored[0].d <= 2 ? scored[0].k : undefined;
}

export function parse(argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>["options"]): Parsed {
  try {
    return parseArgs({ args: attachNegativeValues(argv, options), options, strict: true, allowPositionals: false });
  } catch (e) {
    // Node's messages are long and multi-line; keep the first line, which names the flag.
    const first = (e as Error).message.split("\n")[0].replace(/\. To specify.*$/, "");
    const unknown = /^Unknown option '--([^'=]+)'/.exec(first)?.[1];
    const near = unknown === undefined ? undefined : nearestFlag(unknown, Object.keys(options ?? {}));
    throw new UsageError(near ? `${first}; did you mean --${near}?` : first);
  }
}

/** --backend, else the VAE_LAB_BACKEND environment variable, else "auto". */
export function backendFlag(value: unknown): BackendChoice {
  try {
    if (value === undefined && process.env.VAE_LAB_BACKEND) return parseBackendChoice(process.env.VAE_LAB_BACKEND, "VAE_LAB_BACKEND");
    return parseBackendChoice(value as string | undefined, "--backend");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** An integer flag in [min, max]: decimal digits only (no "", "1e3", "0x10"). */
export function intFlag(values: Record<string, unknown>, name: string, fallback: number, min = 1, max = FLAG_MAX[name] ?? Number.MAX_SAFE_INTEGER): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!(/^[0-9]+$/.test(String(raw)) && Number.isSafeInteger(v) && v >= min && v <= max)) {
    throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return v;
}

function numFlag(values: Record<string, unknown>, name: string, fallback: number, check: (v: number) => boolean, what: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (String(raw).trim() === "" || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name}: expected ${what}, got "${raw}"`);
  return v;
}

function choiceFlag<T extends string>(values: Record<string, unknown>, name: string, fallback: T, choices: readonly T[]): T {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) throw new UsageError(`--${name}: expected one of ${choices.join(", ")}, got "${raw}"`);
  return raw as T;
}

const TRAIN_FLAGS = [
  "arch", "epochs", "latent-dim", "hidden-dim", "hidden-layers", "batch-size", "lr", "lr-schedule", "likelihood", "binarize", "beta", "warmup", "free-bits", "samples",
  "objective", "activation", "seed", "train-size", "iwae-k", "iwae-images", "data", "out", "backend", "latent", "estimator",
  "dataset", "size", "fit", "grey", "test-fraction", "labels", "conditional",
] as const;

/** The train flags that are switches, taking no value. */
const SWITCHES = new Set(["grey", "conditional"]);

/** The parseArgs options of `flags`: every one takes a value, except the switches (--grey, --conditional). */
export function flagOptions(flags: readonly string[]): Record<string, { type: "string" | "boolean" }> {
  return Object.fromEntries(flags.map((f) => [f, { type: SWITCHES.has(f) ? ("boolean" as const) : ("string" as const) }]));
}

/** The flags that say which data to read and how (train and info): --data, --dataset, --size, --fit, --grey, --test-fraction, --labels. */
export function dataFlags(values: Record<string, unknown>): Pick<JobConfig, "data" | "dataset" | "size" | "fit" | "grey" | "testFraction" | "labels"> {
  const size = values.size === undefined ? undefined : parseSize(String(values.size));
  if (values.size !== undefined && !(size && size.rows <= 1024 && size.cols <= 1024)) throw new UsageError(`--size: expected N or HxW with each side from 1 to 1024 (e.g. 28 or 16x24), got "${values.size}"`);
  if (values.fit !== undefined && values.size === undefined) throw new UsageError("--fit: only with --size");
  return {
    data: pathFlag(values, "data"),
    ...(values.dataset === undefined ? {} : { dataset: choiceFlag<DatasetName>(values, "dataset", "mnist", DATASET_CHOICES) }),
    ...(size ? { size } : {}),
    ...(values.fit === undefined ? {} : { fit: choiceFlag<Fit>(values, "fit", "crop", FIT_CHOICES) }),
    ...(values.grey ? { grey: true } : {}),
    ...(values["test-fraction"] === undefined ? {} : { testFraction: numFlag(values, "test-fraction", 0.1, (v) => v > 0 && v < 1, "a number between 0 and 1 (exclusive)") }),
    ...(values.labels === undefined ? {} : { labels: pathFlag(values, "labels") }),
  };
}

/** Parse `train` flags into a job configuration (exported for tests). */
export function parseTrainFlags(argv: string[]): JobConfig {
  const { values } = parse(argv, flagOptions(TRAIN_FLAGS));
  const d = DEFAULT_JOB;
  const latent = choiceFlag<"gaussian" | "categorical">(values, "latent", "gaussian", ["gaussian", "categorical"]);
  const categorical = latent === "categorical";
  if (!categorical && values.estimator !== undefined) throw new UsageError("--estimator: only with --latent categorical");
  const estimator = categorical ? choiceFlag<CategoricalEstimator>(values, "estimator", "gumbel", CATEGORICAL_ESTIMATORS) : undefined;
  const samples = intFlag(values, "samples", categorical ? 2 : d.samples);
  if (estimator && (estimator === "vimco" || estimator === "score-loo") && samples < 2) throw new UsageError(`--samples: --estimator ${estimator} needs at least 2`);
  const arch = choiceFlag<Arch>(values, "arch", d.arch, ARCH_CHOICES);
  const objective = choiceFlag<Objective>(values, "objective", d.objective, OBJECTIVES);
  if (categorical && values.objective !== undefined) throw new UsageError("--objective: only with a Gaussian latent (the categorical VAE trains on its ELBO)");
  if (categorical && values["lr-schedule"] !== undefined) throw new UsageError("--lr-schedule: only with a Gaussian latent (the categorical VAE trains at a constant rate)");
  if (categorical && values["free-bits"] !== undefined) throw new UsageError("--free-bits: only with a Gaussian latent (free bits are per Gaussian latent unit)");
  if (categorical && values["hidden-layers"] !== undefined) throw new UsageError("--hidden-layers: the categorical VAE's layers are fixed (--hidden-dim and half of it)");
  if (categorical && arch !== "mlp") throw new UsageError("--arch: --latent categorical has the MLP architecture only");
  if (values.conditional && categorical) throw new UsageError("--conditional: only with a Gaussian latent (the conditional VAE is the MLP VAE with the class as a second input)");
  if (values.conditional && arch !== "mlp") throw new UsageError("--conditional: the conditional VAE has the MLP architecture only; drop --arch conv");
  if (arch === "conv") {
    // The convolutional model's layers are the convolutional-VAE tutorial's; a flag that would change them is refused, not ignored.
    for (const f of ["hidden-dim", "hidden-layers", "activation"] as const) if (values[f] !== undefined) throw new UsageError(`--${f}: the conv model's layers are fixed (the TensorFlow convolutional-VAE tutorial's); drop --${f} or use --arch mlp`);
    if (values.likelihood !== undefined && values.likelihood !== "bernoulli") throw new UsageError("--likelihood: the conv model has a Bernoulli likelihood only");
  }
  const config: JobConfig = {
    ...(categorical ? { latent, estimator } : {}),
    arch,
    epochs: intFlag(values, "epochs", d.epochs),
    latentDim: intFlag(values, "latent-dim", d.latentDim),
    hiddenDim: intFlag(values, "hidden-dim", categorical ? 512 : d.hiddenDim),
    hiddenLayers: intFlag(values, "hidden-layers", d.hiddenLayers),
    batchSize: intFlag(values, "batch-size", d.batchSize),
    lr: numFlag(values, "lr", d.lr, (v) => v > 0 && v <= 1, "a learning rate > 0 and ≤ 1"),
    lrSchedule: choiceFlag<LrSchedule>(values, "lr-schedule", d.lrSchedule, LR_SCHEDULES),
    likelihood: choiceFlag<Likelihood>(values, "likelihood", d.likelihood, ["bernoulli", "gaussian"]),
    binarize: choiceFlag<Binarize>(values, "binarize", categorical ? "static" : d.binarize, BINARIZE_CHOICES),
    beta: numFlag(values, "beta", d.beta, (v) => v >= 0 && v <= 1e4, "a number from 0 to 10000"),
    warmupEpochs: intFlag(values, "warmup", d.warmupEpochs, 0),
    ...(categorical ? {} : { freeBits: numFlag(values, "free-bits", d.freeBits ?? 0, (v) => v >= 0 && v <= 100, "a number of nats from 0 to 100") }),
    samples,
    objective,
    activation: choiceFlag<Activation>(values, "activation", d.activation, ACTIVATIONS),
    seed: intFlag(values, "seed", d.seed, 0),
    trainSize: values["train-size"] === undefined ? undefined : intFlag(values, "train-size", 0, 1),
    iwaeK: intFlag(values, "iwae-k", d.iwaeK, 0),
    iwaeImages: intFlag(values, "iwae-images", d.iwaeImages),
    out: pathFlag(values, "out") ?? d.out,
    backend: backendFlag(values.backend),
    ...dataFlags(values),
    ...(values.conditional ? { conditional: true } : {}),
  };
  if (objective === "iwae" && (config.beta !== 1 || config.warmupEpochs !== 0)) {
    throw new UsageError(`--${config.beta !== 1 ? "beta" : "warmup"}: the IWAE objective (--objective iwae) has no KL weight; drop --beta and --warmup`);
  }
  if (objective === "iwae" && (config.freeBits ?? 0) > 0) throw new UsageError("--free-bits: the IWAE objective (--objective iwae) has no KL term; drop --free-bits");
  checkTrainLimits(config);
  return config;
}

/**
 * An epoch's line. "train" is the mean loss of the epoch's minibatches (recon + β·KL, the weights changing
 * as it goes; with the IWAE objective, "train −IWAE(k=K)", the negative k-sample bound); "test −ELBO" is the
 * whole test set's negative ELBO after the epoch, one draw of z per image.
 */
export function epochLine(r: { epoch: number; trainLoss: number; testLoss: number; recon?: number; kl?: number; seconds: number }, epochs: number, iwaeK?: number): string {
  const terms = r.recon === undefined || r.kl === undefined ? "" : ` (recon ${r.recon.toFixed(2)} + KL ${r.kl.toFixed(2)})`;
  const train = iwaeK === undefined ? "train" : `train −IWAE(k=${iwaeK})`;
  return `epoch ${r.epoch}/${epochs}  ${train} ${r.trainLoss.toFixed(2)}  test −ELBO ${r.testLoss.toFixed(2)}${terms}  ${r.seconds.toFixed(1)} s`;
}

/**
 * What the final test −ELBO is beside the last epoch line's: the same weights, the same estimate (one draw
 * of z per test image), but with new random draws (the job's seed), so the two differ by Monte Carlo noise only.
 */
export function finalNote(last: { epoch: number; testLoss: number } | undefined): string {
  return last ? `final evaluation with new random draws; epoch ${last.epoch}'s ${last.testLoss.toFixed(2)} differs by sampling noise only` : "final evaluation";
}

async function train(argv: string[]): Promise<void> {
  const resuming = argv.some((a) => a === "--resume" || a.startsWith("--resume="));
  const config = resuming ? deferred.resume().parseResumeFlags(argv, TRAIN_FLAGS) : parseTrainFlags(argv);
  const progress = new ProgressPrinter(process.stderr);
  if (config.latent === "categorical") return trainCategorical(config, progress);
  const stop = new AbortController();
  const release = onInterrupt((signal) => stop.abort(signal));
  const m = await deferred.job().runJob(config, {
    onBackend: (b) => {
      progress.line(`backend: ${b.summary}`);
      const hint = deferred.backend().nativeKernelsHint(b);
      if (hint) progress.line(hint);
    },
    onStep: (p) => progress.step(p.epoch, p.epochs, p.step, p.stepsPerEpoch, p.loss),
    onEpoch: (r, epochs) => progress.line(epochLine(r, epochs, config.objective === "iwae" ? config.samples : undefined)),
    onPhase: (msg) => progress.line(`${msg}…`),
    onProgress: (label, done, total) => progress.task(label, done, total),
  }, stop.signal).finally(() => {
    progress.end();
    release();
  });
  const px = config.conditional ? "p(x|class)" : "p(x)";
  const iw = m.test.iwae ? `, IWAE(k=${m.test.iwae.k}) −log ${px} ≈ ${m.test.iwae.nll.toFixed(2)}` : "";
  console.log(`test −ELBO${config.conditional ? ` of ${px}` : ""} ${m.test.elbo.toFixed(2)} nats (${finalNote(m.epochs.at(-1))})${iw}, active units ${m.test.activeUnits}/${config.latentDim}`);
  console.log(`wrote ${config.out}/metrics.json, report.html, model.json, training-state.json (${m.totalSeconds.toFixed(0)} s)`);
}

async function trainCategorical(config: JobConfig, progress: ProgressPrinter): Promise<void> {
  const stop = new AbortController();
  const release = onInterrupt((signal) => stop.abort(signal));
  const m = await deferred.categoricalJob().runCategoricalJob(
    config,
    {
      onBackend: (b) => progress.line(`backend: ${b.summary}`),
      onStep: (p) => progress.step(p.epoch, p.epochs, p.step, p.stepsPerEpoch, p.loss),
      onEpoch: (r, epochs) => progress.line(epochLine({ epoch: r.epoch, trainLoss: r.trainLoss, testLoss: r.testLoss, seconds: r.seconds }, epochs)),
      onPhase: (msg) => progress.line(`${msg}…`),
      onProgress: (label, done, total) => progress.task(label, done, total),
    },
    stop.signal,
  ).finally(() => {
    progress.end();
    release();
  });
  console.log(`test −ELBO ${m.test.elbo.toFixed(2)} nats (categorical 20×10, ${config.estimator}; ${finalNote(m.epochs.at(-1))})`);
  console.log(`wrote ${config.out}/metrics.json, report.html, model.json (${m.totalSeconds.toFixed(0)} s)`);
}

async function notebooks(argv: string[]): Promise<void> {
  const { values } = parse(argv, { quick: { type: "boolean" }, out: { type: "string" }, only: { type: "string", multiple: true } });
  for (const o of (values.only as string[] | undefined) ?? []) if (o.trim() === "") throw new UsageError('--only: expected part of a notebook\'s name (e.g. 07), got ""');
  const out = pathFlag(values, "out") ?? "site";
  checkOutFolder(out);
  // The notebook tooling (tslab, zeromq, markdown-it, mathjax, highlight.js) comes with the repository, not with the library.
  let site: typeof import("../notebook/site");
  try {
    site = require("../notebook/site");
  } catch (e) {
    throw new UsageError(`notebooks: the notebook tooling is not installed (${(e as Error).message.split("\n")[0]}); run it from a clone of the repository after npm install`);
  }
  // On a signal, the running tslab kernel is shut down and its connection folder removed before exiting.
  const runner: typeof import("../notebook/runner") = require("../notebook/runner");
  const release = onInterrupt(
    (signal) => {
      void runner.shutdownAllKernels().finally(() => {
        process.stderr.write(`vae-lab: interrupted by ${signal} while running notebooks; kernel shut down\n`);
        process.exit(exitCodeOf(signal));
      });
    },
    { secondAtOnce: false },
  );
  try {
    await site.buildSite({
      notebooks: path.join(__dirname, "..", "..", "notebooks"),
      out,
      quick: !!values.quick,
      only: values.only as string[] | undefined,
      log: (m) => console.error(m),
    });
  } finally {
    release();
  }
}

async function bench(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    steps: { type: "string" },
    backend: { type: "string" },
    "no-torch": { type: "boolean" },
    profile: { type: "boolean" },
    arch: { type: "string" },
    peers: { type: "string" },
    threads: { type: "string" },
    "peers-python": { type: "string" },
  });
  const peers = parsePeers(values.peers as string | undefined);
  if (values["peers-python"] !== undefined && peers === undefined) throw new UsageError("--peers-python: only with --peers");
  const options = {
    peers,
    threads: parseThreads(values.threads as string | undefined),
    peersPython: peers === undefined ? "" : peersPython(pathFlag(values, "peers-python")),
    arch: choiceFlag<Arch>(values, "arch", "mlp", ARCH_CHOICES),
    profile: !!values.profile,
    steps: values.steps === undefined ? undefined : intFlag(values, "steps", 1),
    backend: backendFlag(values.backend),
    torch: !values["no-torch"],
    log: (s: string) => console.log(s),
  };
  await deferred.bench().runBench(options); // loaded once the flags are checked
}

async function info(argv: string[]): Promise<void> {
  const { values } = parse(argv, flagOptions(["backend", "data", "dataset", "size", "grey", "test-fraction", "labels"]));
  const data = dataFlags(values);
  const choice = backendFlag(values.backend); // checked before the backend module loads
  const backend = await deferred.backend().initBackend(choice);
  // Headers and listings only (data of any size are described at no cost); labels are read to count classes.
  const d = deferred.dataset().describeDataset({ ...data, path: data.data });
  console.log(`backend: ${backend.summary}`);
  const core = deferred.nativeKernels().nativeBlasCore();
  if (core) console.log(`blas:    OpenBLAS core ${core.name}${core.note ? ` (${core.note})` : core.source === "user" ? " (OPENBLAS_CORETYPE)" : " (OpenBLAS's own choice)"}`);
  const hint = deferred.backend().nativeKernelsHint(backend);
  if (hint) console.log(hint);
  for (const line of describeLines(d, data)) console.log(line);
}

/** `vae-lab info`'s description of the data, the first line starting "data:". */
export function describeLines(d: DatasetDescription, flags: Pick<JobConfig, "size" | "grey"> = {}): string[] {
  const lines = [`data:    ${d.source.where}${d.source.kind === "idx" && d.source.dataset !== "fashion-mnist" ? "" : ` (${d.kindText})`}`];
  const size = d.rows !== undefined ? `${d.rows}×${d.cols}` : `${d.sizeRange!.min.rows}×${d.sizeRange!.min.cols} to ${d.sizeRange!.max.rows}×${d.sizeRange!.max.cols}`;
  const colour = d.colour === "grey" ? "" : d.colour === "colour" ? " colour (RGB)" : " grey and colour mixed";
  const held = d.testSplit === "given" ? "" : ` (a random ${+(d.testSplit * 100).toFixed(2)}% held out)`;
  lines.push(`         train ${d.trainCount} × ${size}${colour}, test ${d.testCount}${held}` + classesLine(d));
  const notes: string[] = [];
  if (flags.size) notes.push(`read at ${flags.size.rows}×${flags.size.cols}`);
  else if (d.rows === undefined) notes.push("the images differ in size: train needs --size");
  if (d.colour !== "grey") notes.push(flags.grey ? "read as grey" : d.colour === "colour" ? "trained in colour (3 values a pixel; --grey for grey levels)" : "mixed: train needs --grey");
  if (notes.length) lines.push(`         ${notes.join("; ")}`);
  return lines;
}

function classesLine(d: DatasetDescription): string {
  if (d.classNames.length === 0) return "; no labels";
  const digits = d.classNames.length === 10 && d.classNames.every((n, i) => n === String(i));
  if (digits) return `; digits per class ${d.trainPerClass.join(" ")}`;
  const shown = d.classNames.slice(0, 20).map((n, i) => `${n} ${d.trainPerClass[i] ?? 0}`);
  return `; ${plural(d.classNames.length, "class", "classes")} (training images: ${shown.join(", ")}${d.classNames.length > 20 ? ", …" : ""})`;
}

/** The help of one subcommand: its own text, or its section of HELP. */
function commandHelp(command: string): string | undefined {
  const section = (title: string) => {
    const from = HELP.indexOf(title);
    const rest = HELP.slice(from);
    const end = rest.indexOf("\n\n");
    return from < 0 ? "" : rest.slice(0, end < 0 ? undefined : end + 1);
  };
  const usage = (name: string) => HELP.split("\n").filter((l, i, all) => l.startsWith(`  vae-lab ${name}`) || (all[i - 1]?.startsWith(`  vae-lab ${name}`) && /^ {20,}/.test(l))).join("\n") + "\n";
  switch (command) {
    case "train":
      return `Usage:\n${usage("train")}\n${section("Options of train")}\n${RESUME_HELP}`;
    case "bench":
      return `Usage:\n${usage("bench")}\n${section("Options of bench")}`;
    case "info":
      return `Usage:\n${usage("info")}\n${section("Options of info")}`;
    case "notebooks":
      return `Usage:\n${usage("notebooks")}\n${section("Options of notebooks")}`;
    case "sample":
      return SAMPLE_HELP;
    case "encode":
      return ENCODE_HELP;
    case "export":
      return EXPORT_HELP;
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = rest.includes("--help") || rest.includes("-h") ? commandHelp(command) : undefined;
  if (help) {
    process.stdout.write(help);
    return 0;
  }
  try {
    switch (command) {
      case undefined:
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(HELP);
        return 0;
      case "info":
        await info(rest);
        return 0;
      case "train":
        await train(rest);
        return 0;
      case "bench":
        await bench(rest);
        return 0;
      case "notebooks":
        await notebooks(rest);
        return 0;
      case "sample":
        await deferred.sample().sampleCommand(rest);
        return 0;
      case "encode":
        await deferred.encode().encodeCommand(rest);
        return 0;
      case "export":
        await deferred.export().exportCommand(rest);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    const usage = e instanceof UsageError || e instanceof FlagError;
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`vae-lab: ${msg}${usage ? " (see vae-lab --help)" : ""}\n`);
    if (process.env.VAE_LAB_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    if (e instanceof InterruptedError) return exitCodeOf(e.signalName);
    return usage ? 2 : 1;
  }
}

/**
 * A closed pipe on stdout or stderr (`vae-lab train 2>&1 | head -1`, a log viewer that quits) must not kill
 * the command: what is printed there is only progress and a summary, and the work and its files go on. The
 * first failed write (EPIPE) destroys the stream, later ones fail as ERR_STREAM_DESTROYED; both are dropped.
 * Any other error on these streams still ends the process as before.
 */
export function survivePipeClose(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const s of streams) {
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
    });
  }
}

if (require.main === module) {
  survivePipeClose();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
