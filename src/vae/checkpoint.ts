/**
 * Saving and loading a trained VAE as one JSON file: the configuration, optional metadata, and every
 * weight as base64-encoded little-endian float32. The file is written atomically (temporary file, fsync,
 * rename), so a crash mid-save never leaves a half-written checkpoint; loading checks the format, the
 * shapes and the sizes, and says which file is wrong and how. The MLP (model.ts) and the convolutional model
 * (conv.ts, whose configuration has arch "conv") are stored alike, and so is the conditional VAE
 * (conditional.ts, whose configuration has conditionDim); loadModel reads each.
 */
import * as tf from "../engine/tf";
import { writeFileAtomic } from "../files/atomic-write";
import { FileError } from "../files/file-error";
import { readFileBounded } from "../files/bounded-read";
import { validateVaeConfig, Vae, VaeConfig } from "./model";
import type { TrainingState } from "./train";
import { ConvVae, ConvVaeConfig, convWeightLayout, validateConvVaeConfig } from "./conv";
import type { CategoricalVae } from "./categorical";
import { ConditionalVae, ConditionalVaeConfig } from "./conditional";

/** The models a checkpoint holds: the MLP VAE, the convolutional VAE, the conditional (MLP) VAE. */
export type StoredModel = Vae | ConvVae | ConditionalVae;

export const CHECKPOINT_FORMAT = "vae-lab/checkpoint@1";

interface StoredWeight {
  shape: number[];
  /** base64 of float32 little-endian values */
  data: string;
}

interface Checkpoint {
  format: string;
  config: VaeConfig | ConvVaeConfig | ConditionalVaeConfig;
  metadata?: Record<string, unknown>;
  weights: StoredWeight[];
}

/** A problem with a checkpoint file. */
export class CheckpointError extends FileError {
  constructor(file: string, problem: string) {
    super(file, problem);
    this.name = "CheckpointError";
  }
}

/**
 * The most a checkpoint or training state may hold, checked before it is read. The largest model the CLI
 * makes (hidden 4096, latent 512) is a 68 MB checkpoint and a 136 MB training state (Adam's two moments).
 */
export const MAX_CHECKPOINT_BYTES = 256 * 1024 * 1024;

/** A checkpoint file's text, bounded (bounded-read.ts), with errors as CheckpointErrors. */
function readCheckpointText(file: string, what: string, notFound: string): string {
  try {
    return readFileBounded(file, MAX_CHECKPOINT_BYTES, what, notFound).toString("utf8");
  } catch (e) {
    throw e instanceof FileError ? new CheckpointError(e.file, e.problem) : e;
  }
}

function toBase64(values: Float32Array): string {
  const le = new Float32Array(values); // copy: the buffer may be shared / offset
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString("base64");
}

/** The checkpoint of `vae` (MLP, convolutional or conditional) as JSON text (what saveVae writes). */
export function checkpointJson(vae: StoredModel, metadata?: Record<string, unknown>): string {
  const weights = vae.variables().map((v) => ({ shape: v.shape, data: toBase64(v.dataSync() as Float32Array) }));
  const ckpt: Checkpoint = { format: CHECKPOINT_FORMAT, config: vae.config, metadata, weights };
  return JSON.stringify(ckpt);
}

/** The format of a categorical VAE's checkpoint (vae/categorical.ts), which `vae-lab train --latent categorical` writes. */
export const CATEGORICAL_CHECKPOINT_FORMAT = "vae-lab/categorical-checkpoint@1";

/**
 * The checkpoint of a categorical VAE as JSON text: the same layout as checkpointJson's (config, metadata,
 * weights in the order of vae.variables()) under its own format, so that commands made for the Gaussian
 * models refuse it by name instead of misreading it.
 */
export function categoricalCheckpointJson(vae: CategoricalVae, metadata?: Record<string, unknown>): string {
  const weights = vae.variables().map((v) => ({ shape: v.shape, data: toBase64(v.dataSync() as Float32Array) }));
  return JSON.stringify({ format: CATEGORICAL_CHECKPOINT_FORMAT, config: vae.config, metadata, weights });
}

