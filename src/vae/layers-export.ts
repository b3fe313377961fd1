/**
 * A trained VAE as two standard TensorFlow.js Layers models, for use without vae-lab (in a browser page or
 * any tfjs program, with `tf.loadLayersModel`):
 *
 * - encoder: x [batch, inputDim] → [μ, log σ²], two outputs of [batch, latentDim] (q(z|x));
 * - decoder: z [batch, latentDim] → pixel means [batch, inputDim] (sigmoid of the logits: the same numbers
 *   as Vae.decodeMean).
 *
 * A conditional VAE (conditional.ts) gets a second input on each, the condition c [batch, conditionDim] (a
 * class one-hot), concatenated after x and after z as ConditionalVae does: encoder [x, c] → [μ, log σ²],
 * decoder [z, c] → pixel means.
 *
 * Each is written as a folder with `model.json` (format "layers-model") and `weights.bin`, the layout
 * `tf.loadLayersModel("…/model.json")` reads over http(s) and `tfjs-node` reads from file://.
 */
import * as tf from "../engine/tf";
import { writeOutputSet } from "../files/output-set";
import { Activation, Dense } from "./model";
import { ConvVae, convGeometry } from "./conv";
import { ConditionalVae } from "./conditional";
import type { StoredModel } from "./checkpoint";

/** The layer after a Dense product that applies `a` as Vae does (leaky ReLU's slope 0.01 is its own layer). */
function activationLayer(a: Activation, name: string): tf.layers.Layer {
  if (a === "leakyRelu") return tf.layers.leakyReLU({ alpha: 0.01, name });
  return tf.layers.activation({ activation: a, name });
}

function dense(input: tf.SymbolicTensor, d: Dense, name: string): tf.SymbolicTensor {
  const layer = tf.layers.dense({ units: d.W.shape[1], name });
  const out = layer.apply(input) as tf.SymbolicTensor;
  layer.setWeights([d.W, d.b]);
  return out;
}

/** The encoder and the decoder of `vae` as Layers models (weights copied; the caller disposes them). */
export function toLayersModels(vae: StoredModel): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  if (vae instanceof ConvVae) return convLayersModels(vae);
  const { inputDim, latentDim, activation } = vae.config;
  const conditionDim = vae instanceof ConditionalVae ? vae.config.conditionDim : 0;
  // The condition input c, and `v` with c concatenated after it, for a conditional model; `v` alone otherwise.
  const withCondition = (v: tf.SymbolicTensor, name: string): { inputs: tf.SymbolicTensor[]; joined: tf.SymbolicTensor } => {
    if (conditionDim === 0) return { inputs: [v], joined: v };
    const c = tf.input({ shape: [conditionDim], name: "c" });
    return { inputs: [v, c], joined: tf.layers.concatenate({ axis: 1, name: `${name}_c` }).apply([v, c]) as tf.SymbolicTensor };
  };
  const x = tf.input({ shape: [inputDim], name: "x" });
  const xc = withCondition(x, "x");
  let h = xc.joined;
  vae.encoder.forEach((l, i) => {
    h = activationLayer(activation, `enc${i}_${activation}`).apply(dense(h, l, `enc${i}`)) as tf.SymbolicTensor;
  });
  const mu = dense(h, vae.encMu, "mu");
  const logVar = dense(h, vae.encLogVar, "log_var");
  const encoder = tf.model({ inputs: xc.inputs, outputs: [mu, logVar], name: "vae_lab_encoder" });

  const z = tf.input({ shape: [latentDim], name: "z" });
  const zc = withCondition(z, "z");
  let g = zc.joined;
  vae.decoder.forEach((l, i) => {
    g = activationLayer(activation, `dec${i}_${activation}`).apply(dense(g, l, `dec${i}`)) as tf.SymbolicTensor;
  });
  const logits = dense(g, vae.decOut, "logits");
  const means = tf.layers.activation({ activation: "sigmoid", name: "pixel_means" }).apply(logits) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: zc.inputs, outputs: means, name: "vae_lab_decoder" });
  return { encoder, decoder };
}

