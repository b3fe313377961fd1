import * as fs from "fs";
import * as path from "path";
import * as tf from "../src/engine/tf";
import * as math from "mathjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { CheckpointError, loadVae, saveVae } from "../src/vae/checkpoint";
import { activeUnits, decodeLatentGrid, encodeMeans, iwaeNll, iwaeNllSteps, normalQuantile, reconstruct, samplePrior } from "../src/vae/evaluate";
import { ConditionalVae } from "../src/vae/conditional";
import { Rng, tfSeed } from "../src/engine/random";
import { logNormal1d } from "../src/prob/gaussian";
import { klToStandardNormal, meanAndStderr } from "../src/prob/kl";
import { loadMnist, MnistSet } from "../src/data/mnist";
import { betaAt, evaluateElbo, trainVae, TrainingDivergedError } from "../src/vae/train";
import {
  ACTIVATIONS,
  activate,
  bernoulliNll,
  DEFAULT_VAE_CONFIG,
  denseOp,
  ENCODER_ESTIMATORS,
  gaussianNll,
  klStandardNormalTensor,
  MAX_WEIGHT_FLOATS,
  negativeElbo,
  reconstructionNll,
  Vae,
  validateVaeConfig,
} from "../src/vae/model";
import { scratchDir } from "./harness/scratch";
import { ACT64, bce64, LOG_2PI_64, mlp64, sigmoid64 } from "./harness/mlp64";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
let train: MnistSet;
let test: MnistSet;

beforeAll(async () => {
  await initBackend("cpu");
  train = loadMnist({ dir: tiny, split: "train" });
  test = loadMnist({ dir: tiny, split: "test" });
});

const read = (t: tf.Tensor) => Array.from(t.dataSync());

/** The rows of a 2-D tensor as float64 arrays; the tensor is disposed. */
const takeRows = (t: tf.Tensor) => {
  const d = read(t);
  const c = t.shape[1]!;
  t.dispose();
  return Array.from({ length: t.shape[0]! }, (_, i) => d.slice(i * c, (i + 1) * c));
};
const imageRows = (set: MnistSet, idx: number[]) => idx.map((i) => Array.from(set.images.subarray(i * 784, (i + 1) * 784)));
const expectRowsClose = (got: ArrayLike<number>, want: number[][], digits: number, what = "") => {
  const flat = want.flat();
  expect(got, what).toHaveLength(flat.length);
  const worst = flat.reduce((w, v, i) => Math.max(w, Math.abs(got[i] - v)), 0);
  expect(worst, what).toBeLessThan(0.5 * 10 ** -digits);
};

