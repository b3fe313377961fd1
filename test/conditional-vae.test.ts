/**
 * The conditional VAE (src/vae/conditional.ts): its forward pass and −ELBO(x|c) against float64 written out
 * here from its weights, its gradient against central differences of that float64 loss, and training on MNIST
 * with the class as the condition: decoding z = 0 under each class draws that class; the evaluations of
 * evaluate.ts on a conditional model (the IWAE bound, codes, reconstructions, samples by class) against the
 * model's own encode and decode with each image's class; the refusals; no tensors left behind.
 */
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { Rng, tfSeed } from "../src/engine/random";
import { batchTensor, loadMnist } from "../src/data/mnist";
import { activeUnits, encodeMeans, iwaeNll, reconstruct } from "../src/vae/evaluate";
import { logImportanceWeights } from "../src/vae/iwae";
import { TINY_MNIST } from "./harness/mnist-tiny";
import { negativeElbo } from "../src/vae/model";
import { batchesFor, Condition, ConditionalVae, oneHot, sampleClasses, splitRows } from "../src/vae/conditional";
import { Vae } from "../src/vae/model";
import type { MnistSet } from "../src/data/mnist";
import { evaluateElbo, trainVae } from "../src/vae/train";

beforeAll(async () => {
  await initBackend("wasm");
});

type M = number[][];
const matmul = (a: M, W: M, b: number[]): M => a.map((row) => b.map((bj, j) => row.reduce((s, v, i) => s + v * W[i][j], bj)));
const relu = (a: M): M => a.map((r) => r.map((v) => Math.max(0, v)));
const concat = (a: M, c: M): M => a.map((r, i) => [...r, ...c[i]]);

/** The model's weights as float64 arrays, layer by layer. */
function weights(m: ConditionalVae) {
  const layer = (l: { W: tf.Variable; b: tf.Variable }) => ({ W: l.W.arraySync() as M, b: l.b.arraySync() as number[] });
  return { enc: m.encoder.map(layer), mu: layer(m.encMu), logVar: layer(m.encLogVar), dec: m.decoder.map(layer), out: layer(m.decOut) };
}
type Weights = ReturnType<typeof weights>;

/** μ, log σ² and the decoder's logits at z = μ + σ ⊙ ε, in float64 (relu, one hidden layer each way). */
function forward(w: Weights, x: M, c: M, eps: M) {
  const h = relu(matmul(concat(x, c), w.enc[0].W, w.enc[0].b));
  const mu = matmul(h, w.mu.W, w.mu.b);
  const logVar = matmul(h, w.logVar.W, w.logVar.b);
  // eps has m · B rows: draw i of image b is row i·B + b.
  const B = x.length;
  const z = eps.map((e, r) => e.map((v, j) => mu[r % B][j] + Math.exp(0.5 * logVar[r % B][j]) * v));
  const logits = matmul(relu(matmul(concat(z, eps.map((_, r) => c[r % B])), w.dec[0].W, w.dec[0].b)), w.out.W, w.out.b);
  return { mu, logVar, logits };
}

/** −ELBO(x|c) averaged over images and draws, Bernoulli likelihood, KL to N(0, I), in float64. */
function negElbo64(w: Weights, x: M, c: M, eps: M): number {
  const { mu, logVar, logits } = forward(w, x, c, eps);
  const B = x.length;
  const recon = logits.reduce((s, l, r) => s + l.reduce((t, v, p) => t + Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))) - v * x[r % B][p], 0), 0) / logits.length;
  const kl = mu.reduce((s, m, b) => s + m.reduce((t, v, j) => t + 0.5 * (v * v + Math.exp(logVar[b][j]) - 1 - logVar[b][j]), 0), 0) / B;
  return recon + kl;
}

function smallProblem() {
  const rng = new Rng(4);
  const B = 3;
  const x = Array.from({ length: B }, () => Array.from({ length: 6 }, () => (rng.uniform() < 0.4 ? 1 : 0)));
  const labels = [2, 0, 2];
  const c = labels.map((l) => [0, 1, 2].map((k) => (k === l ? 1 : 0)));
  const eps = Array.from({ length: 2 * B }, () => [rng.normal(), rng.normal()]);
  return { x, labels, c, eps };
}

