/**
 * `vae-lab train --resume DIR`: the job configuration of a run continued from DIR (its model.json and
 * training-state.json, written by an earlier `vae-lab train --out DIR`).
 */
import * as fs from "fs";
import * as path from "path";
import * as os from "os";
import { LOCK_NAME, lockFolder, lockHolder } from "../files/folder-lock";
import { continueCommand, sameFolder, unfinishedGoal } from "./epoch-checkpoint";
import { recoverOutputSet } from "../files/output-set";
import { readFileBounded } from "../files/bounded-read";
import { CATEGORICAL_CHECKPOINT_FORMAT, CheckpointError, loadTrainingState, MAX_CHECKPOINT_BYTES } from "../vae/checkpoint";
import { FlagError } from "./flag-limits";
import { CHECKPOINT_DIR, CHECKPOINT_FILES, JobConfig, OUTPUT_FILES } from "./job";
import { backendFlag, flagOptions, intFlag, parse, parseTrainFlags, UsageError } from "./main";
export { RESUME_HELP } from "./command-help";

/** Each stored job setting and the train flag it came from. */
const JOB_FIELDS: Record<string, string> = {
  arch: "arch",
  epochs: "epochs",
  latentDim: "latent-dim",
  hiddenDim: "hidden-dim",
  hiddenLayers: "hidden-layers",
  batchSize: "batch-size",
  lr: "lr",
  lrSchedule: "lr-schedule",
  likelihood: "likelihood",
  binarize: "binarize",
  beta: "beta",
  warmupEpochs: "warmup",
  freeBits: "free-bits",
  samples: "samples",
  objective: "objective",
  activation: "activation",
  seed: "seed",
  trainSize: "train-size",
  iwaeK: "iwae-k",
  iwaeImages: "iwae-images",
  data: "data",
  out: "out",
  backend: "backend",
  dataset: "dataset",
  size: "size",
  fit: "fit",
  grey: "grey",
  testFraction: "test-fraction",
  labels: "labels",
  conditional: "conditional",
};
/** Settings a stored job may lack (their flags have no value by default, or came after the run: then their default). */
const OPTIONAL_FIELDS = new Set(["trainSize", "data", "dataset", "size", "fit", "grey", "testFraction", "labels", "hiddenLayers", "objective", "lrSchedule", "freeBits", "conditional"]);

/**
 * The job stored in a run's training-state.json, checked exactly as the flags it came from are checked: each
 * field is turned back into its flag and parsed by parseTrainFlags, so a value no flag would accept (a
 * million samples, a learning rate of 10⁶, a β of "NaN") is refused, naming the file and the field.
 */