// Exact values first: with Stryker's bail a wrong line fails here, in milliseconds.
describe("exact values of the model's pieces", () => {
  it("each activation equals its formula", () => {
    const a = [-2, -0.5, 0, 0.7, 3];
    for (const name of ACTIVATIONS) {
      const got = tf.tidy(() => read(activate(tf.tensor1d(a), name)));
      got.forEach((v, i) => expect(v, name).toBeCloseTo(ACT64[name](a[i]), 6));
    }
  });

  it("every invalid setting is refused with its whole message; the valid ones are accepted", () => {
    expect(() => new Vae({ inputDim: 0 })).toThrow("inputDim must be a positive integer (got 0)");
    expect(() => new Vae({ inputDim: 2.5 })).toThrow("inputDim must be a positive integer (got 2.5)");
    expect(() => new Vae({ latentDim: -1 })).toThrow("latentDim must be a positive integer (got -1)");
    expect(() => new Vae({ hiddenDims: [3, 0] })).toThrow("hiddenDims must be positive integers (got 3,0)");
    expect(() => new Vae({ activation: "swish" as never })).toThrow("activation must be one of relu, tanh, softplus, elu, leakyRelu, sigmoid (got swish)");
    expect(() => new Vae({ likelihood: "poisson" as never })).toThrow("likelihood must be bernoulli or gaussian (got poisson)");
    for (const v of [0, -1, NaN]) expect(() => new Vae({ likelihood: "gaussian", gaussianVariance: v })).toThrow('gaussianVariance must be > 0 or "learned"');
    for (const c of [{ likelihood: "gaussian" as const, gaussianVariance: 0.5 }, { likelihood: "gaussian" as const, gaussianVariance: "learned" as const }, { hiddenDims: [] }]) {
      const m = new Vae({ inputDim: 4, latentDim: 1, ...c });
      m.dispose();
    }
  });

  it("a layer of more than 2²⁶ weights is refused with its whole message, wherever it is (with a condition too); 2²⁶ exactly is accepted", () => {
    expect(MAX_WEIGHT_FLOATS).toBe(2 ** 26);
    const config = (c: Partial<typeof DEFAULT_VAE_CONFIG>) => ({ ...DEFAULT_VAE_CONFIG, ...c });
    const refused = (a: number, b: number, names: string) => `a ${a}×${b} layer has ${a * b} weights, more than the 67108864 one layer may have (${names})`;
    const plain = "inputDim, hiddenDims, latentDim";
    const withCondition = "inputDim, conditionDim, hiddenDims, latentDim";
    // Exactly 2²⁶ weights (1024 × 65536) in the encoder's first and the decoder's last layer, with and without a condition.
    expect(() => validateVaeConfig(config({ inputDim: 1024, hiddenDims: [65536], latentDim: 1 }))).not.toThrow();
    expect(() => validateVaeConfig(config({ inputDim: 1023, hiddenDims: [65536], latentDim: 1 }), 1)).not.toThrow();
    expect(() => validateVaeConfig(config({ inputDim: 1, hiddenDims: [65536], latentDim: 1023 }), 1)).not.toThrow();
    // More than 2²⁶, refused before anything is allocated: the encoder's first layer, a middle one and its last.
    expect(() => new Vae({ inputDim: 1025, hiddenDims: [65536], latentDim: 1 })).toThrow(refused(1025, 65536, plain));
    expect(() => new Vae({ inputDim: 1, hiddenDims: [8193, 8192], latentDim: 1 })).toThrow(refused(8193, 8192, plain));
    expect(() => new Vae({ inputDim: 1, hiddenDims: [65536], latentDim: 1025 })).toThrow(refused(65536, 1025, plain));
    // The condition widens the encoder's input and the decoder's (whose hidden layers mirror the encoder's).
    expect(() => validateVaeConfig(config({ inputDim: 1024, hiddenDims: [65536], latentDim: 1 }), 1)).toThrow(refused(1025, 65536, withCondition));
    expect(() => validateVaeConfig(config({ inputDim: 1, hiddenDims: [1, 65536], latentDim: 1024 }), 1)).toThrow(refused(1025, 65536, withCondition));
    // Without the condition the decoder's layers are the encoder's, transposed: the same widths fit.
    expect(() => validateVaeConfig(config({ inputDim: 1, hiddenDims: [1, 65536], latentDim: 1024 }))).not.toThrow();
  });

  it("a disposed model refuses encode, decode, decodeMean, variables and parameterCount with its whole message; a second dispose does nothing", () => {
    const m = new Vae({ inputDim: 3, hiddenDims: [2], latentDim: 1 });
    const vars = m.variables();
    m.dispose();
    expect(vars.every((v) => v.isDisposed)).toBe(true);
    expect(() => m.dispose()).not.toThrow();
    const refused = (what: string) => `Vae.${what}: this model was disposed (its weights are freed); make a new one or load a checkpoint`;
    expect(() => tf.tidy(() => m.encode(tf.zeros([1, 3])))).toThrow(refused("encode"));
    expect(() => tf.tidy(() => m.decode(tf.zeros([1, 1])))).toThrow(refused("decode"));
    expect(() => tf.tidy(() => m.decodeMean(tf.zeros([1, 1])))).toThrow(refused("decode"));
    expect(() => m.variables()).toThrow(refused("variables"));
    expect(() => m.parameterCount()).toThrow(refused("variables"));
  });

  it("the layers, their names, shapes and order; the encoder's variables; the parameter count; the defaults", () => {
    const m = new Vae({ inputDim: 6, hiddenDims: [5, 3], latentDim: 2, seed: 1 });
    const shapes = [[6, 5], [5], [5, 3], [3], [3, 2], [2], [3, 2], [2], [2, 3], [3], [3, 5], [5], [5, 6], [6]];
    const names = ["enc0", "enc1", "mu", "logvar", "dec0", "dec1", "out"].flatMap((l) => [`${l}/W`, `${l}/b`]);
    const vars = m.variables();
    expect(vars.map((v) => v.shape)).toEqual(shapes);
    const prefix = vars[0].name.split("/")[0];
    expect(prefix).toMatch(/^vae\d+$/);
    expect(vars.map((v) => v.name)).toEqual(names.map((n) => `${prefix}/${n}`));
    expect(vars.every((v) => v.trainable)).toBe(true);
    expect(m.encoderVariables().map((v) => v.name)).toEqual(vars.slice(0, 8).map((v) => v.name));
    expect(m.parameterCount()).toBe(30 + 5 + 15 + 3 + 6 + 2 + 6 + 2 + 6 + 3 + 15 + 5 + 30 + 6);
    const other = new Vae({ inputDim: 6, hiddenDims: [5, 3], latentDim: 2, seed: 1 });
    expect(other.variables()[0].name.split("/")[0]).not.toBe(prefix);
    // Same seed, same weights.
    other.variables().forEach((v, i) => expect(read(v)).toEqual(read(vars[i])));
    other.dispose();
    m.dispose();
    expect(vars.every((v) => v.isDisposed)).toBe(true);
    const hidden = [7];
    const d = new Vae({ hiddenDims: hidden, inputDim: 3, latentDim: 1 });
    hidden.push(9);
    expect(d.config).toEqual({ inputDim: 3, hiddenDims: [7], latentDim: 1, activation: "relu", likelihood: "bernoulli", gaussianVariance: 1, seed: 0 });
    const seed0 = new Vae({ hiddenDims: [7], inputDim: 3, latentDim: 1, seed: 0 });
    seed0.variables().forEach((v, i) => expect(read(v)).toEqual(read(d.variables()[i])));
    const seed2 = new Vae({ hiddenDims: [7], inputDim: 3, latentDim: 1, seed: 2 });
    expect(read(seed2.variables()[0])).not.toEqual(read(d.variables()[0]));
    [d, seed0, seed2].forEach((x) => x.dispose());
    const def = new Vae({ hiddenDims: [] });
    expect(def.config).toEqual({ inputDim: 784, hiddenDims: [], latentDim: 20, activation: "relu", likelihood: "bernoulli", gaussianVariance: 1, seed: 0 });
    expect(new Vae({ inputDim: 2, hiddenDims: [], latentDim: 1 }).variables()).toHaveLength(6);
    def.dispose();
  });

  it("every layer starts uniform on ±1/√fan_in (weights and biases), each drawn from its own seed", () => {
    const m = new Vae({ inputDim: 64, hiddenDims: [32], latentDim: 16, seed: 6 });
    const fanIn = [64, 64, 32, 32, 32, 32, 16, 16, 32, 32];
    m.variables().forEach((v, i) => {
      const a = read(v).map(Math.abs);
      const bound = 1 / Math.sqrt(fanIn[i]);
      expect(Math.max(...a), v.name).toBeLessThanOrEqual(bound);
      expect(Math.max(...a), v.name).toBeGreaterThan(0.75 * bound);
    });
    // μ's and log σ²'s layers have the same shape but different draws.
    expect(read(m.encMu.W)).not.toEqual(read(m.encLogVar.W));
    m.dispose();
  });

  it("only a Gaussian likelihood with a learned variance has log σ² (a trainable 0, last of the variables)", () => {
    const fixed = new Vae({ likelihood: "gaussian", gaussianVariance: 0.5, hiddenDims: [], inputDim: 3, latentDim: 1 });
    const bern = new Vae({ gaussianVariance: "learned", hiddenDims: [], inputDim: 3, latentDim: 1 });
    const learned = new Vae({ likelihood: "gaussian", gaussianVariance: "learned", hiddenDims: [], inputDim: 3, latentDim: 1 });
    expect(fixed.logNoiseVar).toBeUndefined();
    expect(bern.logNoiseVar).toBeUndefined();
    expect(fixed.variables()).toHaveLength(6);
    const v = learned.variables();
    expect(v).toHaveLength(7);
    expect(v[6]).toBe(learned.logNoiseVar);
    expect(v[6].name).toMatch(/^vae\d+\/lognoisevar$/);
    expect(v[6].trainable).toBe(true);
    expect(learned.parameterCount()).toBe(3 + 1 + 3 + 1 + 3 + 3 + 1);
    learned.dispose();
    expect(learned.logNoiseVar!.isDisposed).toBe(true);
    [fixed, bern].forEach((m) => m.dispose());
  });

  it("encode, decode and decodeMean equal a float64 forward pass for every activation, with no hidden layer and with two", () => {
    const x = [[0.1, 0.9, 0, 0.5, 1], [1, 0, 0.3, 0.2, 0.7]];
    const z = [[0.4, -1.2], [2, 0.1]];
    for (const activation of ACTIVATIONS) {
      for (const hiddenDims of [[], [4, 3]]) {
        const m = new Vae({ inputDim: 5, hiddenDims, latentDim: 2, activation, seed: 3 });
        const ref = mlp64(m);
        const what = `${activation} [${hiddenDims}]`;
        tf.tidy(() => {
          const { mu, logVar } = m.encode(tf.tensor2d(x));
          expectRowsClose(read(mu), x.map((r) => ref.encode(r).mu), 6, what);
          expectRowsClose(read(logVar), x.map((r) => ref.encode(r).logVar), 6, what);
          expectRowsClose(read(m.decode(tf.tensor2d(z))), z.map(ref.decode), 6, what);
          expectRowsClose(read(m.decodeMean(tf.tensor2d(z))), z.map(ref.decodeMean), 6, what);
        });
        m.dispose();
      }
    }
  });

  it("a dense layer's written-out gradient: dW = xᵀ·dy, db = Σ dy, dx = dy·Wᵀ (zero for the data layer)", () => {
    const x = [[1, 2, -1], [0.5, 0, 3]];
    const W = [[1, -2], [0.5, 1], [2, 0]];
    const c = [[1, 2], [3, -4]];
    for (const inputGrad of [true, false]) {
      const op = denseOp(inputGrad);
      const [dx, dW, db] = tf.tidy(() => {
        const ct = tf.tensor2d(c);
        const g = tf.grads((a: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => op(a, w, b).mul(ct).sum())([tf.tensor2d(x), tf.tensor2d(W), tf.tensor1d([0.1, -0.2])]);
        const value = read(op(tf.tensor2d(x), tf.tensor2d(W), tf.tensor1d([0.1, -0.2])));
        expect(value).toEqual([1 * 1 + 2 * 0.5 - 2 + 0.1, -2 + 2 + 0 - 0.2, 0.5 + 0 + 6 + 0.1, -1 + 0 + 0 - 0.2].map(Math.fround));
        return g.map(read);
      });
      expect(dx).toEqual(inputGrad ? [1 * 1 + 2 * -2, 1 * 0.5 + 2 * 1, 1 * 2, 3 * 1 - 4 * -2, 3 * 0.5 - 4, 3 * 2] : [0, 0, 0, 0, 0, 0]);
      expect(dW).toEqual([1 * 1 + 0.5 * 3, 1 * 2 + 0.5 * -4, 2 * 1 + 0 * 3, 2 * 2 + 0, -1 * 1 + 3 * 3, -1 * 2 + 3 * -4]);
      expect(db).toEqual([4, -2]);
    }
  });

  it("the traced gradient of the negative ELBO runs only the products it needs: none for the data's gradient, no tiles for one sample", async () => {
    // Per dense layer: one product forward, one for its weights' gradient, one for its input's, except the
    // encoder's first layer (its input is data).
    for (const hidden of [2, 0]) {
      const m = new Vae({ inputDim: 8, hiddenDims: [6, 5].slice(0, hidden), latentDim: 2, seed: 1 });
      const x = tf.ones([3, 8]) as tf.Tensor2D;
      const profile = await tf.profile(() => {
        const g = tf.variableGrads(() => negativeElbo(m, x, { seed: 1 }).loss, m.variables());
        tf.dispose([g.value, g.grads]);
      });
      const count = (name: string) => profile.kernels.filter((k) => k.name === name).length;
      const layers = 2 * hidden + 3;
      expect(count("BatchMatMul"), `${hidden} hidden`).toBe(3 * layers - (hidden > 0 ? 1 : 2));
      expect(count("Tile"), `${hidden} hidden`).toBe(0);
      x.dispose();
      m.dispose();
    }
    expect(ENCODER_ESTIMATORS).toEqual(["reparam", "score", "score-baseline", "score-loo"]);
  });

  it("the Bernoulli NLL's gradient is (σ(l) − x)·dy for the logits and −l·dy for x", () => {
    const l = [[-1, 0.5], [2, 0]];
    const x = [[0, 1], [0.3, 0.6]];
    const dy = [2, -3];
    const [gl, gx] = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => bernoulliNll(a as tf.Tensor2D, b as tf.Tensor2D).mul(tf.tensor1d(dy)).sum())([tf.tensor2d(l), tf.tensor2d(x)]).map(read));
    l.flat().forEach((li, i) => {
      const r = Math.floor(i / 2);
      expect(gl[i]).toBeCloseTo((sigmoid64(li) - x.flat()[i]) * dy[r], 6);
      expect(gx[i]).toBeCloseTo(-li * dy[r], 6);
    });
  });

  it("the Gaussian NLL by hand: ½ Σ ((x − m)²/σ² + log σ² + log 2π), with log σ² a number or a tensor", () => {
    const want = 0.5 * (0.25 / 2 + 1 / 2 + 2 * Math.log(2) + 2 * LOG_2PI_64);
    expect(tf.tidy(() => read(gaussianNll(tf.tensor2d([[0.5, 1]]), tf.tensor2d([[1, 2]]), Math.log(2))))[0]).toBeCloseTo(want, 5);
    expect(tf.tidy(() => read(gaussianNll(tf.tensor2d([[0.5, 1]]), tf.tensor2d([[1, 2]]), tf.scalar(Math.log(2)))))[0]).toBeCloseTo(want, 5);
  });

  it("the KL's value ½ Σ (μ² + e^{lv} − 1 − lv) and its written-out gradient μ·dy, ½ (e^{lv} − 1)·dy", () => {
    const mu = [[0.5, -1]];
    const lv = [[0, Math.log(2)]];
    const [value, gm, gl] = tf.tidy(() => {
      const v = read(klStandardNormalTensor(tf.tensor2d(mu), tf.tensor2d(lv)));
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => klStandardNormalTensor(a as tf.Tensor2D, b as tf.Tensor2D).mul(3).sum())([tf.tensor2d(mu), tf.tensor2d(lv)]);
      return [v, ...g.map(read)];
    });
    expect(value[0]).toBeCloseTo(0.5 * (0.25 + 1 + 2 - 1 - Math.log(2)), 6);
    expect(gm[0]).toBeCloseTo(1.5, 6);
    expect(gm[1]).toBeCloseTo(-3, 6);
    expect(gl[0]).toBeCloseTo(0, 6);
    expect(gl[1]).toBeCloseTo(1.5, 6);
  });

  it("reconstructionNll: BCE on logits; for a Gaussian, the NLL of σ(out) with the fixed or the learned variance", () => {
    const out = [[0.3, -1]];
    const x = [[0.2, 0.9]];
    const means = out[0].map(sigmoid64);
    const gauss = (v: number) => 0.5 * means.reduce((s, m, j) => s + (x[0][j] - m) ** 2 / v + Math.log(v) + LOG_2PI_64, 0);
    const bern = new Vae({ inputDim: 2, hiddenDims: [], latentDim: 1 });
    const fixed = new Vae({ inputDim: 2, hiddenDims: [], latentDim: 1, likelihood: "gaussian", gaussianVariance: 0.5 });
    const learned = new Vae({ inputDim: 2, hiddenDims: [], latentDim: 1, likelihood: "gaussian", gaussianVariance: "learned" });
    learned.logNoiseVar!.assign(tf.scalar(Math.log(0.2)));
    const nll = (m: Vae) => tf.tidy(() => read(reconstructionNll(m, tf.tensor2d(out), tf.tensor2d(x)))[0]);
    expect(nll(bern)).toBeCloseTo(bce64(out[0], x[0]), 5);
    expect(nll(fixed)).toBeCloseTo(gauss(0.5), 5);
    expect(nll(learned)).toBeCloseTo(gauss(0.2), 5);
    [bern, fixed, learned].forEach((m) => m.dispose());
  });

  it("the negative ELBO with given ε (L = 2 samples of 2 images, sample-major rows, β = 0.5) equals its float64 value; a wrong ε is refused", () => {
    const m = new Vae({ inputDim: 5, hiddenDims: [3], latentDim: 2, seed: 4, activation: "tanh" });
    const ref = mlp64(m);
    const x = [[0.1, 0.9, 0, 0.5, 1], [1, 0, 0.3, 0.2, 0.7]];
    const eps = [[0.3, -1], [1.5, 0.2], [-0.7, 0.4], [0, 2]];
    const enc = x.map(ref.encode);
    let recon = 0;
    eps.forEach((e, row) => {
      const b = row % 2;
      const z = enc[b].mu.map((mu, d) => mu + Math.exp(enc[b].logVar[d] / 2) * e[d]);
      recon += bce64(ref.decode(z), x[b]) / 4;
    });
    const kl = enc.reduce((s, { mu, logVar }) => s + 0.5 * mu.reduce((a, mi, d) => a + mi * mi + Math.exp(logVar[d]) - 1 - logVar[d], 0), 0) / 2;
    const t = tf.tidy(() => {
      const r = negativeElbo(m, tf.tensor2d(x), { samples: 2, beta: 0.5, eps: tf.tensor2d(eps) });
      return [r.loss, r.recon, r.kl].map((s) => s.dataSync()[0]);
    });
    expect(t[1]).toBeCloseTo(recon, 5);
    expect(t[2]).toBeCloseTo(kl, 5);
    expect(t[0]).toBeCloseTo(recon + 0.5 * kl, 5);
    // β defaults to 1, L to 1; a seed is ε = N(0, I) drawn by tfjs with that seed (0 included).
    const one = tf.tidy(() => {
      const r = negativeElbo(m, tf.tensor2d(x), { eps: tf.tensor2d(eps.slice(0, 2)) });
      return [r.loss, r.recon, r.kl].map((s) => s.dataSync()[0]);
    });
    expect(one[0]).toBeCloseTo(one[1] + one[2], 5);
    for (const seed of [0, 5]) {
      const drawn = tf.tidy(() => negativeElbo(m, tf.tensor2d(x), { seed, samples: 2 }).loss.dataSync()[0]);
      const given = tf.tidy(() => negativeElbo(m, tf.tensor2d(x), { samples: 2, eps: tf.randomNormal([4, 2], 0, 1, "float32", tfSeed(seed)) }).loss.dataSync()[0]);
      expect(drawn).toBe(given);
    }
    expect(() => tf.tidy(() => negativeElbo(m, tf.tensor2d(x), { samples: 2, eps: tf.zeros([3, 2]) }))).toThrow("eps has shape [3,2], expected [4, 2] (samples × batch, latent dimensions)");
    expect(() => tf.tidy(() => negativeElbo(m, tf.tensor2d(x), { samples: 2, eps: tf.zeros([4, 3]) }))).toThrow("eps has shape [4,3], expected [4, 2]");
    m.dispose();
  });
});

