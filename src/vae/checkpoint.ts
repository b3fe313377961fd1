/**
 * Saving and loading a trained VAE as one JSON file: the configuration, optional metadata, and every
 * weight as base64-encoded little-endian float32. The file is written atomically (temporary file, fsync,
 * rename), so a crash mid-save never leaves a half-written checkpoint; loading checks the format, the
 * shapes and the sizes, and says which file is wrong and how. The MLP (model.ts) and the convolutional model
 * (conv.ts, whose configuration has arch "conv") are stored alike; loadModel reads either.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../files/atomic-write";
import { FileError } from "../files/file-error";
import { validateVaeConfig, Vae, VaeConfig } from "./model";
import { ConvVae, ConvVaeConfig, validateConvVaeConfig } from "./conv";

export const CHECKPOINT_FORMAT = "vae-lab/checkpoint@1";

interface StoredWeight {
  shape: number[];
  /** base64 of float32 little-endian values */
  data: string;
}

interface Checkpoint {
  format: string;
  config: VaeConfig | ConvVaeConfig;
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

/** Write `vae` (MLP or convolutional; and optional metadata such as the training history) to `file`. */
export function saveVae(vae: Vae | ConvVae, file: string, metadata?: Record<string, unknown>): void {
  const weights = vae.variables().map((v) => ({ shape: v.shape, data: toBase64(v.dataSync() as Float32Array) }));
  const ckpt: Checkpoint = { format: CHECKPOINT_FORMAT, config: vae.config, metadata, weights };
  writeFileAtomic(file, JSON.stringify(ckpt));
}

/** Read a checkpoint of an MLP VAE written by saveVae into a new model. */
export function loadVae(file: string): { vae: Vae; metadata?: Record<string, unknown> } {
  const { model, metadata } = loadModel(file);
  if (!(model instanceof Vae)) {
    model.dispose();
    throw new CheckpointError(file, "holds a convolutional VAE (read it with loadModel)");
  }
  return { vae: model, metadata };
}

/** Read a checkpoint written by saveVae (MLP or convolutional) into a new model. */
export function loadModel(file: string): { model: Vae | ConvVae; metadata?: Record<string, unknown> } {
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
  const conv = (ckpt.config as { arch?: string })?.arch === "conv";
  try {
    if (conv) validateConvVaeConfig(ckpt.config as ConvVaeConfig);
    else validateVaeConfig(ckpt.config as VaeConfig);
  } catch (e) {
    throw new CheckpointError(file, `bad configuration: ${(e as Error).message}`);
  }
  const vae: Vae | ConvVae = conv ? new ConvVae(ckpt.config as ConvVaeConfig) : new Vae(ckpt.config as VaeConfig);
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
  return { model: vae, metadata: ckpt.metadata };
}
