/**
 * A trained VAE as two standard TensorFlow.js Layers models, for use without vae-lab (in a browser page or
 * any tfjs program, with `tf.loadLayersModel`):
 *
 * - encoder: x [batch, inputDim] → [μ, log σ²], two outputs of [batch, latentDim] (q(z|x));
 * - decoder: z [batch, latentDim] → pixel means [batch, inputDim] (sigmoid of the logits: the same numbers
 *   as Vae.decodeMean).
 *
 * Each is written as a folder with `model.json` (format "layers-model") and `weights.bin`, the layout
 * `tf.loadLayersModel("…/model.json")` reads over http(s) and `tfjs-node` reads from file://.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../files/atomic-write";
import { Activation, Dense, Vae } from "./model";

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
export function toLayersModels(vae: Vae): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  const { inputDim, latentDim, activation } = vae.config;
  const x = tf.input({ shape: [inputDim], name: "x" });
  let h = x;
  vae.encoder.forEach((l, i) => {
    h = activationLayer(activation, `enc${i}_${activation}`).apply(dense(h, l, `enc${i}`)) as tf.SymbolicTensor;
  });
  const mu = dense(h, vae.encMu, "mu");
  const logVar = dense(h, vae.encLogVar, "log_var");
  const encoder = tf.model({ inputs: x, outputs: [mu, logVar], name: "vae_lab_encoder" });

  const z = tf.input({ shape: [latentDim], name: "z" });
  let g = z;
  vae.decoder.forEach((l, i) => {
    g = activationLayer(activation, `dec${i}_${activation}`).apply(dense(g, l, `dec${i}`)) as tf.SymbolicTensor;
  });
  const logits = dense(g, vae.decOut, "logits");
  const means = tf.layers.activation({ activation: "sigmoid", name: "pixel_means" }).apply(logits) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: z, outputs: means, name: "vae_lab_decoder" });
  return { encoder, decoder };
}

/** Save a Layers model as `dir/model.json` + `dir/weights.bin` (each file written atomically). */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = data === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data);
      writeFileAtomic(path.join(dir, "weights.bin"), bytes);
      const json = {
        format: "layers-model",
        generatedBy: `vae-lab (TensorFlow.js ${tf.version_layers})`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
      };
      writeFileAtomic(path.join(dir, "model.json"), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: bytes.byteLength } };
    }),
  );
}

/** Write `dir/encoder/` and `dir/decoder/` (see the top of this file). */
export async function exportLayersModels(vae: Vae, dir: string): Promise<void> {
  const { encoder, decoder } = toLayersModels(vae);
  try {
    await saveLayersModel(encoder, path.join(dir, "encoder"));
    await saveLayersModel(decoder, path.join(dir, "decoder"));
  } finally {
    encoder.dispose();
    decoder.dispose();
  }
}