describe("exact values of the evaluation", () => {
  const small = () => new Vae({ inputDim: 784, hiddenDims: [4], latentDim: 2, seed: 12 });
  /** The k-sample bound of image i, in float64 from the model's weights and the ε tfjs draws for each chunk's seed. */
  function iwae64(m: Vae, set: MnistSet, n: number, k: number, chunk: number, seed: number) {
    const ref = mlp64(m);
    const rng = new Rng(seed);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = imageRows(set, [i])[0];
      const { mu, logVar } = ref.encode(x);
      const logW: number[] = [];
      for (let start = 0; start < k; start += chunk) {
        const rows = Math.min(chunk, k - start);
        const eps = takeRows(tf.tidy(() => tf.randomNormal([rows, 2], 0, 1, "float32", tfSeed(rng.nextSeed()))));
        for (const e of eps) {
          const z = mu.map((m0, d) => m0 + Math.exp(logVar[d] / 2) * e[d]);
          const logPz = z.reduce((s, v) => s - 0.5 * (v * v + LOG_2PI_64), 0);
          const logQz = z.reduce((s, v, d) => s - 0.5 * ((v - mu[d]) ** 2 / Math.exp(logVar[d]) + logVar[d] + LOG_2PI_64), 0);
          logW.push(-bce64(ref.decode(z), x) + logPz - logQz);
        }
      }
      const mx = Math.max(...logW);
      total += mx + Math.log(logW.reduce((s, v) => s + Math.exp(v - mx), 0) / k);
    }
    return -total / n;
  }

  it("the IWAE bound equals its float64 value: k = 7 in chunks of 3, and the defaults (k = 100, seed 7, the whole set)", () => {
    const m = small();
    const sub = loadMnist({ dir: tiny, split: "test", limit: 3 });
    expect(iwaeNll(m, sub, { k: 7, chunk: 3, seed: 11, limit: 2 })).toBeCloseTo(iwae64(m, sub, 2, 7, 3, 11), 3);
    expect(iwaeNll(m, sub, { k: 7, chunk: 3, seed: 11, limit: 50 })).toBeCloseTo(iwae64(m, sub, 3, 7, 3, 11), 3);
    expect(iwaeNll(m, sub)).toBeCloseTo(iwae64(m, sub, 3, 100, 1000, 7), 3);
    // k a multiple of the chunk: no empty last chunk (it would take a seed, and the next image's ε would move).
    expect(iwaeNll(m, sub, { k: 6, chunk: 3, seed: 11 })).toBeCloseTo(iwae64(m, sub, 3, 6, 3, 11), 3);
    m.dispose();
  });

  it("iwaeNll refuses a k, chunk or limit that is not a positive integer, and an empty set, with its whole message; one image is a set", () => {
    const m = small();
    const sub = loadMnist({ dir: tiny, split: "test", limit: 1 });
    const invalid = [0, -1, 2.5, NaN, Infinity, 2 ** 53];
    for (const v of invalid) expect(() => iwaeNll(m, sub, { k: v })).toThrow(`iwaeNll: k must be a positive integer (got ${v})`);
    // Largest first: a chunk of 0 or less, were it accepted, would never end.
    for (const v of [...invalid].reverse()) expect(() => iwaeNll(m, sub, { chunk: v })).toThrow(`iwaeNll: chunk must be a positive integer (got ${v})`);
    for (const v of invalid) expect(() => iwaeNll(m, sub, { limit: v })).toThrow(`iwaeNll: limit must be a positive integer (got ${v})`);
    const empty: MnistSet = { ...sub, count: 0, images: new Float32Array(0), labels: new Int32Array(0) };
    expect(() => iwaeNll(m, empty)).toThrow("iwaeNll: the set is empty");
    expect(iwaeNll(m, sub, { k: 1, chunk: 1, limit: 1, seed: 3 })).toBeCloseTo(iwae64(m, sub, 1, 1, 1, 3), 3);
    m.dispose();
  });

  it("iwaeNllSteps yields the number of images done after each and returns iwaeNll's value", () => {
    const m = small();
    const sub = loadMnist({ dir: tiny, split: "test", limit: 3 });
    for (const limit of [undefined, 2]) {
      const steps = iwaeNllSteps(m, sub, { k: 4, chunk: 3, seed: 5, limit });
      const done: number[] = [];
      let r = steps.next();
      for (; !r.done; r = steps.next()) done.push(r.value);
      expect(done).toEqual(limit === 2 ? [1, 2] : [1, 2, 3]);
      expect(r.value).toBe(iwaeNll(m, sub, { k: 4, chunk: 3, seed: 5, limit }));
      expect(r.value).toBeCloseTo(iwae64(m, sub, limit ?? 3, 4, 3, 5), 3);
    }
    m.dispose();
  });

  it("a conditional VAE: IWAE is exactly −log p(x|c) with c each image's class when q(z|x, c) is the prior; encodeMeans are μ(x, c)", () => {
    // No hidden layer, zero weights but the decoder's rows for the condition: q(z|x, c) = N(0, I) = p(z) and the
    // logits are L[c], independent of z, so every importance weight is p(x|c) and L_k = log p(x|c) for all k.
    const K = 10;
    const cv = new ConditionalVae({ inputDim: 784, hiddenDims: [], latentDim: 2, conditionDim: K, seed: 4 });
    const L = Array.from({ length: K }, (_, c) => Array.from({ length: 784 }, (_, j) => Math.sin((j + 37 * c) / 7) * 2));
    for (const v of cv.variables()) v.assign(tf.zerosLike(v));
    cv.decOut.W.assign(tf.tensor2d([[...Array(784).fill(0)], [...Array(784).fill(0)], ...L]));
    const sub = loadMnist({ dir: tiny, split: "test", limit: 4 });
    expect(new Set(sub.labels).size).toBeGreaterThan(1);
    let exact = 0;
    for (let i = 0; i < sub.count; i++) {
      const l = L[sub.labels[i]];
      for (let j = 0; j < 784; j++) exact += (Math.log1p(Math.exp(l[j])) - l[j] * sub.images[i * 784 + j]) / sub.count;
    }
    for (const k of [1, 5]) expect(iwaeNll(cv, sub, { k, seed: 2, chunk: 3 })).toBeCloseTo(exact, 2);
    // Posterior means with the encoder's weights back: [x | one-hot c]·W + b, in float64; batches that divide the
    // set (no empty last batch: a conditional VAE refuses one), one that does not, and the default.
    const fresh = new ConditionalVae({ inputDim: 784, hiddenDims: [], latentDim: 2, conditionDim: K, seed: 5 });
    const W = read(fresh.encMu.W);
    const b = read(fresh.encMu.b);
    const want = imageRows(sub, [0, 1, 2, 3]).map((x, i) => [0, 1].map((d) => x.reduce((s, v, j) => s + v * W[j * 2 + d], b[d] + W[(784 + sub.labels[i]) * 2 + d])));
    for (const batchSize of [2, 4, 3, undefined]) expectRowsClose(encodeMeans(fresh, sub, { batchSize }), want, 5, `batch ${batchSize}`);
    expectRowsClose(encodeMeans(fresh, sub, { limit: 2, batchSize: 1 }), want.slice(0, 2), 5);
    [cv, fresh].forEach((x) => x.dispose());
  });

  it("encodeMeans, reconstruct and samplePrior equal their float64 values", () => {
    const m = small();
    const ref = mlp64(m);
    const sub = loadMnist({ dir: tiny, split: "test", limit: 5 });
    const x = imageRows(sub, [0, 1, 2, 3, 4]);
    expectRowsClose(encodeMeans(m, sub, { limit: 4, batchSize: 3 }), x.slice(0, 4).map((r) => ref.encode(r).mu), 5);
    expectRowsClose(encodeMeans(m, sub, { limit: 50 }), x.map((r) => ref.encode(r).mu), 5);
    expectRowsClose(encodeMeans(m, sub), x.map((r) => ref.encode(r).mu), 5);
    expectRowsClose(reconstruct(m, sub, [2, 0]), [2, 0].map((i) => ref.decodeMean(ref.encode(x[i]).mu)), 5);
    for (const seed of [0, 9]) {
      const z = takeRows(tf.tidy(() => tf.randomNormal([4, 2], 0, 1, "float32", tfSeed(seed))));
      expectRowsClose(samplePrior(m, { n: 4, seed }), z.map(ref.decodeMean), 5);
    }
    expect(samplePrior(m)).toHaveLength(30 * 784);
    expect(samplePrior(m, { n: 2 })).not.toEqual(samplePrior(m, { n: 2 }));
    m.dispose();
  });

  it("a dynamically binarised set can be evaluated (each function hands batchTensor an Rng)", () => {
    const m = small();
    const dyn = loadMnist({ dir: tiny, split: "test", limit: 3, binarize: "dynamic" });
    expect(Number.isFinite(iwaeNll(m, dyn, { k: 2 }))).toBe(true);
    expect(encodeMeans(m, dyn)).toHaveLength(6);
    expect(reconstruct(m, dyn, [1])).toHaveLength(784);
    expect(activeUnits(m, dyn).variances).toHaveLength(2);
    m.dispose();
  });

  it("active units: the variance over the data of each posterior mean (divided by n), of the first `limit` examples", () => {
    const m = small();
    const sub = loadMnist({ dir: tiny, split: "test", limit: 6 });
    for (const limit of [undefined, 4]) {
      const flat = encodeMeans(m, sub, { limit });
      const means = Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);
      const want = [0, 1].map((d) => {
        const col = means.map((r) => r[d]);
        const mean = col.reduce((a, b) => a + b, 0) / col.length;
        return col.reduce((s, v) => s + (v - mean) ** 2, 0) / col.length;
      });
      const au = activeUnits(m, sub, { limit, threshold: 0 });
      au.variances.forEach((v, d) => expect(v).toBeCloseTo(want[d], 10));
      expect(au.count).toBe(2);
      expect(activeUnits(m, sub, { limit, threshold: 1.001 * Math.max(...want) }).count).toBe(0);
      expect(activeUnits(m, sub, { limit, threshold: (want[0] + want[1]) / 2 }).count).toBe(1);
      // A variance equal to the threshold does not count (strictly greater).
      expect(activeUnits(m, sub, { limit, threshold: Math.max(...au.variances) }).count).toBe(0);
    }
    m.dispose();
  });

  it("the latent grid: image r·n + c is decoded at (Φ⁻¹((c + ½)/n), Φ⁻¹((n − r − ½)/n)); 20 × 20 by default", () => {
    const m = small();
    const ref = mlp64(m);
    const g = decodeLatentGrid(m, { n: 3 });
    const q = [1 / 6, 0.5, 5 / 6].map(normalQuantile);
    expect(g.z1).toEqual(q);
    expect(g.z2).toEqual([...q].reverse());
    const want: number[][] = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) want.push(ref.decodeMean([q[c], q[2 - r]]));
    expectRowsClose(g.images, want, 5);
    const d = decodeLatentGrid(m);
    expect(d.images).toHaveLength(400 * 784);
    expect(d.z1).toHaveLength(20);
    expect(d.z1[0]).toBeCloseTo(normalQuantile(0.025), 14);
    m.dispose();
  });

  it("normalQuantile: the lower and upper tails by Acklam's formula, the centre refined; p outside (0, 1) refused", () => {
    const Phi = (x: number) => 0.5 * (1 + (math.erf(x / Math.SQRT2) as number));
    // Just inside each tail, and just outside (the refined centre): Φ(x) − p relative to p.
    for (const p of [0.0242, 0.02426, 0.97574, 0.9758]) expect(Math.abs(Phi(normalQuantile(p)) - p) / Math.min(p, 1 - p)).toBeLessThan(1e-8);
    // Both ends of the central region are refined: there Φ(x) is p to 1e-14.
    for (const p of [0.02425, 1 - 0.02425]) expect(Math.abs(Phi(normalQuantile(p)) - p)).toBeLessThan(1e-14);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326347874040841, 8);
    expect(normalQuantile(0.9758)).toBeCloseTo(-normalQuantile(0.0242), 8);
    for (const p of [0, 1, -0.5, NaN]) expect(() => normalQuantile(p)).toThrow(`normalQuantile: p must be in (0, 1), got ${p}`);
  });
});