/** Write `vae` (MLP, convolutional or conditional; and optional metadata such as the training history) to `file`. */
export function saveVae(vae: StoredModel, file: string, metadata?: Record<string, unknown>): void {
  writeFileAtomic(file, checkpointJson(vae, metadata));
}

/** Read a checkpoint of an MLP VAE written by saveVae into a new model. */
export function loadVae(file: string): { vae: Vae; metadata?: Record<string, unknown> } {
  const { model, metadata } = loadModel(file);
  if (!(model instanceof Vae)) {
    model.dispose();
    throw new CheckpointError(file, `holds a ${model instanceof ConvVae ? "convolutional" : "conditional"} VAE (read it with loadModel)`);
  }
  return { vae: model, metadata };
}

/** Read a checkpoint written by saveVae (MLP, convolutional or conditional) into a new model. */
export function loadModel(file: string): { model: StoredModel; metadata?: Record<string, unknown> } {
  const text = readCheckpointText(file, "a checkpoint", "checkpoint not found");
  let ckpt: Checkpoint;
  try {
    ckpt = JSON.parse(text);
  } catch {
    throw new CheckpointError(file, "not valid JSON (truncated or not a vae-lab checkpoint)");
  }
  if (ckpt?.format === CATEGORICAL_CHECKPOINT_FORMAT) {
    throw new CheckpointError(file, "is the checkpoint of a categorical VAE (vae-lab train --latent categorical); this command takes the Gaussian models of vae-lab train");
  }
  if (!ckpt || ckpt.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(file, `not a vae-lab checkpoint (format ${JSON.stringify(ckpt?.format)}, expected ${CHECKPOINT_FORMAT})`);
  }
  // Everything is checked before the model is built, so a file cannot make us allocate more than it holds.
  const conv = (ckpt.config as { arch?: unknown } | null)?.arch === "conv";
  const conditional = !conv && (ckpt.config as { conditionDim?: unknown } | null)?.conditionDim !== undefined;
  let conditionDim = 0;
  try {
    if (conv) {
      checkConvConfigFields(ckpt.config);
      validateConvVaeConfig(ckpt.config);
    } else {
      checkConfigFields(ckpt.config);
      if (conditional) {
        conditionDim = (ckpt.config as ConditionalVaeConfig).conditionDim;
        if (!(Number.isSafeInteger(conditionDim) && conditionDim >= 1)) throw new Error(`conditionDim must be a positive integer (got ${JSON.stringify(conditionDim)})`);
      }
      validateVaeConfig(ckpt.config, conditionDim);
    }
  } catch (e) {
    throw new CheckpointError(file, `bad configuration: ${(e as Error).message}`);
  }
  const layout = conv ? convWeightLayout(ckpt.config as ConvVaeConfig) : weightLayout(ckpt.config as VaeConfig, conditionDim);
  if (!Array.isArray(ckpt.weights) || ckpt.weights.length !== layout.length) {
    throw new CheckpointError(file, `holds ${Array.isArray(ckpt.weights) ? ckpt.weights.length : "no list of"} weight arrays, the configuration needs ${layout.length}`);
  }
  const values = layout.map((w, i) => decodeWeight(file, `${i} (${w.name})`, ckpt.weights[i], w.shape));
  const vae: StoredModel = conv ? new ConvVae(ckpt.config as ConvVaeConfig) : conditional ? new ConditionalVae(ckpt.config as ConditionalVaeConfig) : new Vae(ckpt.config as VaeConfig);
  try {
    vae.variables().forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(values[i], v.shape))));
  } catch (e) {
    vae.dispose();
    throw e;
  }
  return { model: vae, metadata: ckpt.metadata };
}

/** The types of the fields every stored configuration has (MLP and convolutional); returns its fields. */
function checkCommonConfigFields(c: unknown): Record<string, unknown> {
  if (!c || typeof c !== "object" || Array.isArray(c)) throw new Error("missing or not an object");
  const r = c as Record<string, unknown>;
  for (const k of ["inputDim", "latentDim", "seed"]) if (typeof r[k] !== "number") throw new Error(`${k} must be a number (got ${JSON.stringify(r[k])})`);
  return r;
}

