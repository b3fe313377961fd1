/**
 * The latent explorer in headless Chromium: moving the pointer over the latent plane redraws the digit,
 * and what the page decodes is the model's decodeMean. Skipped where no Chromium is installed (not in CI).
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadMnist } from "../src/data/mnist";
import { DECODER_JS, decoderSpec, latentExplorerHtml } from "../src/vae/explorer";
import { Vae } from "../src/vae/model";
import { ConvVae } from "../src/vae/conv";
import { Rng } from "../src/engine/random";
import { findChromium, tmpDir, useBrowser } from "./harness/browser";

const chromium = findChromium();
const run = chromium || process.env.CI ? describe : describe.skip;
const data = path.resolve(__dirname, "../data/mnist-tiny");

describe("latentExplorerHtml", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });
  it("needs a 2-D latent space, and embeds the decoder, not the encoder", () => {
    const set = loadMnist({ dir: data, split: "test" });
    const big = new Vae({ latentDim: 3, hiddenDims: [8] });
    expect(() => latentExplorerHtml(big, set)).toThrow(/needs a 2-D latent space \(this model has 3\)/);
    big.dispose();
    const vae = new Vae({ latentDim: 2, hiddenDims: [8] });
    const html = latentExplorerHtml(vae, set, { includePlotly: false });
    expect(html).not.toContain("data-vae-lab-plotly");
    expect(latentExplorerHtml(vae, set)).toContain("data-vae-lab-plotly");
    const spec = JSON.parse(html.match(/var spec = (\{.*\});/)![1]);
    expect(spec.layers.map((l: { rows: number; cols: number }) => [l.rows, l.cols])).toEqual([[2, 8], [8, 784]]);
    vae.dispose();
  });

  // The page's own decoder source, run here: its pixel means against the model's decodeMean.
  const pageDecoder = (vae: Vae | ConvVae) => {
    const f32 = (b64: string) => {
      const bytes = Buffer.from(b64, "base64");
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    };
    return new Function(`return (${DECODER_JS});`)()(decoderSpec(vae), f32) as (z: number[]) => Float64Array;
  };
  const worstGap = (vae: Vae | ConvVae, zs: number[][]) => {
    const decode = pageDecoder(vae);
    const ours = tf.tidy(() => vae.decodeMean(tf.tensor2d(zs)).arraySync() as number[][]);
    let worst = 0;
    zs.forEach((z, i) => decode(z).forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ours[i][j])))));
    return worst;
  };
  const zs = [[0, 0], [1.3, -0.4], [-2.2, 1.7], [0.05, 2.9]];

  it("the page's decoder computes decodeMean of the MLP (every activation)", () => {
    for (const activation of ["relu", "tanh", "softplus", "elu", "leakyRelu", "sigmoid"] as const) {
      const vae = new Vae({ latentDim: 2, hiddenDims: [16, 24], activation, seed: 2 });
      expect(worstGap(vae, zs)).toBeLessThan(1e-5);
      vae.dispose();
    }
  });

  it("the page's decoder computes decodeMean of the convolutional VAE (transposed convolutions, TensorFlow's 'same' padding)", () => {
    const vae = new ConvVae({ latentDim: 2, seed: 4 });
    // Larger, non-zero weights and biases, so a misplaced row, column or channel changes many pixels.
    const rng = new Rng(9);
    tf.tidy(() => vae.variables().forEach((v) => v.assign(tf.add(tf.mul(v, 2), tf.randomUniform(v.shape, -0.2, 0.2, "float32", rng.nextSeed())))));
    const spread = tf.tidy(() => {
      const m = vae.decodeMean(tf.tensor2d(zs));
      return tf.moments(m).variance.sqrt().dataSync()[0];
    });
    expect(spread).toBeGreaterThan(0.1);
    expect(worstGap(vae, zs)).toBeLessThan(1e-5);
    const spec = decoderSpec(vae);
    expect(spec.map((l) => l.kind)).toEqual(["dense", "convT", "convT", "convT"]);
    vae.dispose();
  });
});

run("the latent explorer in headless Chromium", () => {
  const browser = useBrowser();
  let vae: Vae;
  let file = "";
  beforeAll(async () => {
    await initBackend("cpu");
    const set = loadMnist({ dir: data, split: "test" });
    vae = new Vae({ latentDim: 2, hiddenDims: [64], activation: "elu", seed: 3 });
    file = path.join(tmpDir(), "explorer.html");
    // Standalone: the fragment alone (with its own plotly.js) in an otherwise empty page.
    fs.writeFileSync(file, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${latentExplorerHtml(vae, set)}</body></html>`);
  });

  it("a pointer move over the plane changes the drawn digit, to the decoder's mean at that z", async () => {
    const page = await browser().newPage({ viewport: { width: 1100, height: 800 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("requestfailed", (r) => errors.push(`failed to load ${r.url()}`));
    await page.goto("file://" + file, { waitUntil: "load" });
    await page.waitForSelector('.vae-lab-explorer div.vae-lab-plot[data-rendered="1"]', { timeout: 60_000 });
    const box = await page.evaluate(() => {
      const plot = document.querySelector(".vae-lab-explorer div.vae-lab-plot") as HTMLElement & { _fullLayout: { _size: { l: number; t: number; w: number; h: number } } };
      const r = plot.getBoundingClientRect();
      const s = plot._fullLayout._size;
      return { x: r.left + s.l, y: r.top + s.t, w: s.w, h: s.h };
    });
    const state = () =>
      page.evaluate(() => {
        const root = document.querySelector(".vae-lab-explorer") as HTMLElement;
        const canvas = root.querySelector("canvas.vae-lab-explorer-digit") as HTMLCanvasElement;
        const ctx = canvas.getContext("2d")!;
        const cell = canvas.width / 28;
        // The centre of each of the 28×28 drawn pixels.
        const gray: number[] = [];
        for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) gray.push(ctx.getImageData(Math.floor((c + 0.5) * cell), Math.floor((r + 0.5) * cell), 1, 1).data[0]);
        return { z: root.getAttribute("data-z")!.split(",").map(Number), gray, label: (root.querySelector(".vae-lab-explorer-z") as HTMLElement).textContent };
      });
    await page.mouse.move(box.x + box.w * 0.2, box.y + box.h * 0.25);
    const a = await state();
    await page.mouse.move(box.x + box.w * 0.8, box.y + box.h * 0.7);
    const b = await state();
    await page.close();
    expect(errors).toEqual([]);
    // Left/top of the plane is smaller z1 and larger z2 than right/bottom.
    expect(a.z[0]).toBeLessThan(b.z[0]);
    expect(a.z[1]).toBeGreaterThan(b.z[1]);
    expect(a.label).toBe(`z = (${a.z[0].toFixed(2)}, ${a.z[1].toFixed(2)})`);
    const changed = a.gray.filter((g, i) => Math.abs(g - b.gray[i]) > 2).length;
    expect(changed).toBeGreaterThan(50);
    // Each drawing is 255·(1 − decodeMean(z)), rounded: the page's plain-JS decoder is the model's.
    for (const s of [a, b]) {
      const p = vae.decodeMean(tf.tensor2d([s.z], [1, 2])).dataSync();
      let worst = 0;
      s.gray.forEach((g, i) => (worst = Math.max(worst, Math.abs(g - Math.round(255 * (1 - p[i]))))));
      expect(worst).toBeLessThanOrEqual(1);
    }
  }, 180_000);

  it("a colour model's image is drawn in colour: each pixel's red, green and blue are 255 · decodeMean(z)", async () => {
    // 20 colour images of 6 × 5 pixels (their values do not matter: the scatter only places them).
    const rng = new Rng(2);
    const images = Float32Array.from({ length: 20 * 90 }, () => rng.uniform());
    const set = { split: "test" as const, images, labels: new Int32Array(20), count: 20, rows: 6, cols: 5, channels: 3, pixels: 90, classNames: ["a"], binarize: "none" as const, files: { images: "x", labels: "x" } };
    const colour = new Vae({ inputDim: 90, latentDim: 2, hiddenDims: [16], seed: 6 });
    const page = path.join(tmpDir(), "colour.html");
    fs.writeFileSync(page, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${latentExplorerHtml(colour, set)}</body></html>`);
    const tab = await browser().newPage({ viewport: { width: 1100, height: 800 } });
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto("file://" + page, { waitUntil: "load" });
    await tab.waitForSelector('.vae-lab-explorer div.vae-lab-plot[data-rendered="1"]', { timeout: 60_000 });
    const drawn = await tab.evaluate(() => {
      const root = document.querySelector(".vae-lab-explorer") as HTMLElement & { vaeLabExplorer: { draw: (z: number[]) => void } };
      root.vaeLabExplorer.draw([0.7, -1.1]);
      const canvas = root.querySelector("canvas.vae-lab-explorer-digit") as HTMLCanvasElement;
      const ctx = canvas.getContext("2d")!;
      const [w, h] = [canvas.width / 5, canvas.height / 6];
      const rgb: number[] = [];
      for (let r = 0; r < 6; r++) for (let c = 0; c < 5; c++) rgb.push(...Array.from(ctx.getImageData(Math.floor((c + 0.5) * w), Math.floor((r + 0.5) * h), 1, 1).data.subarray(0, 3)));
      return rgb;
    });
    await tab.close();
    expect(errors).toEqual([]);
    const p = tf.tidy(() => Array.from(colour.decodeMean(tf.tensor2d([[0.7, -1.1]])).dataSync()));
    colour.dispose();
    expect(drawn).toHaveLength(90);
    let worst = 0;
    drawn.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - Math.round(255 * p[i])))));
    expect(worst).toBeLessThanOrEqual(1);
    // Not grey: the channels of a pixel differ somewhere.
    expect(drawn.some((v, i) => i % 3 === 0 && Math.abs(v - drawn[i + 1]) > 10)).toBe(true);
  }, 180_000);
});