describe("loss terms", () => {
  it("Bernoulli NLL on logits equals −[x log σ(l) + (1−x) log(1−σ(l))], and stays finite for huge logits", () => {
    const l = [[-3, 0.5, 2], [10, -10, 0]];
    const x = [[0, 1, 0.3], [1, 0, 0.5]];
    const got = tf.tidy(() => read(bernoulliNll(tf.tensor2d(l), tf.tensor2d(x))));
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    l.forEach((row, i) => {
      const ref = row.reduce((s, li, j) => s - (x[i][j] * Math.log(sig(li)) + (1 - x[i][j]) * Math.log(1 - sig(li))), 0);
      expect(got[i]).toBeCloseTo(ref, 4);
    });
    const big = tf.tidy(() => read(bernoulliNll(tf.tensor2d([[200, -200]]), tf.tensor2d([[0, 1]]))));
    expect(big[0]).toBeCloseTo(400, 3); // −log σ(−200) ≈ 200, twice
  });

  it("Gaussian NLL equals the sum of 1-D Gaussian log-densities", () => {
    const got = tf.tidy(() => read(gaussianNll(tf.tensor2d([[0.2, 0.8]]), tf.tensor2d([[0.5, 0.1]]), Math.log(0.3))));
    expect(got[0]).toBeCloseTo(-(logNormal1d(0.5, 0.2, Math.sqrt(0.3)) + logNormal1d(0.1, 0.8, Math.sqrt(0.3))), 4);
  });

  it("the tensor KL matches the float64 closed form of kl.ts", () => {
    const mu = [0.3, -1, 2];
    const logVar = [0.1, -2, 1.5];
    const got = tf.tidy(() => read(klStandardNormalTensor(tf.tensor2d([mu]), tf.tensor2d([logVar]))));
    expect(got[0]).toBeCloseTo(klToStandardNormal({ mu, sigma: logVar.map((v) => Math.exp(v / 2)) }), 4);
  });
});