/** The types of a stored convolutional configuration's fields (validateConvVaeConfig then checks values). */
function checkConvConfigFields(c: unknown): asserts c is ConvVaeConfig {
  const r = checkCommonConfigFields(c);
  for (const k of ["channels", "rows", "cols"]) if (r[k] !== undefined && typeof r[k] !== "number") throw new Error(`${k} must be a number (got ${JSON.stringify(r[k])})`);
}

/** The types of a stored configuration's fields (validateVaeConfig then checks their values). */
function checkConfigFields(c: unknown): asserts c is VaeConfig {
  const r = checkCommonConfigFields(c);
  if (!Array.isArray(r.hiddenDims) || !r.hiddenDims.every((h) => typeof h === "number")) throw new Error(`hiddenDims must be a list of numbers (got ${JSON.stringify(r.hiddenDims)})`);
  if (typeof r.gaussianVariance !== "number" && r.gaussianVariance !== "learned") throw new Error(`gaussianVariance must be a number or "learned"`);
}

/**
 * The shapes of a model's variables in the order of Vae.variables() (ConditionalVae.variables() with the
 * condition's width), from its configuration alone (test/faults.test.ts checks them against a built model).
 */
export function weightShapes(c: VaeConfig, conditionDim = 0): number[][] {
  return weightLayout(c, conditionDim).map((w) => w.shape);
}

/** The layer names of the variables (enc0/W, mu/b, …), for messages. */
function weightNames(c: VaeConfig): string[] {
  return weightLayout(c).map((w) => w.name);
}

/** The encoder reads [x | c] and the decoder [z | c]: their first layers are conditionDim wider (0 for a plain VAE). */
function weightLayout(c: VaeConfig, conditionDim = 0): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [];
  const dense = (name: string, i: number, o: number) => out.push({ name: `${name}/W`, shape: [i, o] }, { name: `${name}/b`, shape: [o] });
  let width = c.inputDim + conditionDim;
  c.hiddenDims.forEach((h, i) => {
    dense(`enc${i}`, width, h);
    width = h;
  });
  dense("mu", width, c.latentDim);
  dense("logvar", width, c.latentDim);
  width = c.latentDim + conditionDim;
  [...c.hiddenDims].reverse().forEach((h, i) => {
    dense(`dec${i}`, width, h);
    width = h;
  });
  dense("out", width, c.inputDim);
  if (c.likelihood === "gaussian" && c.gaussianVariance === "learned") out.push({ name: "lognoisevar", shape: [] });
  return out;
}