/**
 * The convolutional VAE (conv.ts) as Layers models: Conv2D / Conv2DTranspose layers hold the same filters
 * (Keras's layouts are tf.conv2d's and tf.conv2dTranspose's), the encoder's one Dense 2·z layer is split
 * into μ and log σ² columns, and images enter and leave flattened [batch, rows · cols · channels] as in vae-lab.
 */
function convLayersModels(vae: ConvVae): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  const z = vae.config.latentDim;
  const withWeights = <T extends tf.SymbolicTensor>(layer: tf.layers.Layer, input: tf.SymbolicTensor, weights: tf.Tensor[]): T => {
    const out = layer.apply(input) as T;
    layer.setWeights(weights);
    return out;
  };
  const C = vae.channels;
  const { rows, cols, dh, dw } = convGeometry(vae.config);
  const x = tf.input({ shape: [rows * cols * C], name: "x" });
  let h = tf.layers.reshape({ targetShape: [rows, cols, C], name: "image" }).apply(x) as tf.SymbolicTensor;
  h = withWeights(tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: "valid", activation: "relu", name: "conv1" }), h, [vae.conv1.W, vae.conv1.b]);
  h = withWeights(tf.layers.conv2d({ filters: 64, kernelSize: 3, strides: 2, padding: "valid", activation: "relu", name: "conv2" }), h, [vae.conv2.W, vae.conv2.b]);
  h = tf.layers.flatten({ name: "flatten" }).apply(h) as tf.SymbolicTensor;
  const [muW, lvW] = tf.split(vae.encOut.W, [z, z], 1);
  const [muB, lvB] = tf.split(vae.encOut.b, [z, z]);
  const mu = withWeights(tf.layers.dense({ units: z, name: "mu" }), h, [muW, muB]);
  const logVar = withWeights(tf.layers.dense({ units: z, name: "log_var" }), h, [lvW, lvB]);
  tf.dispose([muW, lvW, muB, lvB]);
  const encoder = tf.model({ inputs: x, outputs: [mu, logVar], name: "vae_lab_conv_encoder" });

  const zIn = tf.input({ shape: [z], name: "z" });
  let g = withWeights<tf.SymbolicTensor>(tf.layers.dense({ units: dh * dw * 32, activation: "relu", name: "dec" }), zIn, [vae.decIn.W, vae.decIn.b]);
  g = tf.layers.reshape({ targetShape: [dh, dw, 32], name: "grid" }).apply(g) as tf.SymbolicTensor;
  g = withWeights(tf.layers.conv2dTranspose({ filters: 64, kernelSize: 3, strides: 2, padding: "same", activation: "relu", name: "deconv1" }), g, [vae.deconv1.W, vae.deconv1.b]);
  g = withWeights(tf.layers.conv2dTranspose({ filters: 32, kernelSize: 3, strides: 2, padding: "same", activation: "relu", name: "deconv2" }), g, [vae.deconv2.W, vae.deconv2.b]);
  g = withWeights(tf.layers.conv2dTranspose({ filters: C, kernelSize: 3, strides: 1, padding: "same", activation: "sigmoid", name: "deconv3" }), g, [vae.deconv3.W, vae.deconv3.b]);
  const means = tf.layers.flatten({ name: "pixel_means" }).apply(g) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: zIn, outputs: means, name: "vae_lab_conv_decoder" });
  return { encoder, decoder };
}

/**
 * A Layers model's two files, `model.json` and `weights.bin`, as bytes (nothing written). `metadata`, a plain
 * JSON object, goes into model.json's `userDefinedMetadata`, which `tf.loadLayersModel` hands back as
 * `model.getUserDefinedMetadata()`.
 */
