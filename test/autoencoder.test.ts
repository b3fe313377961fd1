import * as path from "path";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadMnist, MnistSet } from "../src/data/mnist";
import { Autoencoder, autoencoderLoss, decodeCodes, encodeCodes, evaluateAutoencoder, trainAutoencoder } from "../src/autoencoder/autoencoder";
import { Vae } from "../src/vae/model";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
let train: MnistSet;
let test: MnistSet;

beforeAll(async () => {
  // The wasm backend with the native kernels: the same results as the pure-JS cpu backend up to float32
  // rounding (the assertions here are statistical), and several times faster.
  await initBackend("wasm");
  train = loadMnist({ dir: tiny, split: "train" });
  test = loadMnist({ dir: tiny, split: "test" });
});

const read = (t: tf.Tensor) => Array.from(t.dataSync());

/** A float64 forward pass of a one-hidden-layer ReLU autoencoder from its weights, and its loss: the independent reference. */
function reference(ae: Autoencoder) {
  const w = ae.variables().map((v) => ({ shape: v.shape, data: Array.from(v.dataSync()) }));
  const dense = (x: number[], W: { shape: number[]; data: number[] }, b: { data: number[] }, relu: boolean) => {
    const [nin, nout] = W.shape;
    return Array.from({ length: nout }, (_, j) => {
      let s = b.data[j];
      for (let i = 0; i < nin; i++) s += x[i] * W.data[i * nout + j];
      return relu ? Math.max(0, s) : s;
    });
  };
  const encode = (x: number[]) => dense(dense(x, w[0], w[1], true), w[2], w[3], false);
  const decode = (z: number[]) => dense(dense(z, w[4], w[5], true), w[6], w[7], false);
  // −log Bernoulli(x; σ(l)) = −[x log σ(l) + (1 − x) log(1 − σ(l))], summed over pixels.
  const loss = (x: number[]) => {
    const l = decode(encode(x));
    return l.reduce((s, li, i) => s - (x[i] * Math.log(1 / (1 + Math.exp(-li))) + (1 - x[i]) * Math.log(1 / (1 + Math.exp(li)))), 0);
  };
  return { encode, decode, loss };
}

describe("the autoencoder", () => {
  it("encode, decode and the loss match an independent float64 computation", () => {
    const ae = new Autoencoder({ hiddenDims: [16], latentDim: 3, seed: 5 });
    const ref = reference(ae);
    const xs = [0, 1].map((k) => Array.from(train.images.subarray(k * 784, (k + 1) * 784)));
    const z = ae.encode(tf.tensor2d(xs));
    expect(z.shape).toEqual([2, 3]);
    xs.forEach((x, k) => ref.encode(x).forEach((v, i) => expect(read(z)[k * 3 + i]).toBeCloseTo(v, 4)));
    const logits = ae.decode(tf.tensor2d([[0.5, -1, 2]]));
    expect(logits.shape).toEqual([1, 784]);
    ref.decode([0.5, -1, 2]).forEach((v, i) => expect(read(logits)[i]).toBeCloseTo(v, 4));
    const loss = tf.tidy(() => autoencoderLoss(ae, tf.tensor2d(xs)).dataSync()[0]);
    expect(loss).toBeCloseTo((ref.loss(xs[0]) + ref.loss(xs[1])) / 2, 2);
    tf.dispose([z, logits]);
    ae.dispose();
  });

  it("has the VAE's MLP shapes, minus the log-variance head", () => {
    const ae = new Autoencoder({ hiddenDims: [400], latentDim: 2, seed: 1 });
    const vae = new Vae({ hiddenDims: [400], latentDim: 2, seed: 1 });
    expect(ae.parameterCount()).toBe(vae.parameterCount() - (400 * 2 + 2));
    expect(ae.variables().map((v) => v.shape)).toEqual(vae.variables().filter((v) => !v.name.includes("/logvar/")).map((v) => v.shape));
    ae.dispose();
    vae.dispose();
  });

  it("its gradient (the dense layers' written-out gradient) equals a finite difference of the float64 loss", () => {
    const ae = new Autoencoder({ hiddenDims: [6], latentDim: 2, seed: 3 });
    const x = Array.from(train.images.subarray(0, 784));
    const { grads } = tf.variableGrads(() => autoencoderLoss(ae, tf.tensor2d([x])), ae.variables());
    // Probe a few weights of every layer: ∂loss/∂w ≈ (L(w + h) − L(w − h)) / 2h in float64.
    for (const v of ae.variables()) {
      const g = read(grads[v.name]);
      const base = Array.from(v.dataSync());
      for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
        const at = (delta: number) => {
          const w = base.slice();
          w[i] += delta;
          v.assign(tf.tensor(w, v.shape));
          return reference(ae).loss(x);
        };
        const h = 1e-3;
        const fd = (at(h) - at(-h)) / (2 * h);
        v.assign(tf.tensor(base, v.shape));
        expect(Math.abs(g[i] - fd)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
      }
    }
    tf.dispose(Object.values(grads));
    ae.dispose();
  });

  it("rejects bad configurations", () => {
    expect(() => new Autoencoder({ latentDim: 0 })).toThrow(/latentDim/);
    expect(() => new Autoencoder({ activation: "swish" as never })).toThrow(/activation must be one of/);
  });
});