/** Weight `i` as float32 values, after checking its shape, its length and that every value is finite. */
function decodeWeight(file: string, i: string, w: unknown, shape: number[]): Float32Array {
  const s = w as Partial<StoredWeight> | null;
  if (!s || typeof s !== "object" || !Array.isArray(s.shape) || typeof s.data !== "string") {
    throw new CheckpointError(file, `weight ${i} is not an object with a shape and base64 data`);
  }
  if (JSON.stringify(s.shape) !== JSON.stringify(shape)) throw new CheckpointError(file, `weight ${i} has shape [${s.shape}], expected [${shape}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  // Base64 gives 3 bytes per 4 characters: a wrong length is caught before decoding.
  if (Math.floor((s.data.length * 3) / 4) < size * 4) throw new CheckpointError(file, `weight ${i} holds fewer than the ${size * 4} bytes its shape needs`);
  const bytes = Buffer.from(s.data, "base64");
  if (bytes.length !== size * 4) throw new CheckpointError(file, `weight ${i} holds ${bytes.length} bytes, expected ${size * 4}`);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  for (let j = 0; j < values.length; j++) {
    if (!Number.isFinite(values[j])) throw new CheckpointError(file, `weight ${i} holds ${values[j]} at index ${j}: weights must be finite numbers`);
  }
  return values;
}

export const TRAINING_STATE_FORMAT = "vae-lab/training-state@1";

/**
 * Write where a training run stopped (TrainingState: epochs done, the random stream, Adam's step and
 * moments) beside its checkpoint, atomically; `extra` holds what else a resumed run needs (the CLI's job
 * configuration).
 */
export function saveTrainingState(state: TrainingState, file: string, extra?: Record<string, unknown>): void {
  writeFileAtomic(file, trainingStateJson(state, extra));
}

/** The text saveTrainingState writes. */
export function trainingStateJson(state: TrainingState, extra?: Record<string, unknown>): string {
  const enc = (a: Float32Array | null) => (a ? toBase64(a) : null);
  const doc = {
    format: TRAINING_STATE_FORMAT,
    epoch: state.epoch,
    rng: state.rng,
    adam: { step: state.adam.step, accBeta1: state.adam.accBeta1, accBeta2: state.adam.accBeta2, m: state.adam.m.map(enc), v: state.adam.v.map(enc) },
    extra,
  };
  return JSON.stringify(doc);
}

/** Read a file written by saveTrainingState. */
export function loadTrainingState(file: string): { state: TrainingState; extra?: Record<string, unknown> } {
  let doc: {
    format?: string;
    epoch: number;
    rng: TrainingState["rng"];
    adam: { step: number; accBeta1: number; accBeta2: number; m: (string | null)[]; v: (string | null)[] };
    extra?: Record<string, unknown>;
  };
  const text = readCheckpointText(file, "a training state", "training state not found (was the run written by this version of vae-lab train?)");
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CheckpointError(file, "not valid JSON");
  }
  if (!doc || doc.format !== TRAINING_STATE_FORMAT) throw new CheckpointError(file, `not a vae-lab training state (format ${JSON.stringify(doc?.format)}, expected ${TRAINING_STATE_FORMAT})`);
  const dec = (field: string) => (s: unknown, i: number) => {
    if (s === null) return null;
    if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new CheckpointError(file, `${field}[${i}] is not base64 text`);
    const bytes = Buffer.from(s, "base64");
    if (bytes.length % 4 !== 0) throw new CheckpointError(file, `${field}[${i}] holds ${bytes.length} bytes, not a whole number of float32 values`);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  };
  if (!Array.isArray(doc.adam?.m) || !Array.isArray(doc.adam?.v) || !(Number.isInteger(doc.epoch) && doc.epoch >= 0)) throw new CheckpointError(file, "incomplete training state");
  // Every field is checked here, so that a damaged state is named as such, not met later as a tfjs error or a
  // "diverged" training.
  const rng = doc.rng as unknown as { seed?: unknown; alea?: Record<string, unknown>; spareNormal?: unknown } | undefined;
  const finite = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (!rng || typeof rng !== "object" || !finite(rng.seed) || !rng.alea || typeof rng.alea !== "object" || !["c", "s0", "s1", "s2"].every((k) => finite(rng.alea![k])) || !(rng.spareNormal === undefined || rng.spareNormal === null || finite(rng.spareNormal))) {
    throw new CheckpointError(file, "rng is missing or not a random-stream state (seed, alea { c, s0, s1, s2 })");
  }
  if (!(Number.isSafeInteger(doc.adam.step) && doc.adam.step >= 0)) throw new CheckpointError(file, `adam.step is ${JSON.stringify(doc.adam.step)}, not a step count`);
  for (const k of ["accBeta1", "accBeta2"] as const) {
    const v = doc.adam[k];
    // β^(t+1) in float32 is 0 once it falls below the smallest subnormal (for β1 = 0.9 after about 980 steps,
    // for β2 = 0.999 after about 103 000): 0 is what a long run saves, and its bias correction is then exactly 1.
    if (!(finite(v) && v >= 0 && v <= 1)) throw new CheckpointError(file, `adam.${k} is ${JSON.stringify(v)}, not a power of β in [0, 1]`);
  }
  return {
    state: { epoch: doc.epoch, rng: doc.rng, adam: { step: doc.adam.step, accBeta1: doc.adam.accBeta1, accBeta2: doc.adam.accBeta2, m: doc.adam.m.map(dec("adam.m")), v: doc.adam.v.map(dec("adam.v")) } },
    extra: doc.extra,
  };
}
