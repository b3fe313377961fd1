/**
 * Saving and loading a trained VAE as one JSON file: the configuration, optional metadata, and every
 * weight as base64-encoded little-endian float32. The file is written atomically (temporary file, fsync,
 * rename), so a crash mid-save never leaves a half-written checkpoint; loading checks the format, the
 * shapes and the sizes, and says which file is wrong and how.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../files/atomic-write";
import { FileError } from "../files/file-error";
import { validateVaeConfig, Vae, VaeConfig } from "./model";
import type { TrainingState } from "./train";

export const CHECKPOINT_FORMAT = "vae-lab/checkpoint@1";

interface StoredWeight {
  shape: number[];
  /** base64 of float32 little-endian values */
  data: string;
}

interface Checkpoint {
  format: string;
  config: VaeConfig;
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

function toBase64(values: Float32Array): string {
  const le = new Float32Array(values); // copy: the buffer may be shared / offset
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString("base64");
}

/** Write `vae` (and optional metadata such as the training history) to `file`. */
export function saveVae(vae: Vae, file: string, metadata?: Record<string, unknown>): void {
  const weights = vae.variables().map((v) => ({ shape: v.shape, data: toBase64(v.dataSync() as Float32Array) }));
  const ckpt: Checkpoint = { format: CHECKPOINT_FORMAT, config: vae.config, metadata, weights };
  writeFileAtomic(file, JSON.stringify(ckpt));
}

/** Read a checkpoint written by saveVae into a new model. */
export function loadVae(file: string): { vae: Vae; metadata?: Record<string, unknown> } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(file, code === "ENOENT" ? "checkpoint not found" : `cannot read (${code})`);
  }
  let ckpt: Checkpoint;
  try {
    ckpt = JSON.parse(text);
  } catch {
    throw new CheckpointError(file, "not valid JSON (truncated or not a vae-lab checkpoint)");
  }
  if (!ckpt || ckpt.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(file, `not a vae-lab checkpoint (format ${JSON.stringify(ckpt?.format)}, expected ${CHECKPOINT_FORMAT})`);
  }
  try {
    validateVaeConfig(ckpt.config);
  } catch (e) {
    throw new CheckpointError(file, `bad configuration: ${(e as Error).message}`);
  }
  const vae = new Vae(ckpt.config);
  const vars = vae.variables();
  try {
    if (!Array.isArray(ckpt.weights) || ckpt.weights.length !== vars.length) {
      throw new CheckpointError(file, `holds ${ckpt.weights?.length} weight arrays, the configuration needs ${vars.length}`);
    }
    vars.forEach((v, i) => {
      const w = ckpt.weights[i];
      if (JSON.stringify(w.shape) !== JSON.stringify(v.shape)) {
        throw new CheckpointError(file, `weight ${i} (${v.name}) has shape [${w.shape}], expected [${v.shape}]`);
      }
      const bytes = Buffer.from(w.data, "base64");
      if (bytes.length !== v.size * 4) throw new CheckpointError(file, `weight ${i} (${v.name}) holds ${bytes.length} bytes, expected ${v.size * 4}`);
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
    });
  } catch (e) {
    vae.dispose();
    throw e;
  }
  return { vae, metadata: ckpt.metadata };
}

export const TRAINING_STATE_FORMAT = "vae-lab/training-state@1";

/**
 * Write where a training run stopped (TrainingState: epochs done, the random stream, Adam's step and
 * moments) beside its checkpoint, atomically; `extra` holds what else a resumed run needs (the CLI's job
 * configuration).
 */
export function saveTrainingState(state: TrainingState, file: string, extra?: Record<string, unknown>): void {
  const enc = (a: Float32Array | null) => (a ? toBase64(a) : null);
  const doc = {
    format: TRAINING_STATE_FORMAT,
    epoch: state.epoch,
    rng: state.rng,
    adam: { step: state.adam.step, accBeta1: state.adam.accBeta1, accBeta2: state.adam.accBeta2, m: state.adam.m.map(enc), v: state.adam.v.map(enc) },
    extra,
  };
  writeFileAtomic(file, JSON.stringify(doc));
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
  try {
    doc = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(file, code === "ENOENT" ? "training state not found (was the run written by this version of vae-lab train?)" : code ? `cannot read (${code})` : "not valid JSON");
  }
  if (!doc || doc.format !== TRAINING_STATE_FORMAT) throw new CheckpointError(file, `not a vae-lab training state (format ${JSON.stringify(doc?.format)}, expected ${TRAINING_STATE_FORMAT})`);
  const dec = (s: string | null) => {
    if (s === null) return null;
    const bytes = Buffer.from(s, "base64");
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  };
  if (!Array.isArray(doc.adam?.m) || !Array.isArray(doc.adam?.v) || !(Number.isInteger(doc.epoch) && doc.epoch >= 0)) throw new CheckpointError(file, "incomplete training state");
  return {
    state: { epoch: doc.epoch, rng: doc.rng, adam: { step: doc.adam.step, accBeta1: doc.adam.accBeta1, accBeta2: doc.adam.accBeta2, m: doc.adam.m.map(dec), v: doc.adam.v.map(dec) } },
    extra: doc.extra,
  };
}
