/**
 * The fused native gradient (vae/fused-gradients.ts, blas.c's mlpGradients) must give the numbers of the
 * backpropagation written out in tfjs ops (vae/backprop.ts) and of tfjs autodiff, for every activation,
 * depth, β and L, and a float64 finite difference of the loss written out independently (harness/mlp64.ts)
 * must agree with it; training with it must follow the written-out path; it must be one kernel, leak
 * nothing, and refuse a plan that does not describe a model on the heap. Wasm with the native kernels only
 * (always under CI); elsewhere fusedNegativeElboGradients returns null and the written-out path trains.
 */
import * as path from "path";
import * as tf from "../src/engine/tf";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadMnist, MnistSet } from "../src/data/mnist";
import { loadNativeBlas, nativeThreadCount, setNativeThreads } from "../src/engine/native-kernels";
import { createAdam } from "../src/engine/optimizer";
import { tfSeed } from "../src/engine/random";
import { describeOnNativeWasm } from "./harness/native";
import { cases, expectTrainingAgrees, tracedLoss } from "./harness/traced-elbo";
import { ACT64, bce64, mlp64 } from "./harness/mlp64";
import { ACTIVATIONS, Vae } from "../src/vae/model";
import { Gradients, negativeElboGradients } from "../src/vae/backprop";
import { fusedGradientsAvailable, fusedNegativeElboGradients } from "../src/vae/fused-gradients";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
let train: MnistSet;
let test: MnistSet;

const images = (n: number) => tf.tensor2d(train.images.subarray(0, n * 784), [n, 784]);
const release = (g: Gradients) => tf.dispose([g.grads, g.loss, g.recon, g.kl]);

/** Max over a variable's entries of |a − b| / max|b|, for every variable of `vae`. */
function worstErrors(vae: Vae, a: tf.NamedTensorMap, b: tf.NamedTensorMap): number[] {
  return vae.variables().map((v) => {
    const got = a[v.name].dataSync();
    const want = b[v.name].dataSync();
    let scale = 1e-6;
    for (const g of want) scale = Math.max(scale, Math.abs(g));
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
    return worst;
  });
}

/** The fused gradient, never null here (the test fails with a clear message where it is). */
function fused(vae: Vae, x: tf.Tensor2D, options: { beta?: number; samples?: number; seed?: number }): Gradients {
  const g = fusedNegativeElboGradients(vae, x, options);
  if (!g) throw new Error("fusedNegativeElboGradients returned null on wasm with the native kernels");
  return g;
}