describe("the model", () => {
  it("encode and decode match an independent float64 forward pass", () => {
    const vae = new Vae({ hiddenDims: [16], latentDim: 3, seed: 5 });
    const ref = mlp64(vae);
    const x = Array.from(train.images.subarray(0, 784));
    const { mu, logVar } = vae.encode(tf.tensor2d([x]));
    const r = ref.encode(x);
    read(mu).forEach((v, i) => expect(v).toBeCloseTo(r.mu[i], 4));
    read(logVar).forEach((v, i) => expect(v).toBeCloseTo(r.logVar[i], 4));
    const logits = read(vae.decode(tf.tensor2d([[0.5, -1, 2]])));
    ref.decode([0.5, -1, 2]).forEach((v, i) => expect(logits[i]).toBeCloseTo(v, 4));
    tf.dispose([mu, logVar]);
    vae.dispose();
  });

  it("the hand-written gradients (dense layers, BCE, KL) equal tfjs's traced ones, for every weight", () => {
    const vae = new Vae({ hiddenDims: [24, 12], latentDim: 3, seed: 8 });
    const x = tf.tensor2d(train.images.subarray(0, 5 * 784), [5, 784]);
    const vars = vae.variables();
    const ours = tf.variableGrads(() => negativeElbo(vae, x, { seed: 4 }).loss, vars);
    // Reference forward pass with plain tf.matMul (default gradients), same ε.
    const ref = tf.variableGrads(() => {
      const lin = (h: tf.Tensor, l: { W: tf.Tensor; b: tf.Tensor }) => tf.add(tf.matMul(h, l.W), l.b);
      let h: tf.Tensor = x;
      for (const l of vae.encoder) h = tf.relu(lin(h, l));
      const mu = lin(h, vae.encMu) as tf.Tensor2D;
      const logVar = lin(h, vae.encLogVar) as tf.Tensor2D;
      const eps = tf.randomNormal([5, 3], 0, 1, "float32", 4);
      let d: tf.Tensor = mu.add(tf.exp(logVar.mul(0.5)).mul(eps));
      for (const l of vae.decoder) d = tf.relu(lin(d, l));
      const l = lin(d, vae.decOut) as tf.Tensor2D;
      // BCE and KL written with plain ops, so tfjs traces their gradients (the library's are hand-written).
      const bce = tf.relu(l).sub(l.mul(x)).add(tf.log1p(tf.exp(tf.neg(tf.abs(l))))).sum(1);
      const kl = tf.scalar(-0.5).mul(tf.scalar(1).add(logVar).sub(mu.square()).sub(tf.exp(logVar))).sum(1);
      return bce.mean().add(kl.mean()) as tf.Scalar;
    }, vars);
    expect(ours.value.dataSync()[0]).toBeCloseTo(ref.value.dataSync()[0], 3);
    for (const v of vars) {
      const a = read(ours.grads[v.name]);
      const b = read(ref.grads[v.name]);
      const scale = Math.max(...b.map(Math.abs), 1e-6);
      // One assertion on the worst entry (an expect per weight is slow under load).
      const worst = a.reduce((w, g, i) => Math.max(w, Math.abs(g - b[i]) / scale), 0);
      expect(a).toHaveLength(b.length);
      expect(worst, v.name).toBeLessThan(1e-4);
    }
    tf.dispose([x, ours.value, ref.value, ...Object.values(ours.grads), ...Object.values(ref.grads)]);
    vae.dispose();
  });

  it("initialises like PyTorch's nn.Linear: uniform on ±1/√fan_in", () => {
    const vae = new Vae({ seed: 3 });
    const W = read(vae.encoder[0].W);
    const bound = 1 / Math.sqrt(784);
    expect(Math.max(...W.slice(0, 50000))).toBeLessThanOrEqual(bound);
    expect(Math.min(...W.slice(0, 50000))).toBeGreaterThanOrEqual(-bound);
    const sd = Math.sqrt(W.reduce((s, v) => s + v * v, 0) / W.length);
    expect(sd).toBeCloseTo(bound / Math.sqrt(3), 4); // sd of U(−a, a) = a/√3
    expect(vae.parameterCount()).toBe(784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784);
    vae.dispose();
  });

  it("the negative ELBO matches a float64 Monte Carlo of E_q[−log p(x|z)] + KL (within 4 s.e.)", () => {
    const vae = new Vae({ hiddenDims: [32], latentDim: 2, seed: 7 });
    const ref = mlp64(vae);
    const x = Array.from(train.images.subarray(784, 2 * 784));
    const { mu, logVar } = ref.encode(x);
    const rng = new Rng(1);
    const vals: number[] = [];
    for (let s = 0; s < 4000; s++) {
      const z = mu.map((m, d) => m + Math.exp(logVar[d] / 2) * rng.normal());
      const l = ref.decode(z);
      vals.push(bce64(l, x));
    }
    const recon = meanAndStderr(vals);
    const kl = klToStandardNormal({ mu, sigma: logVar.map((v) => Math.exp(v / 2)) });
    const t = negativeElbo(vae, tf.tensor2d([x]), { samples: 4000, seed: 2 });
    const [loss, r, k] = [t.loss, t.recon, t.kl].map((s) => s.dataSync()[0]);
    expect(k).toBeCloseTo(kl, 3);
    expect(Math.abs(r - recon.estimate)).toBeLessThan(4 * Math.sqrt(2) * recon.stderr);
    expect(loss).toBeCloseTo(r + k, 3);
    const half = negativeElbo(vae, tf.tensor2d([x]), { samples: 1, seed: 2, beta: 0.5 });
    expect(half.loss.dataSync()[0]).toBeCloseTo(half.recon.dataSync()[0] + 0.5 * half.kl.dataSync()[0], 3);
    tf.dispose([t.loss, t.recon, t.kl, half.loss, half.recon, half.kl]);
    vae.dispose();
  });

  it("a Gaussian likelihood with learned variance has a trainable log σ²", () => {
    const vae = new Vae({ likelihood: "gaussian", gaussianVariance: "learned", hiddenDims: [8], latentDim: 2 });
    expect(vae.variables()).toHaveLength(11);
    expect(vae.logNoiseVar!.dataSync()[0]).toBe(0);
    vae.dispose();
  });

  it("rejects bad configurations", () => {
    expect(() => new Vae({ latentDim: 0 })).toThrow(/latentDim must be a positive integer/);
    expect(() => new Vae({ activation: "swish" as never })).toThrow(/activation must be one of/);
  });
});