export async function layersModelFiles(model: tf.LayersModel, metadata?: Record<string, unknown>): Promise<{ "model.json": string; "weights.bin": Uint8Array }> {
  let files: { "model.json": string; "weights.bin": Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = data === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data);
      const json = {
        format: "layers-model",
        generatedBy: `vae-lab (TensorFlow.js ${tf.version_layers})`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
        ...(metadata ? { userDefinedMetadata: metadata } : {}),
      };
      files = { "model.json": JSON.stringify(json), "weights.bin": bytes };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: bytes.byteLength } };
    }),
  );
  return files!;
}

/** Save a Layers model as `dir/model.json` + `dir/weights.bin`, the two as one set (files/output-set.ts). */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  writeOutputSet(dir, await layersModelFiles(model));
}

/** What an export can say about the images of its model (what vae-lab train records in a checkpoint). */
export interface ExportedImages {
  /** The image shape: rows × cols × channels values per image (1 channel grey, 3 colour). */
  image?: { rows: number; cols: number; channels: number };
  /** The classes a conditional model's one-hot condition stands for, in order. */
  classNames?: string[];
}

/**
 * What each exported model.json carries as `userDefinedMetadata.vaeLab` (from `getUserDefinedMetadata()`
 * after loading): which half it is, its inputs and output, and, where known, the image shape its values
 * make and a conditional model's class names — what a page needs to draw a decoder's output or build an
 * encoder's input without the checkpoint.
 */
export function exportMetadata(vae: StoredModel, part: "encoder" | "decoder", about: ExportedImages = {}): Record<string, unknown> {
  const { inputDim, latentDim } = vae.config;
  const conditionDim = vae instanceof ConditionalVae ? vae.config.conditionDim : undefined;
  const condition = conditionDim === undefined ? [] : [`c [batch, ${conditionDim}]: the one-hot class`];
  const io =
    part === "encoder"
      ? { inputs: [`x [batch, ${inputDim}]: an image's values in [0, 1]`, ...condition], outputs: [`mu [batch, ${latentDim}]`, `logVar [batch, ${latentDim}]`] }
      : { inputs: [`z [batch, ${latentDim}]`, ...condition], outputs: [`pixel means [batch, ${inputDim}]`] };
  return {
    vaeLab: {
      part,
      inputDim,
      latentDim,
      ...(conditionDim === undefined ? {} : { conditionDim }),
      ...io,
      ...(about.image ? { image: { ...about.image, layout: "row-major, channels last" } } : {}),
      ...(about.classNames && conditionDim !== undefined ? { classNames: about.classNames } : {}),
    },
  };
}

/**
 * The four files of an export, `encoder/model.json`, `encoder/weights.bin`, `decoder/model.json` and
 * `decoder/weights.bin` (see the top of this file), as bytes: nothing is written. Each model.json says what
 * its model takes and gives (exportMetadata), with the image shape and class names of `about` where given.
 */
export async function layersExportFiles(vae: StoredModel, about: ExportedImages = {}): Promise<Record<string, string | Uint8Array>> {
  const { encoder, decoder } = toLayersModels(vae);
  try {
    const files: Record<string, string | Uint8Array> = {};
    for (const [name, model] of [["encoder", encoder], ["decoder", decoder]] as const) {
      for (const [file, bytes] of Object.entries(await layersModelFiles(model, exportMetadata(vae, name, about)))) files[`${name}/${file}`] = bytes;
    }
    return files;
  } finally {
    encoder.dispose();
    decoder.dispose();
  }
}

/**
 * Write `dir/encoder/` and `dir/decoder/` as one set: a reader or a kill never finds new weights beside an
 * old model.json, or a new encoder beside an old decoder (files/output-set.ts; the next export repairs a kill).
 */
export async function exportLayersModels(vae: StoredModel, dir: string, about: ExportedImages = {}): Promise<void> {
  writeOutputSet(dir, await layersExportFiles(vae, about));
}