describeOnNativeWasm(
  "the fused native gradient (wasm, native kernels)",
  () => {
    train = loadMnist({ dir: tiny, split: "train" });
    test = loadMnist({ dir: tiny, split: "test" });
  },
  () => {

  for (const c of cases) {
    it(`${c.name}: every gradient and both loss terms equal the written-out ones and autodiff's`, () => {
      const vae = new Vae({ ...c.config, seed: 5 });
      const x = images(6);
      const before = tf.memory().numTensors;
      const opts = { beta: c.beta, samples: c.samples, seed: 11 };
      const ours = fused(vae, x, opts);
      const written = negativeElboGradients(vae, x, opts);
      const traced = tf.variableGrads(() => tracedLoss(vae, x, c.beta, c.samples, 11), vae.variables());
      expect(Object.keys(ours.grads).sort()).toEqual(vae.variables().map((v) => v.name).sort());
      for (const e of worstErrors(vae, ours.grads, written.grads)) expect(e).toBeLessThan(1e-4);
      for (const e of worstErrors(vae, ours.grads, traced.grads)) expect(e).toBeLessThan(1e-4);
      for (const k of ["recon", "kl", "loss"] as const) {
        const want = written[k].dataSync()[0];
        expect(Math.abs(ours[k].dataSync()[0] - want), k).toBeLessThan(1e-5 * Math.abs(want) + 1e-6);
      }
      expect(Math.abs(ours.loss.dataSync()[0] - traced.value.dataSync()[0])).toBeLessThan(1e-5 * traced.value.dataSync()[0]);
      release(ours);
      release(written);
      tf.dispose([traced.value, traced.grads]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      vae.dispose();
    });
  }

  it("the reference setup (784-400-20, batch 100, two draws): every gradient equals autodiff's", () => {
    const vae = new Vae({ seed: 3 });
    const x = images(100);
    const ours = fused(vae, x, { samples: 2, seed: 8 });
    const traced = tf.variableGrads(() => tracedLoss(vae, x, 1, 2, 8), vae.variables());
    for (const e of worstErrors(vae, ours.grads, traced.grads)) expect(e).toBeLessThan(1e-4);
    release(ours);
    tf.dispose([traced.value, traced.grads]);
    x.dispose();
    vae.dispose();
  });

  it("agrees with float64 central differences of the loss written out independently, every activation", () => {
    // loss64: harness/mlp64.ts's float64 forward pass from weights held as float64 arrays, with the very ε
    // the fused call drew; each variable's gradient is checked at a few entries.
    const B = 3;
    const beta = 0.7;
    for (const activation of ACTIVATIONS) {
      const vae = new Vae({ hiddenDims: [7, 5], latentDim: 3, activation, seed: 9 });
      const x = images(B);
      const xs = Array.from({ length: B }, (_, i) => Array.from(train.images.subarray(i * 784, (i + 1) * 784)));
      const g = fused(vae, x, { beta, samples: 2, seed: 21 });
      const eps = Array.from(tf.tidy(() => tf.randomNormal([2 * B, 3], 0, 1, "float32", tfSeed(21))).dataSync());
      const weights = new Map(vae.variables().map((v) => [v.name, Float64Array.from(v.dataSync())]));
      const asTensor = (v: tf.Variable) => ({ dataSync: () => weights.get(v.name)!, shape: v.shape });
      const view = (l: { W: tf.Variable; b: tf.Variable }) => ({ W: asTensor(l.W), b: asTensor(l.b) });
      const shadow = { config: vae.config, encoder: vae.encoder.map(view), encMu: view(vae.encMu), encLogVar: view(vae.encLogVar), decoder: vae.decoder.map(view), decOut: view(vae.decOut) } as unknown as Vae;
      const loss64 = () => {
        const m = mlp64(shadow);
        let recon = 0;
        let kl = 0;
        for (let b = 0; b < B; b++) {
          const { mu, logVar } = m.encode(xs[b]);
          kl += 0.5 * mu.reduce((s, u, d) => s + u * u + Math.exp(logVar[d]) - logVar[d] - 1, 0);
          for (let l = 0; l < 2; l++) {
            const z = mu.map((u, d) => u + Math.exp(0.5 * logVar[d]) * eps[(l * B + b) * 3 + d]);
            recon += bce64(m.decode(z), xs[b]);
          }
        }
        return recon / (2 * B) + (beta * kl) / B;
      };
      expect(ACT64[activation]).toBeDefined();
      for (const v of vae.variables()) {
        const w = weights.get(v.name)!;
        const got = g.grads[v.name].dataSync();
        const scale = Math.max(1e-3, ...Array.from(got, Math.abs));
        for (const i of [0, Math.floor(w.length / 2), w.length - 1]) {
          const h = 1e-6;
          const w0 = w[i];
          w[i] = w0 + h;
          const up = loss64();
          w[i] = w0 - h;
          const down = loss64();
          w[i] = w0;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(got[i] - fd) / scale, `${activation} ${v.name}[${i}]: ${got[i]} vs ${fd}`).toBeLessThan(2e-4);
        }
      }
      release(g);
      x.dispose();
      vae.dispose();
    }
  });

  it("is one native kernel: no matrix product or elementwise op of tfjs's runs", async () => {
    const vae = new Vae({ hiddenDims: [16, 8], latentDim: 2, seed: 1 });
    const x = images(4);
    const profile = await tf.profile(() => release(fused(vae, x, { seed: 1 })));
    const names = profile.kernels.map((k) => k.name);
    expect(names.filter((n) => n === "VaeLabMlpGradients")).toHaveLength(1);
    expect(names.filter((n) => n === "BatchMatMul")).toHaveLength(0);
    // ε (randomNormal's own kernels, if any) and recon + β·KL; nothing per layer.
    expect(names.length).toBeLessThanOrEqual(4);
    x.dispose();
    vae.dispose();
  });

  it("leaves free bits to the written-out path (null), and refuses a number of samples that is not a positive integer", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const x = images(2);
    const before = tf.memory().numTensors;
    expect(fusedNegativeElboGradients(vae, x, { freeBits: 0.5 })).toBeNull();
    for (const samples of [0, 1.5, -1]) expect(() => fusedNegativeElboGradients(vae, x, { samples })).toThrow(`samples must be a positive integer (got ${samples})`);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    vae.dispose();
  });

  it("gives null (the caller then uses tfjs ops, which say what is wrong) for images of the wrong width, and leaks nothing", () => {
    const vae = new Vae({ inputDim: 6, hiddenDims: [5], latentDim: 2, seed: 1 });
    const narrow = tf.ones([4, 4]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    expect(fusedNegativeElboGradients(vae, narrow)).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    narrow.dispose();
    vae.dispose();
  });

  it("takes a given ε, and its results are freed by an enclosing tf.tidy", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const x = images(4);
    const eps = tf.randomNormal([8, 2], 0, 1, "float32", 5) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const [a, b] = tf.tidy(() => {
      const withEps = fused(vae, x, { samples: 2, eps } as { samples: number });
      const written = negativeElboGradients(vae, x, { samples: 2, eps });
      return [withEps.loss.dataSync()[0], written.loss.dataSync()[0]];
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(a - b)).toBeLessThan(1e-5 * b);
    expect(eps.isDisposed).toBe(false);
    tf.dispose([eps, x]);
    vae.dispose();
  });

  it("training with it follows the written-out path step for step, and leaks no tensors", () => {
    expectTrainingAgrees(train, test, "auto", "written", { beta: 0.8, samples: 2 }, 1e-4);
  });

  it("on two or three threads (the batch in parts, Adam in slices): the one-thread gradient to float32 rounding, the same Adam step bit for bit", () => {
    const vae = new Vae({ hiddenDims: [40, 24], latentDim: 3, activation: "elu", seed: 4 });
    // 7 images: parts of unequal size; L = 2 draws, so a part's rows are not contiguous in ε.
    const x = images(7);
    const grads = (threads: number) => {
      setNativeThreads(threads);
      const g = fused(vae, x, { beta: 0.6, samples: 2, seed: 17 });
      const out = { grads: g.grads, recon: g.recon.dataSync()[0], kl: g.kl.dataSync()[0] };
      tf.dispose([g.loss, g.recon, g.kl]);
      return out;
    };
    try {
      const one = grads(1);
      for (const threads of [2, 3]) {
        const many = grads(threads);
        expect(nativeThreadCount()).toBe(threads);
        for (const e of worstErrors(vae, many.grads, one.grads)) expect(e).toBeLessThan(1e-5);
        expect(Math.abs(many.recon - one.recon)).toBeLessThan(1e-6 * one.recon);
        expect(Math.abs(many.kl - one.kl)).toBeLessThan(1e-5 * one.kl + 1e-7);
        tf.dispose(many.grads);
      }
      // Each thread computes some columns of every weight gradient: layers narrower than the thread count
      // (a one-unit latent space), and no hidden layer at all (the heads read the data, the output layer z).
      for (const config of [{ hiddenDims: [16], latentDim: 1 }, { hiddenDims: [] as number[], latentDim: 2 }]) {
        const small = new Vae({ ...config, seed: 6 });
        const g = (threads: number) => {
          setNativeThreads(threads);
          const r = fused(small, x, { samples: 3, seed: 18 });
          tf.dispose([r.loss, r.recon, r.kl]);
          return r.grads;
        };
        const [a, b] = [g(1), g(3)];
        for (const e of worstErrors(small, b, a)) expect(e, JSON.stringify(config)).toBeLessThan(1e-5);
        tf.dispose([a, b]);
        small.dispose();
      }
      // Adam on a variable large enough to be sliced (2¹⁶ values and more): the same bits on 1 and 2 threads.
      const step = (threads: number) => {
        setNativeThreads(threads);
        const w = tf.variable(tf.randomNormal([300, 300], 0, 1, "float32", 3));
        const g = tf.randomNormal([300, 300], 0, 1, "float32", 4);
        const adam = createAdam(1e-2);
        adam.applyGradients({ [w.name]: g }, [w]);
        adam.applyGradients({ [w.name]: g }, [w]);
        const out = Float32Array.from(w.dataSync());
        adam.dispose();
        tf.dispose([w, g]);
        return out;
      };
      expect(step(2)).toEqual(step(1));
      tf.dispose(one.grads);
    } finally {
      setNativeThreads(1);
    }
    expect(() => setNativeThreads(0)).toThrow(/threads must be an integer from 1 to 64 \(got 0\)/);
    x.dispose();
    vae.dispose();
  });

  it("refuses a plan that does not describe a model on the heap, with one line naming what is wrong", () => {
    const addon = loadNativeBlas()!;
    const heap = new Float32Array(4096);
    const result = new Float64Array(2);
    // x 2×4 at 0, ε 2×1 at 8; layers (no hidden): μ 4→1, log σ² 4→1, output 1→4.
    const layer = (nin: number, nout: number, at: number) => [nin, nout, at, at + 100, at + 200, at + 300];
    const good = [2, 1, 0, 1, 0, 8, 0, 0, ...layer(4, 1, 1000), ...layer(4, 1, 2000), ...layer(1, 4, 3000)];
    addon.mlpGradients!(heap, Float64Array.from(good), result);
    expect(result[0]).toBeCloseTo(4 * Math.log(2), 5); // all-zero logits and data: 4 log 2 per row
    expect(result[1]).toBe(0); // μ = 0, log σ² = 0: q is the prior
    const bad = (edit: (p: number[]) => void, message: RegExp) => {
      const p = [...good];
      edit(p);
      expect(() => addon.mlpGradients!(heap, Float64Array.from(p), result)).toThrow(message);
    };
    bad((p) => p.pop(), /the plan's length does not match its depth/);
    bad((p) => (p[2] = 6), /bad batch, samples, activation, beta or depth/);
    bad((p) => (p[3] = -1), /bad batch, samples, activation, beta or depth/);
    bad((p) => (p[0] = 1.5), /plan entries must be finite integers/);
    bad((p) => (p[8 + 12 + 1] = 3), /the output layer does not fit/);
    bad((p) => (p[8 + 6] = 3), /the encoder's heads do not fit/);
    bad((p) => (p[8 + 12 + 2] = 4093), /operands outside the heap/);
    bad((p) => (p[8 + 4] = 2000), /a gradient overlaps another operand/);
    bad((p) => (p[8 + 4] = 3), /a gradient overlaps another operand/); // onto x
    // Sizes whose products would overflow 64 bits (2⁴⁹ images × 2¹⁵ draws wraps to 0) are refused before any is formed.
    bad((p) => ((p[0] = 2 ** 49), (p[1] = 2 ** 15)), /bad batch, samples, activation, beta or depth/);
    bad((p) => (p[8] = 2 ** 25), /bad layer sizes/);
    expect(() => addon.mlpGradients!(heap, new Float64Array(good) as unknown as Float64Array, new Float64Array(1))).toThrow(/plan or result too short/);
    expect(() => addon.mlpGradients!(heap, Float32Array.from(good) as unknown as Float64Array, result)).toThrow(/must be Float64Arrays/);
  });
  },
);

describe("the fused native gradient elsewhere", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    train = loadMnist({ dir: tiny, split: "train" });
  });

  it("is not available on the cpu backend or for a Gaussian likelihood: null, and nothing allocated", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const x = images(2);
    const before = tf.memory().numTensors;
    expect(fusedGradientsAvailable(vae)).toBe(false);
    expect(fusedNegativeElboGradients(vae, x)).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    const gaussian = new Vae({ hiddenDims: [8], latentDim: 2, likelihood: "gaussian", seed: 1 });
    expect(fusedGradientsAvailable(gaussian)).toBe(false);
    tf.dispose(x);
    vae.dispose();
    gaussian.dispose();
  });
});