describe("training", () => {
  it("lowers the loss, is repeatable with a seed, and leaks no tensors across epochs", () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const run = () => {
      const vae = new Vae({ hiddenDims: [64], latentDim: 4, seed: 1 });
      const h = trainVae(vae, train, test, { epochs: 4, batchSize: 25, lr: 3e-3, seed: 9, onEpoch: () => counts.push(tf.memory().numTensors) });
      vae.dispose();
      return h;
    };
    const a = run();
    expect(a[3].trainLoss).toBeLessThan(a[0].trainLoss - 50);
    expect(a[3].testLoss).toBeLessThan(a[0].testLoss);
    expect(new Set(counts.slice(0, 4)).size).toBe(1); // same number of live tensors after every epoch
    const b = run();
    expect(b.map((r) => r.testLoss)).toEqual(a.map((r) => r.testLoss));
    expect(tf.memory().numTensors).toBe(before);
    for (const r of a) expect(r.testLoss).toBeCloseTo(r.recon + r.kl, 3);
  });

  it("KL warm-up raises β linearly", () => {
    expect([1, 2, 3, 4, 5, 6].map((e) => betaAt(e, 1, 4))).toEqual([0, 0.25, 0.5, 0.75, 1, 1]);
    expect([1, 2, 3].map((e) => betaAt(e, 2, 1))).toEqual([0, 2, 2]); // --warmup 1 is not a no-op
    expect(betaAt(1, 2, 0)).toBe(2);
  });

  it("stops with a clear error when the loss becomes NaN, keeping the last good weights", () => {
    const bad = loadMnist({ dir: tiny, limit: 20 });
    bad.images[5] = NaN;
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const w0 = read(vae.encoder[0].W);
    expect(() => trainVae(vae, bad, test, { epochs: 1, batchSize: 20 })).toThrow(TrainingDivergedError);
    expect(() => trainVae(vae, bad, test, { epochs: 1, batchSize: 20 })).toThrow(/loss became NaN at epoch 1, step 1 \(try a lower learning rate\)/);
    expect(read(vae.encoder[0].W)).toEqual(w0);
    vae.dispose();
  });

  it("evaluateElbo averages over the whole set", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const e = evaluateElbo(vae, test, { batchSize: 7 });
    expect(e.loss).toBeCloseTo(e.recon + e.kl, 3);
    expect(e.loss).toBeGreaterThan(400); // untrained: ~ 784 · log 2 ≈ 543 nats
    vae.dispose();
  });
});

