/**
 * Colour images (3 channels: red, green, blue side by side in each pixel) through the library: the MLP and
 * the convolutional VAE take them (a Bernoulli for every pixel and channel; the conv model's gradients on
 * wasm and against PyTorch are in conv-vae.test.ts), the figures draw them as RGB
 * PNGs, the explorer's page decoder and the Layers export decode them as the model does, and checkpoints
 * keep the channel count (one written before colour came reads as grey).
 */
import * as fs from "fs";
import * as path from "path";
import { PNG } from "pngjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "../src/engine/tf";
import { initBackend } from "../src/engine/backend";
import { ConvVae, convGeometry, convSizeProblem, convWeightLayout } from "../src/vae/conv";
import { Vae } from "../src/vae/model";
import { loadModel, saveVae } from "../src/vae/checkpoint";
import { manifoldFigure, reconstructionFigure, samplesFigure } from "../src/vae/figures";
import { DECODER_JS, decoderSpec, latentExplorerHtml } from "../src/vae/explorer";
import { toLayersModels } from "../src/vae/layers-export";
import { ImageSet } from "../src/data/image-set";
import { Rng } from "../src/engine/random";
import { scratchDir } from "./harness/scratch";

/** `count` colour images of rows × cols: half reddish on the left, half bluish at the bottom, with noise. */
function colourSet(count: number, rows: number, cols: number, seed = 1): ImageSet {
  const rng = new Rng(seed);
  const pixels = rows * cols * 3;
  const images = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const on = labels[i] === 0 ? x < cols / 2 : y >= rows / 2;
        const rgb = labels[i] === 0 ? [0.9, 0.2, 0.1] : [0.1, 0.3, 0.9];
        for (let c = 0; c < 3; c++) images[i * pixels + (y * cols + x) * 3 + c] = on ? rgb[c] : 0.05 + 0.1 * rng.uniform();
      }
    }
  }
  return { split: "test", images, labels, count, rows, cols, channels: 3, pixels, classNames: ["red", "blue"], binarize: "none", files: { images: "colour", labels: "colour" } };
}

/** The PNG of a plotly image trace, read back. */
function pngOf(fig: { data: Record<string, unknown>[] }): { colourType: number; png: PNG } {
  const bytes = Buffer.from((fig.data[0].source as string).split(",")[1], "base64");
  return { colourType: bytes[25], png: PNG.sync.read(bytes) };
}

/** A model with larger, non-zero weights and biases, so that a misplaced channel changes many values. */
function roughen(vae: Vae | ConvVae, seed: number): void {
  const rng = new Rng(seed);
  tf.tidy(() => vae.variables().forEach((v) => v.assign(tf.add(tf.mul(v, 2), tf.randomUniform(v.shape, -0.2, 0.2, "float32", rng.nextSeed())))));
}

const zs = [[0, 0], [1.3, -0.4], [-2.2, 1.7]];

