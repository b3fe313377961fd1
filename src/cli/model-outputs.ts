/**
 * What sample and encode need to know of a loaded checkpoint and of what they compute with it: the image
 * shape to draw and describe its outputs in, and that the outputs are numbers. A checkpoint with finite but
 * huge weights decodes to NaN or ±Infinity, which JSON would silently write as null: that is an error naming
 * the checkpoint, not an output.
 */
import { CheckpointError } from "../vae/checkpoint";
import { DataRecord, DatasetSpec, parseDataRecord } from "../data/dataset";
import type { JobConfig } from "./job-config";
import type { ImageShape } from "../data/image-shape";

/**
 * The image shape recorded in a checkpoint's metadata by vae-lab train (`metadata.image`: rows, cols and
 * channels — 1 grey, 3 colour; a record without channels, written before colour came, is grey), checked
 * against the model's values per image; a checkpoint without it (written before it was recorded, or by the
 * library) gets the grey square its pixel count allows, and an error naming the file where there is none.
 */
export function imageShapeOfCheckpoint(file: string, pixels: number, metadata?: Record<string, unknown>): Required<ImageShape> {
  const image = metadata?.image as { rows?: unknown; cols?: unknown; channels?: unknown } | undefined;
  if (image !== undefined) {
    const { rows, cols, channels = 1 } = image ?? {};
    const whole = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
    if (!(whole(rows) && whole(cols) && (channels === 1 || channels === 3) && rows * cols * channels === pixels)) {
      throw new CheckpointError(file, `metadata.image is ${JSON.stringify(image)}, not a shape of the model's ${pixels} values per image`);
    }
    return { rows, cols, channels };
  }
  const side = Math.round(Math.sqrt(pixels));
  if (side * side !== pixels) throw new CheckpointError(file, `the model's ${pixels} pixels are not a square image, and the checkpoint does not record the image shape (metadata.image)`);
  return { rows: side, cols: side, channels: 1 };
}

/**
 * As imageShapeOfCheckpoint, where an image shape is known (recorded, or the grey square the pixel count
 * makes); undefined instead of an error where the checkpoint records none and the pixels make no square.
 */
export function imageShapeIfKnown(file: string, pixels: number, metadata?: Record<string, unknown>): Required<ImageShape> | undefined {
  if (metadata?.image === undefined && !Number.isInteger(Math.sqrt(pixels))) return undefined;
  return imageShapeOfCheckpoint(file, pixels, metadata);
}

/** The data flags of a command (dataFlags in main.ts): a source and how to read it. */
type DataFlags = Pick<JobConfig, "data" | "dataset" | "size" | "fit" | "grey" | "testFraction" | "labels">;

/**
 * The data a command reads with a checkpoint's model: as vae-lab train recorded them (`metadata.data`: the
 * source, and how its images were read), each given flag in place of what it names. A new source (--data or
 * --dataset) replaces the recorded one (and its labels file) but keeps the recorded way of reading images;
 * a checkpoint without the record (the library's, or an older train's) reads what the flags say, MNIST
 * without them. A record that is not one is an error naming the checkpoint.
 */
export function dataSpecOfCheckpoint(file: string, metadata: Record<string, unknown> | undefined, flags: DataFlags): DatasetSpec {
  let record: DataRecord | undefined;
  try {
    record = metadata?.data === undefined ? undefined : parseDataRecord(metadata.data);
  } catch (e) {
    throw new CheckpointError(file, (e as Error).message);
  }
  const newSource = flags.data !== undefined || flags.dataset !== undefined;
  const source = newSource || !record ? { dataset: flags.dataset, path: flags.data, labels: flags.labels } : { dataset: record.dataset, path: record.path, labels: flags.labels ?? record.labels };
  const spec: DatasetSpec = {
    ...source,
    size: flags.size ?? record?.size,
    fit: flags.size ? flags.fit : record?.fit,
    grey: flags.grey || record?.grey,
    // The held-out share belongs to the recorded source (a new one may come with its own split).
    testFraction: flags.testFraction ?? (newSource ? undefined : record?.testFraction),
    binarize: record?.binarize ?? "none",
    seed: record?.seed,
  };
  // Absent fields, not fields set to undefined: the data readers tell "not given" by absence.
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as DatasetSpec;
}

/** `values` if every entry is a finite number; else an error naming the checkpoint and what was computed. */
export function checkFinite<T extends ArrayLike<number>>(values: T, file: string, what: string): T {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new CheckpointError(file, `${what} are not all finite numbers (entry ${i} is ${values[i]}): the weights are unusable`);
  }
  return values;
}

/**
 * The class names a checkpoint records (`metadata.classNames`, written by vae-lab train) where they are
 * `count` strings; else "0" … "count − 1" (a checkpoint written by the library, or before they were recorded).
 */
export function classNamesOfCheckpoint(count: number, metadata?: Record<string, unknown>): string[] {
  const names = metadata?.classNames;
  if (Array.isArray(names) && names.length === count && names.every((n) => typeof n === "string")) return names as string[];
  return Array.from({ length: count }, (_, k) => String(k));
}

/**
 * The class index `--label` names: a class name the checkpoint records (e.g. "7", "cat"), else a class
 * index 0 … count − 1; else an error naming the flag, the checkpoint and its classes.
 */
export function classIndexOfLabel(label: string, names: string[], file: string): number {
  const byName = names.indexOf(label);
  if (byName >= 0) return byName;
  if (/^[0-9]+$/.test(label) && Number(label) < names.length) return Number(label);
  const shown = names.length <= 12 ? names.join(", ") : `${names.slice(0, 12).join(", ")}, …`;
  throw new CheckpointError(file, `has no class "${label}" for --label (its ${names.length} classes: ${shown}; or an index from 0 to ${names.length - 1})`);
}