export function storedJob(file: string, job: unknown): JobConfig {
  if (!job || typeof job !== "object" || Array.isArray(job)) throw new CheckpointError(file, "holds no job settings (job)");
  const j = job as Record<string, unknown>;
  if (j.latent !== undefined && j.latent !== "gaussian") throw new CheckpointError(file, `job.latent is ${JSON.stringify(j.latent)}: only Gaussian runs can be resumed`);
  const argv: string[] = [];
  for (const [field, flag] of Object.entries(JOB_FIELDS)) {
    const v = j[field];
    if (v === undefined || v === null) {
      if (OPTIONAL_FIELDS.has(field)) continue;
      throw new CheckpointError(file, `job.${field} is missing`);
    }
    // --size was stored as {rows, cols}, --grey as true.
    if (field === "size" && typeof v === "object" && Number.isSafeInteger((v as { rows?: unknown }).rows) && Number.isSafeInteger((v as { cols?: unknown }).cols)) {
      argv.push(`--size=${(v as { rows: number }).rows}x${(v as { cols: number }).cols}`);
      continue;
    }
    if ((field === "grey" || field === "conditional") && typeof v === "boolean") {
      if (v) argv.push(`--${flag}`);
      continue;
    }
    if (typeof v !== "string" && typeof v !== "number") throw new CheckpointError(file, `job.${field} is ${JSON.stringify(v)}, not a setting`);
    // The conv model's layers are fixed: its stored hidden width and activation are the defaults, not flags.
    if (j.arch === "conv" && (field === "hiddenDim" || field === "hiddenLayers" || field === "activation")) continue;
    // The stored epochs are the run's total so far, which may pass --epochs' bound after several resumes.
    if (field === "epochs") {
      if (!(Number.isSafeInteger(v) && (v as number) >= 1)) throw new CheckpointError(file, `job.epochs is ${JSON.stringify(v)}, not a number of epochs`);
      continue;
    }
    argv.push(`--${flag}=${String(v)}`);
  }
  try {
    const config = { ...parseTrainFlags(argv), epochs: j.epochs as number };
    if (j.arch === "conv") return { ...config, hiddenDim: j.hiddenDim as number, hiddenLayers: (j.hiddenLayers as number | undefined) ?? 1, activation: j.activation as JobConfig["activation"] };
    return config;
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof FlagError)) throw e;
    // "--samples: expected …" becomes "job.samples: expected …", named after the file.
    const message = e.message.replace(/--([a-z-]+)/g, (m, flag: string) => {
      const field = Object.keys(JOB_FIELDS).find((f) => JOB_FIELDS[f] === flag);
      return field ? `job.${field}` : m;
    });
    throw new CheckpointError(file, message);
  }
}

/** Flags that may change when resuming; every other train flag is fixed by the run being continued. */
const RESUME_FLAGS = ["resume", "epochs", "out", "backend", "data", "iwae-k", "iwae-images"] as const;

/** The format field of a checkpoint file, or undefined where it cannot be read as one. */
function checkpointFormat(file: string): unknown {
  try {
    return JSON.parse(readFileBounded(file, MAX_CHECKPOINT_BYTES, "a checkpoint").toString("utf8"))?.format;
  } catch {
    return undefined;
  }
}

/** The folder `dir` is in, written as `dir` was (relative stays relative): "o" for "o/checkpoint", ".." for ".". */
function folderAround(dir: string): string {
  const parent = path.dirname(path.resolve(dir));
  return path.isAbsolute(dir) ? parent : path.relative(process.cwd(), parent) || ".";
}