describe("colour images", { timeout: 300_000 }, () => {
  beforeAll(async () => {
    await initBackend("cpu");
    await initBackend("wasm");
  });

  it("the convolutional VAE with 3 channels: 3 input and 3 output channels, 784 · 3 values per image", () => {
    const m = new ConvVae({ latentDim: 2, channels: 3, seed: 1 });
    expect(m.config).toMatchObject({ inputDim: 2352, channels: 3 });
    // The grey model's 69 989 parameters, with conv1 3·3·3·32 + 32 (not 3·3·1·32 + 32) and deconv3 3·3·32·3 + 3 (not 3·3·32·1 + 1).
    expect(m.parameterCount()).toBe(69989 - 320 - 289 + (864 + 32) + (864 + 3));
    expect(m.variables().map((v) => v.shape)).toEqual(convWeightLayout(m.config).map((w) => w.shape));
    const shapes = tf.tidy(() => {
      const e = m.encode(tf.zeros([2, 2352]));
      return [e.mu.shape, m.decode(e.mu).shape];
    });
    expect(shapes).toEqual([[2, 2], [2, 2352]]);
    expect(() => new ConvVae({ channels: 3, inputDim: 784 })).toThrow(/the convolutional VAE of 28×28 images of 3 channels takes inputDim 2352 \(got 784\)/);
    expect(() => new ConvVae({ channels: 0 })).toThrow(/channels must be 1 to 4/);
    m.dispose();
  });

  it("the convolutional VAE takes any size its strides allow (sides multiples of 4 from 8): 32 × 24, 8 × 8; not 30 × 28", () => {
    const m = new ConvVae({ latentDim: 3, rows: 32, cols: 24, channels: 3, seed: 2 });
    expect(m.config).toMatchObject({ inputDim: 32 * 24 * 3, rows: 32, cols: 24 });
    expect(convGeometry(m.config)).toEqual({ rows: 32, cols: 24, h1: 15, w1: 11, h2: 7, w2: 5, dh: 8, dw: 6 });
    expect(convGeometry({})).toMatchObject({ h1: 13, h2: 6, dh: 7 }); // the tutorial's 28 × 28
    expect(m.variables().map((v) => v.shape)).toEqual(convWeightLayout(m.config).map((w) => w.shape));
    expect(m.encOut.W.shape).toEqual([7 * 5 * 64, 6]);
    expect(m.decIn.W.shape).toEqual([3, 8 * 6 * 32]);
    const shapes = tf.tidy(() => {
      const e = m.encode(tf.zeros([2, 2304]));
      return [e.mu.shape, m.decode(e.mu).shape];
    });
    expect(shapes).toEqual([[2, 3], [2, 2304]]);
    m.dispose();
    const small = new ConvVae({ rows: 8, cols: 8 });
    expect(convGeometry(small.config)).toMatchObject({ h2: 1, w2: 1, dh: 2, dw: 2 });
    small.dispose();
    expect(convSizeProblem(28, 28)).toBeUndefined();
    expect(convSizeProblem(1024, 8)).toBeUndefined();
    for (const [r, c] of [[30, 28], [4, 4], [28, 1028], [28.5, 28]]) expect(convSizeProblem(r, c)).toMatch(/multiples of 4 from 8 to 1024/);
    expect(() => new ConvVae({ rows: 30 })).toThrow(/not 30×28/);
  });

  it("figures draw colour: reconstructions, samples and the decoded manifold are RGB PNGs of the model's colours", () => {
    const set = colourSet(6, 6, 5);
    const vae = new Vae({ inputDim: set.pixels, hiddenDims: [8], latentDim: 2, seed: 3 });
    const rec = pngOf(reconstructionFigure(vae, set, { n: 3 }));
    expect(rec.colourType).toBe(2);
    // 3 columns of 5 with 1-pixel gaps; the originals' first pixel as drawn: image 0 is red on the left.
    expect([rec.png.width, rec.png.height]).toEqual([3 * 5 + 2, 2 * 6 + 1]);
    expect(Array.from(rec.png.data.subarray(0, 3))).toEqual([0.9, 0.2, 0.1].map((v) => Math.round(255 * Math.fround(v))));
    const shape = { rows: 6, cols: 5, channels: 3 };
    expect(pngOf(samplesFigure(vae, { n: 4, shape })).colourType).toBe(2);
    expect(pngOf(manifoldFigure(vae, { n: 3, shape })).colourType).toBe(2);
    // The shape must account for the channels: 6 × 5 grey pixels are not the model's 90 values.
    expect(() => samplesFigure(vae, { n: 4, shape: { rows: 6, cols: 5 } })).toThrow(/image shape 6×5 does not match the model's 90 values per image/);
    vae.dispose();
  });

  it("the explorer's page decoder computes decodeMean of colour models (MLP and conv), and the page draws 3 channels", () => {
    const f32 = (b64: string) => {
      const bytes = Buffer.from(b64, "base64");
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    };
    for (const vae of [new Vae({ inputDim: 90, hiddenDims: [12], latentDim: 2, seed: 4 }), new ConvVae({ latentDim: 2, channels: 3, seed: 4 }), new ConvVae({ latentDim: 2, rows: 32, cols: 24, channels: 3, seed: 4 })]) {
      roughen(vae, 7);
      const decode = new Function(`return (${DECODER_JS});`)()(decoderSpec(vae), f32) as (z: number[]) => Float64Array;
      const ours = tf.tidy(() => vae.decodeMean(tf.tensor2d(zs)).arraySync() as number[][]);
      let worst = 0;
      zs.forEach((z, i) => {
        const page = decode(z);
        expect(page.length).toBe(vae.config.inputDim);
        page.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ours[i][j]))));
      });
      expect(worst).toBeLessThan(1e-5);
      vae.dispose();
    }
    const set = colourSet(8, 6, 5);
    const mlp = new Vae({ inputDim: 90, hiddenDims: [12], latentDim: 2, seed: 4 });
    const html = latentExplorerHtml(mlp, set, { includePlotly: false });
    expect(JSON.parse(html.match(/var spec = (\{.*\});/)![1])).toMatchObject({ rows: 6, cols: 5, channels: 3 });
    expect(() => latentExplorerHtml(mlp, { ...set, channels: 1, pixels: 30 })).toThrow(/the data's 6×5 images do not have the model's 90 values per image/);
    mlp.dispose();
  });

  it("the Layers export of the colour conv model (32 × 24) decodes and encodes as the model (to 1e-5)", () => {
    const vae = new ConvVae({ latentDim: 2, rows: 32, cols: 24, channels: 3, seed: 6 });
    roughen(vae, 8);
    const { encoder, decoder } = toLayersModels(vae);
    const gaps = tf.tidy(() => {
      const z = tf.tensor2d(zs);
      const x = tf.tensor2d(colourSet(3, 32, 24).images, [3, 2304]);
      const gap = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      const out = decoder.predict(z) as tf.Tensor;
      const [mu] = encoder.predict(x) as tf.Tensor[];
      return { shape: out.shape, decoded: gap(out, vae.decodeMean(z)), encoded: gap(mu, vae.encode(x).mu) };
    });
    expect(gaps.shape).toEqual([3, 2304]);
    expect(gaps.decoded).toBeLessThan(1e-5);
    expect(gaps.encoded).toBeLessThan(1e-5);
    encoder.dispose();
    decoder.dispose();
    vae.dispose();
  });

  it("checkpoints keep the channel count and the size; a conv checkpoint written before colour came (no channels, rows, cols) reads as 28 × 28 grey", () => {
    const dir = scratchDir("vae-lab-colour-");
    const m = new ConvVae({ latentDim: 2, rows: 32, cols: 24, channels: 3, seed: 1 });
    const file = path.join(dir, "colour.json");
    saveVae(m, file);
    const { model } = loadModel(file);
    expect(model.config).toMatchObject({ inputDim: 2304, rows: 32, cols: 24, channels: 3 });
    expect((model as ConvVae).parameterCount()).toBe(m.parameterCount());
    model.dispose();
    m.dispose();
    const grey = new ConvVae({ latentDim: 2, seed: 1 });
    const old = path.join(dir, "old.json");
    saveVae(grey, old);
    const ckpt = JSON.parse(fs.readFileSync(old, "utf8"));
    delete ckpt.config.channels;
    delete ckpt.config.rows;
    delete ckpt.config.cols;
    fs.writeFileSync(old, JSON.stringify(ckpt));
    const back = loadModel(old).model as ConvVae;
    expect(back.channels).toBe(1);
    expect(back.config).toMatchObject({ inputDim: 784, rows: 28, cols: 28 });
    back.dispose();
    grey.dispose();
    // A channel count that does not fit the weights (3 channels, a grey model's conv1) is refused naming the weight.
    ckpt.config.channels = 3;
    ckpt.config.inputDim = 2352;
    fs.writeFileSync(old, JSON.stringify(ckpt));
    expect(() => loadModel(old)).toThrow(/conv1\/W.* has shape \[3,3,1,32\]/);
    ckpt.config.channels = "3";
    fs.writeFileSync(old, JSON.stringify(ckpt));
    expect(() => loadModel(old)).toThrow(/channels must be a number/);
  });
});