describe("training", () => {
  it("lowers the loss, is repeatable with a seed, and leaks no tensors", () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const run = (seed: number) => {
      const ae = new Autoencoder({ hiddenDims: [64], latentDim: 2, seed: 1 });
      const untrained = evaluateAutoencoder(ae, test);
      const h = trainAutoencoder(ae, train, test, { epochs: 4, batchSize: 25, lr: 3e-3, seed: seed, onEpoch: () => counts.push(tf.memory().numTensors) });
      const codes = encodeCodes(ae, test, { limit: 10 });
      ae.dispose();
      return { h, untrained, codes };
    };
    const a = run(9);
    expect(a.untrained).toBeGreaterThan(400); // untrained: ~ 784 · log 2 ≈ 543 nats
    expect(a.h[0].testLoss).toBeLessThan(a.untrained - 30);
    expect(a.h[3].trainLoss).toBeLessThan(a.h[0].trainLoss - 150);
    expect(a.h[3].testLoss).toBeLessThan(a.h[0].testLoss);
    expect(new Set(counts.slice(0, 4)).size).toBe(1); // the same live tensors after every epoch
    const b = run(9);
    expect(b.h.map((r) => r.testLoss)).toEqual(a.h.map((r) => r.testLoss));
    expect(Array.from(b.codes)).toEqual(Array.from(a.codes));
    const c = run(10);
    expect(c.h.map((r) => r.testLoss)).not.toEqual(a.h.map((r) => r.testLoss));
    expect(tf.memory().numTensors).toBe(before);
  }, 120000);

  it("encodeCodes and decodeCodes agree with encode/decodeMean and leak nothing", () => {
    const ae = new Autoencoder({ hiddenDims: [8], latentDim: 2, seed: 2 });
    const before = tf.memory().numTensors;
    const codes = encodeCodes(ae, test, { limit: 7, batchSize: 3 });
    expect(codes.length).toBe(14);
    const direct = tf.tidy(() => read(ae.encode(tf.tensor2d(test.images.subarray(0, 7 * 784), [7, 784]))));
    Array.from(codes).forEach((v, i) => expect(v).toBeCloseTo(direct[i], 5));
    const images = decodeCodes(ae, [0, 0, 1, -1]);
    expect(images.length).toBe(2 * 784);
    const means = tf.tidy(() => read(ae.decodeMean(tf.tensor2d([[0, 0], [1, -1]]))));
    Array.from(images).forEach((v, i) => expect(v).toBeCloseTo(means[i], 6));
    expect(Math.min(...images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...images)).toBeLessThanOrEqual(1);
    expect(() => decodeCodes(ae, [1, 2, 3])).toThrow(/whole number of 2-D codes/);
    expect(tf.memory().numTensors).toBe(before);
    ae.dispose();
  });

  it("stops with a clear error when the loss becomes NaN, keeping the last good weights", () => {
    const bad = loadMnist({ dir: tiny, limit: 20 });
    bad.images[5] = NaN;
    const ae = new Autoencoder({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const w0 = read(ae.encoder[0].W);
    expect(() => trainAutoencoder(ae, bad, test, { epochs: 1, batchSize: 20 })).toThrow(/loss became NaN at epoch 1, step 1/);
    expect(read(ae.encoder[0].W)).toEqual(w0);
    ae.dispose();
  });
});