describe("evaluation", () => {
  let vae: Vae;
  beforeAll(() => {
    vae = new Vae({ hiddenDims: [64], latentDim: 2, seed: 2 });
    trainVae(vae, train, test, { epochs: 5, batchSize: 20, lr: 3e-3, seed: 1 });
  });

  it("IWAE: k = 1 is the ELBO; the bound tightens as k grows", () => {
    const sub = loadMnist({ dir: tiny, split: "test", limit: 20 });
    const elbo = evaluateElbo(vae, sub, { samples: 1, seed: 3 });
    const k1 = [1, 2, 3, 4, 5].map((s) => iwaeNll(vae, sub, { k: 1, seed: s }));
    const m1 = meanAndStderr(k1);
    expect(Math.abs(m1.estimate - elbo.loss)).toBeLessThan(5 * Math.max(m1.stderr, 0.5));
    const k10 = iwaeNll(vae, sub, { k: 10, seed: 1 });
    const k200 = iwaeNll(vae, sub, { k: 200, seed: 1, chunk: 64 });
    expect(k10).toBeLessThan(m1.estimate);
    expect(k200).toBeLessThan(k10);
  });

  it("active units count the dimensions whose posterior mean varies", () => {
    const au = activeUnits(vae, test);
    expect(au.variances).toHaveLength(2);
    expect(au.count).toBe(au.variances.filter((v) => v > 0.01).length);
    const means = encodeMeans(vae, test, { limit: 10, batchSize: 3 });
    expect(means).toHaveLength(20);
  });

  it("IWAE is exactly −log p(x) for every k when q(z|x) is the true posterior (here: z independent of x)", () => {
    // Zero weights: q(z|x) = N(0, I) = p(z), and logits c that do not depend on z, so every importance weight
    // is p(x) = Π_j σ(c_j)^x_j (1 − σ(c_j))^(1 − x_j), and L_k = log p(x) for all k (the − log k is needed).
    const m = new Vae({ hiddenDims: [], latentDim: 3, seed: 4 });
    const c = Array.from({ length: 784 }, (_, j) => Math.sin(j / 7) * 2);
    for (const v of m.variables()) v.assign(tf.zerosLike(v));
    m.decOut.b.assign(tf.tensor1d(c));
    const sub = loadMnist({ dir: tiny, split: "test", limit: 5 });
    let exact = 0;
    for (let i = 0; i < sub.count; i++) {
      for (let j = 0; j < 784; j++) exact += (Math.log1p(Math.exp(c[j])) - c[j] * sub.images[i * 784 + j]) / sub.count;
    }
    for (const k of [1, 7, 50]) expect(iwaeNll(m, sub, { k, seed: 2, chunk: 16 })).toBeCloseTo(exact, 2);
    m.dispose();
  });

  it("active units: a dimension counts when the variance of its posterior mean exceeds 0.01", () => {
    // No hidden layer: E_q[z_d|x] = x·W_d + b_d, so scaling column d of W scales that variance by the square.
    const m = new Vae({ hiddenDims: [], latentDim: 4, seed: 5 });
    const base = activeUnits(m, test).variances;
    const targets = [0.005, 0.05, 0.5, 0.0099];
    const scale = tf.tensor1d(targets.map((t, d) => Math.sqrt(t / base[d])));
    m.encMu.W.assign(tf.mul(m.encMu.W, scale));
    const au = activeUnits(m, test);
    au.variances.forEach((v, d) => expect(v).toBeCloseTo(targets[d], 5));
    expect(au.count).toBe(2);
    expect(activeUnits(m, test, { threshold: 0.001 }).count).toBe(4);
    scale.dispose();
    m.dispose();
  });

  it("decodes a latent grid of Gaussian quantiles, reconstructions and prior samples", () => {
    const g = decodeLatentGrid(vae, { n: 5 });
    expect(g.images).toHaveLength(25 * 784);
    expect(g.z1[2]).toBeCloseTo(0, 12);
    expect(g.z1[4]).toBeCloseTo(normalQuantile(0.9), 12);
    expect(g.z2[0]).toBeCloseTo(normalQuantile(0.9), 12);
    expect(reconstruct(vae, test, [0, 1])).toHaveLength(2 * 784);
    const s = samplePrior(vae, { n: 3, seed: 1 });
    expect(s).toEqual(samplePrior(vae, { n: 3, seed: 1 }));
    expect(Math.min(...s)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s)).toBeLessThanOrEqual(1);
    const big = new Vae({ hiddenDims: [4], latentDim: 3 });
    expect(() => decodeLatentGrid(big, { n: 3 })).toThrow(/needs a 2-D latent space \(this model has 3\)/);
    big.dispose();
  });

  it("normalQuantile inverts Φ (checked with mathjs's erf) down to the far tails", () => {
    const Phi = (x: number) => 0.5 * (1 + (math.erf(x / Math.SQRT2) as number));
    // Central region: refined to near machine precision.
    for (const p of [0.02425, 0.1, 0.3, 0.5, 0.77, 0.97]) expect(Math.abs(Phi(normalQuantile(p)) - p)).toBeLessThan(1e-14);
    // Tails: Acklam's approximation, relative error below 1.2e-9 (reference values of Φ⁻¹).
    const known: [number, number][] = [[1e-10, -6.361340902404056], [1e-4, -3.719016485455709], [0.01, -2.326347874040841], [0.9999, 3.719016485455709]];
    for (const [p, x] of known) expect(Math.abs(normalQuantile(p) - x) / Math.abs(x)).toBeLessThan(1.2e-9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.3263478740408408, 8);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });

  it("a checkpoint round-trips exactly, is written whole, and bad files are named", () => {
    const dir = scratchDir("vae-lab-ckpt-");
    const file = path.join(dir, "model.json");
    saveVae(vae, file, { note: "hi" });
    expect(fs.readdirSync(dir)).toEqual(["model.json"]);
    const { vae: back, metadata } = loadVae(file);
    expect(metadata).toEqual({ note: "hi" });
    back.variables().forEach((v, i) => expect(read(v)).toEqual(read(vae.variables()[i])));
    expect(back.config).toEqual(vae.config);
    back.dispose();
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.slice(0, text.length / 2));
    expect(() => loadVae(file)).toThrow(new CheckpointError(file, "not valid JSON (truncated or not a vae-lab checkpoint)"));
    fs.writeFileSync(file, JSON.stringify({ format: "other" }));
    expect(() => loadVae(file)).toThrow(/not a vae-lab checkpoint/);
    const ck = JSON.parse(text);
    ck.weights[0].shape = [1, 2];
    fs.writeFileSync(file, JSON.stringify(ck));
    expect(() => loadVae(file)).toThrow(/weight 0 .* has shape \[1,2\], expected \[784,64\]/);
    expect(() => loadVae(path.join(dir, "none.json"))).toThrow(/none.json: checkpoint not found/);
  });
});