/** Parse `train --resume DIR ...` into the job that continues DIR. */
export function parseResumeFlags(argv: string[], trainFlags: readonly string[]): JobConfig {
  const { values } = parse(argv, flagOptions([...trainFlags, "resume"]));
  const fixed = Object.keys(values).filter((k) => !(RESUME_FLAGS as readonly string[]).includes(k));
  if (fixed.length) throw new UsageError(`--${fixed[0]}: cannot be changed when resuming (the run in ${values.resume} fixes it)`);
  const dir = values.resume as string;
  if (typeof dir !== "string" || dir.trim() === "") throw new UsageError(`--resume: expected the folder of a run, got "${dir ?? ""}"`);
  const file = path.join(dir, "training-state.json");
  // An epoch checkpoint (OUT/checkpoint, job-config.ts) is written by the train that holds OUT's lock.
  const real = fs.existsSync(dir) ? fs.realpathSync(dir) : path.resolve(dir);
  const around = path.dirname(real);
  const inCheckpointFolder = path.basename(real) === CHECKPOINT_DIR && fs.existsSync(dir) && fs.statSync(dir).isDirectory();
  if (inCheckpointFolder) {
    const h = lockHolder(around);
    if (h) {
      const who = `process ${h.pid}${h.host === os.hostname() ? "" : ` on ${h.host}`}`;
      throw new Error(`--resume: ${dir} is the checkpoint of a vae-lab train that is still running (${who}); wait for it to end, or stop it first (if no such run is going on, remove ${path.join(around, LOCK_NAME)})`);
    }
  }
  // A write that a kill interrupted is finished first, so the files read are one set: the outputs written
  // around a checkpoint (which remove it), then DIR's own, each under the lock of the folder written to.
  // Only then is anything written: a run in a read-only folder can still be resumed into another --out.
  const leftovers = (d: string) => fs.existsSync(d) && fs.statSync(d).isDirectory() && fs.readdirSync(d).some((e) => e === ".vae-lab-commit" || e.startsWith(".vae-lab-stage-"));
  const repair = (folder: string, lockedFolder: string, names: readonly string[]) => {
    let release: () => void;
    try {
      release = lockFolder(lockedFolder, "--resume folder");
    } catch (e) {
      throw new UsageError(`--resume: ${(e as Error).message}`);
    }
    try {
      recoverOutputSet(folder, names);
    } finally {
      release();
    }
  };
  if (inCheckpointFolder && leftovers(around)) repair(around, around, OUTPUT_FILES);
  if (leftovers(dir)) repair(dir, inCheckpointFolder ? around : dir, inCheckpointFolder ? CHECKPOINT_FILES : OUTPUT_FILES);
  // No training state here: say where a run is, when one is near (a checkpoint is removed with its run's
  // outputs, and a stopped run's epochs are in its checkpoint).
  if (!fs.existsSync(file)) {
    const parent = path.dirname(path.resolve(dir));
    if (path.basename(path.resolve(dir)) === CHECKPOINT_DIR && fs.existsSync(path.join(parent, "training-state.json"))) {
      throw new CheckpointError(dir, `holds no run (an epoch checkpoint is removed once its run's outputs are written); the run in ${folderAround(dir)} is continued with ${continueCommand(folderAround(dir))}`);
    }
    if (fs.existsSync(path.join(dir, CHECKPOINT_DIR, "training-state.json"))) {
      throw new CheckpointError(dir, `holds no finished run, but ${path.join(dir, CHECKPOINT_DIR)} holds a stopped one: finish it with ${continueCommand(path.join(dir, CHECKPOINT_DIR))}`);
    }
  }
  // A categorical run has no training state; its model.json says what it is.
  const model = path.join(dir, "model.json");
  if (!fs.existsSync(file) && fs.existsSync(model) && checkpointFormat(model) === CATEGORICAL_CHECKPOINT_FORMAT) {
    throw new CheckpointError(model, "is the checkpoint of a categorical VAE: only Gaussian runs can be resumed");
  }
  const { extra } = loadTrainingState(file);
  const job = storedJob(file, extra?.job);
  // An epoch checkpoint (OUT/checkpoint, see job-config.ts) records how far its run was to go: by default it
  // is finished (the epochs left, then the outputs written into OUT). A finished run goes on for as many epochs as it had.
  const goal = unfinishedGoal(extra);
  const unfinished = goal !== undefined && goal >= job.epochs;
  // Its outputs go into the folder around it when it is in its place (the OUT/checkpoint its run recorded);
  // a copy or a moved one is finished into its own folder, like a finished run.
  const recorded = (extra?.unfinished as { out?: unknown } | undefined)?.out;
  const inPlace = unfinished && inCheckpointFolder && typeof recorded === "string" && sameFolder(recorded, around);
  const into = inPlace ? (path.resolve(path.dirname(dir)) === around ? folderAround(dir) : around) : dir;
  return {
    ...job,
    // 0 more epochs: evaluate the run as it is and write its outputs.
    epochs: intFlag(values, "epochs", unfinished ? goal - job.epochs : job.epochs, 0),
    out: (values.out as string | undefined) ?? into,
    backend: values.backend === undefined ? job.backend : backendFlag(values.backend),
    data: (values.data as string | undefined) ?? job.data,
    iwaeK: intFlag(values, "iwae-k", job.iwaeK, 0),
    iwaeImages: intFlag(values, "iwae-images", job.iwaeImages),
    resume: dir,
  };
}
