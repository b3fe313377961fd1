/**
 * The bounds of the command line's numeric flags and the checks that need more than one flag, so that a
 * value that cannot run (a 10²⁰-dimensional latent space, 10 000 samples of a 128-image batch) is refused
 * at once with the flag's name, instead of failing minutes later deep inside tfjs or the wasm heap.
 *
 * The bounds are generous for MNIST-sized work and keep every tensor of a training step well inside the
 * wasm backend's heap: the largest activation is rows × width floats with rows = batch size × samples
 * ≤ MAX_ROWS and width ≤ 4096, i.e. at most 64 MiB.
 */
import type { JobConfig } from "./job-config";
import { plural } from "./plural";
import { imageSizeText } from "../data/image-shape";

/** A bad flag value: the CLI prints the message (which names the flag) and exits with code 2. */
export class FlagError extends Error {}

/** Largest accepted value of each integer flag (the smallest is given where the flag is read). */
export const FLAG_MAX: Record<string, number> = {
  epochs: 10_000,
  "latent-dim": 512,
  "hidden-dim": 4096,
  "hidden-layers": 8,
  "batch-size": 4096,
  samples: 1000,
  warmup: 10_000,
  seed: 2 ** 32 - 1,
  "train-size": 10_000_000,
  "iwae-k": 10_000,
  "iwae-images": 1_000_000,
  steps: 1_000_000,
  // sample and encode
  n: 10_000,
  limit: 10_000_000,
};

/** Rows of the matrices in one training step (batch size × samples of z). */
export const MAX_ROWS = 4096;

/** Checks across flags, after each flag was checked on its own. */
export function checkTrainLimits(c: JobConfig): void {
  if (c.batchSize * c.samples > MAX_ROWS) {
    throw new FlagError(`--samples: ${plural(c.samples, "sample")} × --batch-size ${c.batchSize} = ${c.batchSize * c.samples} rows per step, more than ${MAX_ROWS}; lower one of them`);
  }
}

/**
 * The most pixel values `vae-lab sample` writes in one go (2²⁴: 10 000 MNIST images are 7.8 million). --n
 * bounds the images; this bounds their size too, since a model of 64×64 colour images has 16 times MNIST's
 * values per image: as JSON that many numbers are about 150 MB of text, well inside the largest string
 * Node can build, and the picture grid's PNG is smaller still.
 */
export const MAX_SAMPLE_VALUES = 1 << 24;

/** The most floats one weight matrix or one activation may hold (2²⁶, 256 MiB): far inside the wasm heap. */
export const MAX_TENSOR_FLOATS = 1 << 26;

/**
 * Checks of the flags against the data, once the data's headers are read: the MLP's first layer has
 * pixels × hidden units weights, and one step's activations rows × pixels floats, so large images with the
 * default width would allocate gigabytes (one 4096×4096 image failed deep in tfjs or the wasm heap).
 */
export function checkDataLimits(c: JobConfig, data: { rows: number; cols: number; channels?: number; dir: string }): void {
  const channels = data.channels ?? 1;
  const pixels = data.rows * data.cols * channels;
  const images = `${imageSizeText(data)} images in ${data.dir}`;
  if (c.arch !== "conv" && pixels * c.hiddenDim > MAX_TENSOR_FLOATS) {
    throw new FlagError(`--hidden-dim: ${c.hiddenDim} hidden units × ${pixels} pixels (${images}) = ${pixels * c.hiddenDim} weights in the first layer, more than ${MAX_TENSOR_FLOATS}; lower --hidden-dim or use smaller images`);
  }
  const rows = c.batchSize * c.samples;
  // The convolutional model's largest activation is its second transposed convolution's output, 32 channels
  // at the image's size.
  if (c.arch === "conv" && rows * data.rows * data.cols * 32 > MAX_TENSOR_FLOATS) {
    throw new FlagError(`--batch-size: ${rows} rows per step × ${data.rows}×${data.cols} pixels × 32 channels (${images}) = ${rows * data.rows * data.cols * 32} floats in the convolutional VAE's largest activation, more than ${MAX_TENSOR_FLOATS}; lower --batch-size or use smaller images (--size)`);
  }
  if (rows * pixels > MAX_TENSOR_FLOATS) {
    throw new FlagError(`--batch-size: ${rows} rows per step (--batch-size ${c.batchSize} × --samples ${c.samples}) × ${pixels} pixels (${images}) = ${rows * pixels} floats per activation, more than ${MAX_TENSOR_FLOATS}; lower --batch-size`);
  }
}

/** A folder or file flag: absent → undefined; present but empty (`--out=`) is an error. */
export function pathFlag(values: Record<string, unknown>, name: string): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || raw.trim() === "") throw new FlagError(`--${name}: expected a path, got "${String(raw)}"`);
  return raw;
}

/**
 * `--epochs -1` as `--epochs=-1`: Node's parseArgs takes a value starting with "-" for a flag and calls it
 * ambiguous; joining a negative number to its flag lets the flag's own check say what is wrong with it.
 */
export function attachNegativeValues(argv: string[], options: Record<string, { type: "string" | "boolean" }> = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (name && options[name]?.type === "string" && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