describe("the conditional VAE, written out", () => {
  it("oneHot: one 1 per row at the label; labels outside 0 … K − 1 are refused", () => {
    const t = oneHot([2, 0, 1], 3);
    expect(t.arraySync()).toEqual([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
    t.dispose();
    expect(() => oneHot([3], 3)).toThrow(/label 3 \(at 0\) is not one of 0 … 2/);
    expect(() => oneHot([-1], 3)).toThrow(/label -1/);
    expect(() => oneHot([0.5], 3)).toThrow(/label 0.5/);
    expect(() => oneHot([0], 0)).toThrow(/classes must be a positive integer/);
  });

  it("encode reads [x | c] and decode [z | c]: μ, log σ² and the logits equal float64 from the weights", () => {
    const m = new ConditionalVae({ inputDim: 6, conditionDim: 3, hiddenDims: [5], latentDim: 2, seed: 1 });
    const { x, c, eps } = smallProblem();
    const w = weights(m);
    // The condition's weights are real inputs: the first layers are 9 × 5 and 5 × 5.
    expect(w.enc[0].W.length).toBe(9);
    expect(w.dec[0].W.length).toBe(5);
    const ref = forward(w, x, c, eps.slice(0, 3));
    const before = tf.memory().numTensors;
    const [xt, ct] = [tf.tensor2d(x), tf.tensor2d(c)];
    const { mu, logVar } = m.encode(xt, ct);
    const z = tf.tensor2d(ref.mu.map((r, b) => r.map((v, j) => v + Math.exp(0.5 * ref.logVar[b][j]) * eps[b][j])));
    const logits = m.decode(z, ct);
    const close = (a: M, b: M) => a.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(b[i][j], 5)));
    close(mu.arraySync(), ref.mu);
    close(logVar.arraySync(), ref.logVar);
    close(logits.arraySync(), ref.logits);
    // Changing only the condition changes both networks' answers.
    const other = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const q2 = m.encode(xt, other);
    const mu2 = q2.mu.arraySync();
    expect(Math.max(...mu2.flat().map((v, i) => Math.abs(v - ref.mu.flat()[i])))).toBeGreaterThan(1e-3);
    tf.dispose([xt, ct, mu, logVar, z, logits, other, q2.mu, q2.logVar]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it("given(c) is a VAE of p(x|c): negativeElbo on it equals −ELBO(x|c) in float64, also with 2 draws per image", () => {
    const m = new ConditionalVae({ inputDim: 6, conditionDim: 3, hiddenDims: [5], latentDim: 2, seed: 2 });
    const { x, c, eps } = smallProblem();
    const w = weights(m);
    const [xt, ct] = [tf.tensor2d(x), tf.tensor2d(c)];
    for (const draws of [1, 2]) {
      const e = eps.slice(0, draws * 3);
      const et = tf.tensor2d(e);
      const t = negativeElbo(m.given(ct), xt, { samples: draws, eps: et });
      expect(t.loss.dataSync()[0]).toBeCloseTo(negElbo64(w, x, c, e), 4);
      tf.dispose([t.loss, t.recon, t.kl, et]);
    }
    tf.dispose([xt, ct]);
    m.dispose();
  });

  it("its gradient by autodiff matches central differences of the float64 −ELBO(x|c), for every weight of every layer", () => {
    const m = new ConditionalVae({ inputDim: 6, conditionDim: 3, hiddenDims: [5], latentDim: 2, seed: 3 });
    const { x, c, eps } = smallProblem();
    const [xt, ct, et] = [tf.tensor2d(x), tf.tensor2d(c), tf.tensor2d(eps)];
    const vars = m.variables();
    const { grads } = tf.variableGrads(() => negativeElbo(m.given(ct), xt, { samples: 2, eps: et }).loss, vars);
    const w = weights(m);
    const order: { W: M; b: number[] }[] = [w.enc[0], w.mu, w.logVar, w.dec[0], w.out];
    const h = 1e-6;
    let worst = 0;
    let checked = 0;
    order.forEach((layer, li) => {
      for (const which of ["W", "b"] as const) {
        const v = vars[2 * li + (which === "W" ? 0 : 1)];
        const g = grads[v.name].dataSync();
        const flat = which === "W" ? layer.W.flat() : layer.b;
        for (let k = 0; k < flat.length; k++) {
          const nudge = (d: number) => {
            if (which === "W") {
              const cols = layer.W[0].length;
              layer.W[Math.floor(k / cols)][k % cols] += d;
            } else layer.b[k] += d;
          };
          nudge(h);
          const up = negElbo64(w, x, c, eps);
          nudge(-2 * h);
          const down = negElbo64(w, x, c, eps);
          nudge(h);
          const fd = (up - down) / (2 * h);
          worst = Math.max(worst, Math.abs(g[k] - fd) / Math.max(1e-2, Math.abs(fd)));
          checked++;
        }
      }
    });
    expect(checked).toBe(m.parameterCount());
    expect(worst).toBeLessThan(2e-3);
    tf.dispose([xt, ct, et, ...Object.values(grads)]);
    m.dispose();
  });

  it("refuses a condition of the wrong width or row count, a set without its classes, and use after dispose", () => {
    const m = new ConditionalVae({ inputDim: 6, conditionDim: 3, hiddenDims: [5], latentDim: 2 });
    const x = tf.zeros([4, 6]) as tf.Tensor2D;
    const wide = tf.zeros([4, 4]) as tf.Tensor2D;
    const three = tf.zeros([3, 3]) as tf.Tensor2D;
    // Each method names itself in its refusal.
    expect(() => m.encode(x, wide)).toThrow(/^ConditionalVae\.encode: the condition has shape \[4,4\], expected \[rows, 3\]$/);
    expect(() => m.encode(x, three)).toThrow(/^ConditionalVae\.encode: the condition has 3 rows, which do not divide the 4 rows/);
    const z = tf.zeros([4, 2]) as tf.Tensor2D;
    expect(() => m.decode(z, wide)).toThrow(/^ConditionalVae\.decode: the condition has shape \[4,4\]/);
    expect(() => m.given(wide)).toThrow(/^ConditionalVae\.given: the condition has shape \[4,4\]/);
    const flat = tf.zeros([4]) as unknown as tf.Tensor2D;
    expect(() => m.encode(x, flat)).toThrow(/^ConditionalVae\.encode: the condition has shape \[4\], expected \[rows, 3\]$/);
    const cube = tf.zeros([4, 3, 2]) as unknown as tf.Tensor2D; // its second dimension is 3, but it is not a matrix
    expect(() => m.encode(x, cube)).toThrow(/^ConditionalVae\.encode: the condition has shape \[4,3,2\], expected \[rows, 3\]$/);
    tf.dispose(cube);
    expect(() => new ConditionalVae({ inputDim: 6, conditionDim: 0 })).toThrow(/conditionDim must be a positive integer/);
    // One class (or one number) is a condition like any other.
    const one = new ConditionalVae({ inputDim: 6, conditionDim: 1, hiddenDims: [5], latentDim: 2 });
    expect(one.parameterCount()).toBe(7 * 5 + 5 + 2 * (5 * 2 + 2) + 3 * 5 + 5 + 5 * 6 + 6);
    one.dispose();
    const single = oneHot([0, 0], 1);
    expect(single.arraySync()).toEqual([[1], [1]]);
    single.dispose();
    tf.dispose(flat);
    z.dispose();
    // The condition widens both networks' first layers; one too large is refused before anything is allocated.
    const tensors = tf.memory().numTensors;
    expect(() => new ConditionalVae({ inputDim: 784, conditionDim: 200_000, hiddenDims: [400] })).toThrow(/a 200784×400 layer has 80313600 weights, more than the 67108864 one layer may have \(inputDim, conditionDim, hiddenDims, latentDim\)/);
    expect(() => new ConditionalVae({ inputDim: 784, conditionDim: 200_000, hiddenDims: [10, 400], latentDim: 20 })).toThrow(/a 200020×400 layer/); // the decoder's first layer
    expect(tf.memory().numTensors).toBe(tensors);
    const digits = loadMnist({ split: "test", limit: 20 });
    const m10 = new ConditionalVae({ inputDim: 784, conditionDim: 9, hiddenDims: [8], latentDim: 2 });
    expect(() => trainVae(m10, digits, digits, { epochs: 1 })).toThrow(/conditioned on one of 9 classes, but the test set has 10 classes/);
    expect(() => evaluateElbo(m10, { ...digits, classNames: [] })).toThrow(/the test set has no labels/);
    m10.dispose();
    tf.dispose([x, wide, three]);
    m.dispose();
    expect(() => m.variables()).toThrow(/^ConditionalVae\.variables: this model was disposed/);
    // After dispose every method says so by name (not a tfjs error about a disposed tensor); a second dispose does nothing.
    const c = tf.zeros([4, 3]) as tf.Tensor2D;
    const x2 = tf.zeros([4, 6]) as tf.Tensor2D;
    expect(() => m.encode(x2, c)).toThrow(/^ConditionalVae\.encode: this model was disposed \(its weights are freed\)$/);
    expect(() => m.decodeMean(tf.zeros([4, 2]) as tf.Tensor2D, c)).toThrow(/^ConditionalVae\.decode: this model was disposed/);
    expect(() => m.given(c)).toThrow(/^ConditionalVae\.given: this model was disposed/);
    expect(() => m.dispose()).not.toThrow();
    tf.dispose([c, x2]);
  });
});

describe("the conditional VAE on MNIST, the digit's class as the condition", () => {
  it("after 5 epochs on 2 000 images, decoding z = 0 under each class draws that class (what the class adds correlates best with its own mean image) for ≥ 9 of 10; no tensors left", () => {
    const train = loadMnist({ split: "train", limit: 2000, binarize: "dynamic" });
    const test = loadMnist({ split: "test", limit: 500, binarize: "dynamic" });
    const before = tf.memory().numTensors;
    const m = new ConditionalVae({ conditionDim: 10, hiddenDims: [400], latentDim: 2, seed: 1 });
    const history = trainVae(m, train, test, { epochs: 5, seed: 1 });
    expect(history[4].testLoss).toBeLessThan(history[0].testLoss);
    // Each class's mean test image, and the decoded mean at z = 0 under each class.
    const P = 784;
    const means = Array.from({ length: 10 }, () => new Float64Array(P));
    const counts = new Array(10).fill(0);
    const grey = loadMnist({ split: "test", limit: 500 });
    for (let i = 0; i < grey.count; i++) {
      counts[grey.labels[i]]++;
      for (let p = 0; p < P; p++) means[grey.labels[i]][p] += grey.images[i * P + p];
    }
    means.forEach((mean, k) => mean.forEach((_, p) => (mean[p] /= counts[k])));
    const decoded = tf.tidy(() => m.decodeMean(tf.zeros([10, 2]) as tf.Tensor2D, oneHot([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10)).arraySync());
    // What the class adds to the decoded picture (its difference from the average over the ten classes) against
    // what sets each class's mean image apart (its difference from the average mean): the best-correlated class.
    // A decoder that ignored c would draw ten equal pictures, with nothing added: no class at all.
    const avgDecoded = new Float64Array(P);
    const avgMean = new Float64Array(P);
    for (let k = 0; k < 10; k++) for (let p = 0; p < P; p++) (avgDecoded[p] += decoded[k][p] / 10), (avgMean[p] += means[k][p] / 10);
    const nearest = decoded.map((img) => {
      const r = means.map((mean) => {
        let uv = 0, uu = 0, vv = 0;
        for (let p = 0; p < P; p++) {
          const u = img[p] - avgDecoded[p];
          const v = mean[p] - avgMean[p];
          uv += u * v;
          uu += u * u;
          vv += v * v;
        }
        return uv / Math.sqrt(uu * vv);
      });
      return r.indexOf(Math.max(...r));
    });
    const right = nearest.filter((k, c) => k === c).length;
    expect(right, `best-correlated classes: ${nearest.join(" ")}`).toBeGreaterThanOrEqual(9);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** The bottom rows of every image of a set, as a set of its own (for an unconditional VAE of them). */
function bottomRows(set: MnistSet, r: number): MnistSet {
  const width = set.cols * set.channels;
  const pixels = (set.rows - r) * width;
  const images = new Float32Array(set.count * pixels);
  for (let i = 0; i < set.count; i++) images.set(set.images.subarray(i * set.pixels + r * width, (i + 1) * set.pixels), i * pixels);
  return { ...set, images, rows: set.rows - r, pixels };
}

describe("completing a digit from its top half: the condition is the top 14 rows, x the bottom 14", () => {
  it("splitRows cuts each flattened image after its first r rows; bad r, mismatched models and a condition for a plain VAE are refused", () => {
    const set = { rows: 3, cols: 2, channels: 1 };
    const x = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
    const { top, bottom } = splitRows(x, set, 1);
    expect(top.arraySync()).toEqual([[1, 2], [7, 8]]);
    expect(bottom.arraySync()).toEqual([[3, 4, 5, 6], [9, 10, 11, 12]]);
    expect(() => splitRows(x, set, 3)).toThrow(/the rows seen must be an integer from 1 to 2 \(got 3\)/);
    expect(() => splitRows(x, { rows: 2, cols: 2, channels: 1 }, 1)).toThrow(/^splitRows: images of 6 values, expected 2·2$/);
    // A colour image's row is cols · channels values: the top row of a 2×2 RGB image is its first 6.
    const rgb = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]);
    const halves = splitRows(rgb, { rows: 2, cols: 2, channels: 3 }, 1);
    expect(halves.top.arraySync()).toEqual([[1, 2, 3, 4, 5, 6]]);
    expect(halves.bottom.arraySync()).toEqual([[7, 8, 9, 10, 11, 12]]);
    tf.dispose([x, top, bottom, rgb, halves.top, halves.bottom]);
    const digits = loadMnist({ split: "test", limit: 10 });
    const m = new ConditionalVae({ inputDim: 392, conditionDim: 392, hiddenDims: [8], latentDim: 2 });
    expect(() => batchesFor(m, digits, { on: "top-rows", rows: 10 })).toThrow(/the top 10 rows of 28×28 images seen, the model needs conditionDim 280 and inputDim 504 \(it has 392 and 392\)/);
    expect(() => batchesFor(m, digits, { on: "top-rows", rows: 0 })).toThrow(/the rows seen must be an integer from 1 to 27/);
    expect(() => batchesFor(m, digits, { on: "class" })).toThrow(/conditioned on one of 392 classes/);
    expect(() => batchesFor(m, digits, { on: "bottom-rows", rows: 14 } as unknown as Condition)).toThrow(/^unknown condition \{"on":"bottom-rows","rows":14\}: use/);
    m.dispose();
    // Either size alone being wrong is refused: the condition's width, or x's.
    for (const [conditionDim, inputDim] of [[280, 392], [392, 504]]) {
      const wrong = new ConditionalVae({ inputDim, conditionDim, hiddenDims: [4], latentDim: 2 });
      expect(() => batchesFor(wrong, digits, { on: "top-rows", rows: 10 })).toThrow(new RegExp(`needs conditionDim 280 and inputDim 504 \\(it has ${conditionDim} and ${inputDim}\\)`));
      wrong.dispose();
    }
    // A colour set's rows are cols · channels wide: the top 2 rows of 4×3 RGB images are 18 values, the rest 18.
    const colour = { split: "test", rows: 4, cols: 3, channels: 3, pixels: 36, labels: new Int32Array(2), classNames: [] as string[] };
    const rgbModel = new ConditionalVae({ inputDim: 18, conditionDim: 18, hiddenDims: [4], latentDim: 2 });
    expect(() => batchesFor(rgbModel, colour, { on: "top-rows", rows: 2 })).not.toThrow();
    rgbModel.dispose();
    // The images must be the model's size, conditioned on the class or not.
    const small = new ConditionalVae({ inputDim: 100, conditionDim: 10, hiddenDims: [4], latentDim: 2 });
    expect(() => batchesFor(small, digits, { on: "class" })).toThrow(/^the data have 784 pixels per image but the model expects 100$/);
    small.dispose();
    const smallPlain = new Vae({ inputDim: 100, hiddenDims: [4], latentDim: 2 });
    expect(() => batchesFor(smallPlain, digits)).toThrow(/^the data have 784 pixels per image but the model expects 100$/);
    smallPlain.dispose();
    // A plain VAE takes no condition: one given to it is refused, not ignored.
    const plain = new Vae({ inputDim: 784, hiddenDims: [8], latentDim: 2 });
    expect(() => trainVae(plain, digits, digits, { epochs: 1, condition: { on: "class" } })).toThrow(/applies to a ConditionalVae only/);
    plain.dispose();
  });

  it("after 5 epochs on 2 000 images, −ELBO(bottom | top) is well below an unconditional VAE's −ELBO(bottom), same size and training", () => {
    const train = loadMnist({ split: "train", limit: 2000, binarize: "static" });
    const test = loadMnist({ split: "test", limit: 500, binarize: "static" });
    const options = { epochs: 5, seed: 2 };
    const cvae = new ConditionalVae({ inputDim: 392, conditionDim: 392, hiddenDims: [400], latentDim: 10, seed: 2 });
    const c = trainVae(cvae, train, test, { ...options, condition: { on: "top-rows", rows: 14 } });
    const vae = new Vae({ inputDim: 392, hiddenDims: [400], latentDim: 10, seed: 2 });
    const u = trainVae(vae, bottomRows(train, 14), bottomRows(test, 14), options);
    const [cond, plain] = [c[4].testLoss, u[4].testLoss];
    // Seeing the top half, the model needs fewer nats for the bottom half: at least 5 fewer per image here.
    console.log(`−ELBO(bottom | top) ${cond.toFixed(2)}, −ELBO(bottom) ${plain.toFixed(2)}`);
    expect(cond, `−ELBO(bottom | top) ${cond.toFixed(2)}, −ELBO(bottom) ${plain.toFixed(2)}`).toBeLessThan(plain - 5);
    cvae.dispose();
    vae.dispose();
  });
});

describe("evaluating a conditional model (evaluate.ts) and sampling it by class", () => {
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    expect(a.length).toBe(b.length);
    return Array.from(a).reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);
  };
  const model = () => new ConditionalVae({ inputDim: 784, hiddenDims: [24], latentDim: 3, conditionDim: 10, seed: 8 });

  it("iwaeNll: the mean over images of log-mean-exp of the weights of each image's own view given(one-hot(label)); another class gives another number", () => {
    const vae = model();
    const set = loadMnist({ dir: TINY_MNIST, split: "test", limit: 6 });
    const before = tf.memory().numTensors;
    const got = iwaeNll(vae, set, { k: 7, seed: 3 });
    const byHand = (label: (i: number) => number) => {
      const rng = new Rng(3);
      let total = 0;
      for (let i = 0; i < set.count; i++) {
        const logW = tf.tidy(() => {
          const x = batchTensor(set, [i], rng);
          const eps = tf.randomNormal([7, 3], 0, 1, "float32", tfSeed(rng.nextSeed())) as tf.Tensor2D;
          return Array.from(logImportanceWeights(vae.given(oneHot([label(i)], 10)), x, eps).dataSync());
        });
        const mx = Math.max(...logW);
        total += mx + Math.log(logW.reduce((s, w) => s + Math.exp(w - mx), 0) / 7);
      }
      return -total / set.count;
    };
    expect(Number.isFinite(got)).toBe(true);
    expect(Math.abs(got - byHand((i) => set.labels[i]))).toBeLessThan(2e-3);
    expect(Math.abs(got - byHand((i) => (set.labels[i] + 1) % 10))).toBeGreaterThan(0.05);
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });

  it("encodeMeans, activeUnits and reconstruct read each image with its class: equal to encode(x, c) and decodeMean(μ, c)", () => {
    const vae = model();
    const set = loadMnist({ dir: TINY_MNIST, split: "test", limit: 40 });
    const before = tf.memory().numTensors;
    const idx = Array.from({ length: 40 }, (_, i) => i);
    const [mu, rec] = tf.tidy(() => {
      const x = batchTensor(set, idx);
      const c = oneHot(set.labels, 10);
      const q = vae.encode(x, c);
      return [q.mu.dataSync(), vae.decodeMean(q.mu, c).dataSync()];
    });
    // Codes in batches of 16 (so the class of every batch, not only the first, is checked).
    expect(maxDiff(encodeMeans(vae, set, { batchSize: 16 }), mu)).toBeLessThan(1e-6);
    expect(maxDiff(reconstruct(vae, set, idx.slice(5, 9)), rec.subarray(5 * 784, 9 * 784))).toBeLessThan(1e-6);
    const variances = [0, 1, 2].map((d) => {
      const col = Array.from({ length: 40 }, (_, i) => mu[i * 3 + d]);
      const m = col.reduce((s, v) => s + v, 0) / 40;
      return col.reduce((s, v) => s + (v - m) ** 2, 0) / 40;
    });
    const au = activeUnits(vae, set, { threshold: 0 });
    expect(maxDiff(au.variances, variances)).toBeLessThan(1e-9);
    expect(au.count).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    vae.dispose();
  });

  it("sampleClasses: image j of class k is decodeMean(z_j, one-hot(k)) for the seed's draws z, class after class; the classes asked for only", () => {
    const vae = model();
    const before = tf.memory().numTensors;
    const got = sampleClasses(vae, { n: 3, seed: 5, classes: [7, 2] });
    expect(got.length).toBe(2 * 3 * 784);
    const want = tf.tidy(() => {
      const z = tf.randomNormal([3, 3], 0, 1, "float32", tfSeed(5)) as tf.Tensor2D;
      return [7, 2].map((k) => vae.decodeMean(z, oneHot([k, k, k], 10)).dataSync());
    });
    expect(maxDiff(got.subarray(0, 3 * 784), want[0])).toBeLessThan(1e-6);
    expect(maxDiff(got.subarray(3 * 784), want[1])).toBeLessThan(1e-6);
    // Every class by default, the same codes for each: class 7's images are the same as asked for alone.
    const all = sampleClasses(vae, { n: 3, seed: 5 });
    expect(all.length).toBe(10 * 3 * 784);
    expect(maxDiff(all.subarray(7 * 3 * 784, 8 * 3 * 784), want[0])).toBeLessThan(1e-6);
    expect(maxDiff(all.subarray(2 * 3 * 784, 3 * 3 * 784), want[1])).toBeLessThan(1e-6);
    expect(maxDiff(want[0], want[1])).toBeGreaterThan(1e-3);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sampleClasses(vae, { n: 0 })).toThrow(/n must be a positive integer/);
    expect(maxDiff(sampleClasses(vae, { n: 1, seed: 5, classes: [7] }), want[0].subarray(0, 784))).toBeLessThan(1e-6);
    expect(() => sampleClasses(vae, { classes: [] })).toThrow(/no class to sample/);
    expect(() => sampleClasses(vae, { classes: [10] })).toThrow(/label 10/);
    expect(tf.memory().numTensors).toBe(before); // also after the refusals
    vae.dispose();
  });
});
