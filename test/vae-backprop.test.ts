/**
 * The backpropagation written out in vae/backprop.ts must give tfjs autodiff's numbers: every variable's
 * gradient is compared with tf.variableGrads of a loss written with plain tfjs ops (so every derivative is
 * traced, none hand-written), for each activation, deeper and shallower networks, β ≠ 1 and L > 1; the
 * score-function estimators' with tf.variableGrads of their surrogate losses (vae/encoder-gradients.ts); training
 * with it must follow the tape's training step for step. On the cpu backend, and on wasm with the native
 * kernels where they were built (always under CI).
 */
import * as path from "path";
import * as tf from "../src/engine/tf";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadMnist, MnistSet } from "../src/data/mnist";
import { describeOnNativeWasm } from "./harness/native";
import { trainVae } from "../src/vae/train";
import { Vae, VaeConfig } from "../src/vae/model";
import { explicitGradientsSupported, negativeElboGradients } from "../src/vae/backprop";
import { EncoderEstimator, surrogateLoss } from "../src/vae/encoder-gradients";
import { Case, cases, expectTrainingAgrees, tracedLoss } from "./harness/traced-elbo";

const tiny = path.resolve(__dirname, "../data/mnist-tiny");
let train: MnistSet;
let test: MnistSet;

/** Max over a variable's entries of |ours − traced| / max|traced|, for every variable. */
function compareWithTrace(vae: Vae, x: tf.Tensor2D, c: Case, seed: number) {
  const vars = vae.variables();
  const ours = negativeElboGradients(vae, x, { beta: c.beta, samples: c.samples, seed });
  const ref = tf.variableGrads(() => tracedLoss(vae, x, c.beta, c.samples, seed), vars);
  const errors = vars.map((v) => {
    const a = ours.grads[v.name].dataSync();
    const b = ref.grads[v.name].dataSync();
    let scale = 1e-6;
    for (const g of b) scale = Math.max(scale, Math.abs(g));
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
    return worst;
  });
  const result = { errors, loss: ours.loss.dataSync()[0], refLoss: ref.value.dataSync()[0], names: Object.keys(ours.grads).sort(), varNames: vars.map((v) => v.name).sort() };
  tf.dispose([ours.grads, ours.loss, ours.recon, ours.kl, ref.value, ref.grads]);
  return result;
}

/** The score-function estimators against tf.variableGrads of surrogateLoss, all variables and encoder only. */
function checkScoreEstimators(batch: number) {
  const configs: [string, Partial<VaeConfig>, number][] = [
    ["ReLU, one hidden layer", { hiddenDims: [32], latentDim: 4 }, 1],
    ["tanh, two hidden layers, β = 0.5", { activation: "tanh", hiddenDims: [24, 12], latentDim: 3 }, 0.5],
    ["sigmoid, no hidden layer", { activation: "sigmoid", hiddenDims: [], latentDim: 3 }, 1],
  ];
  const estimators: EncoderEstimator[] = ["reparam", "score", "score-baseline", "score-loo"];
  for (const [name, config, beta] of configs) {
    for (const estimator of estimators) {
      it(`${estimator}, ${name}: every gradient equals the surrogate loss's traced one (L = 3)`, () => {
        const vae = new Vae({ ...config, seed: 6 });
        const x = tf.tensor2d(train.images.subarray(0, batch * 784), [batch, 784]);
        const before = tf.memory().numTensors;
        const opts = { estimator, beta, samples: 3, seed: 13 };
        const all = negativeElboGradients(vae, x, opts);
        const enc = negativeElboGradients(vae, x, { ...opts, variables: "encoder" });
        let objective: tf.Scalar | undefined;
        let loss: tf.Scalar | undefined;
        const ref = tf.variableGrads(() => {
          const t = surrogateLoss(vae, x, opts);
          loss = tf.keep(t.loss);
          return (objective = t.objective);
        }, vae.variables());
        expect(all.loss.dataSync()[0]).toBeCloseTo(loss!.dataSync()[0], 2);
        // A gradient for every variable (for the encoder's only, in encoder-only mode), and nothing else.
        expect(Object.keys(all.grads).sort()).toEqual(vae.variables().map((v) => v.name).sort());
        expect(Object.keys(enc.grads).sort()).toEqual(vae.encoderVariables().map((v) => v.name).sort());
        for (const v of vae.variables()) {
          const b = ref.grads[v.name].dataSync();
          let scale = 1e-6;
          for (const g of b) scale = Math.max(scale, Math.abs(g));
          for (const got of [all.grads[v.name], enc.grads[v.name]]) {
            if (!got) continue; // the decoder's, in encoder-only mode
            const a = got.dataSync();
            let worst = 0;
            for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
            expect(worst, v.name).toBeLessThan(1e-4);
          }
        }
        tf.dispose([all.grads, all.loss, all.recon, all.kl, enc.grads, enc.loss, enc.recon, enc.kl, ref.grads, ref.value, loss!]);
        void objective;
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
        vae.dispose();
      });
    }
  }
}

function checkAllCases(batch: number) {
  checkScoreEstimators(batch);
  for (const c of cases) {
    it(`${c.name}: every gradient equals the traced one`, () => {
      const vae = new Vae({ ...c.config, seed: 5 });
      const x = tf.tensor2d(train.images.subarray(0, batch * 784), [batch, 784]);
      const before = tf.memory().numTensors;
      const r = compareWithTrace(vae, x, c, 11);
      expect(tf.memory().numTensors).toBe(before);
      expect(r.names).toEqual(r.varNames); // a gradient for every variable, nothing else
      expect(r.loss).toBeCloseTo(r.refLoss, 2);
      for (const e of r.errors) expect(e).toBeLessThan(1e-4);
      x.dispose();
      vae.dispose();
    });
  }
}

describe("written-out backpropagation on the cpu backend", () => {
  beforeAll(async () => {
    await initBackend("cpu");
    train = loadMnist({ dir: tiny, split: "train" });
    test = loadMnist({ dir: tiny, split: "test" });
  });

  it("computes only what it needs: its matrix products, counted by hand, for each estimator and depth; no tiles or reshapes for one sample", async () => {
    // Per dense layer: one product forward, one for its weight gradient, one for its input's gradient when that is
    // needed (not for the data layer, not below z for a score-function estimator, no decoder pass at all for the
    // encoder's variables only). score-baseline decodes μ once more.
    for (const hidden of [2, 0]) {
      const cases = [
        { estimator: "reparam", variables: "all", decoderBack: 2 * (hidden + 1) },
        { estimator: "score", variables: "all", decoderBack: 2 * hidden + 1 },
        { estimator: "score", variables: "encoder", decoderBack: 0 },
        { estimator: "score-baseline", variables: "all", decoderBack: 2 * hidden + 1 },
      ] as const;
      for (const c of cases) {
        const vae = new Vae({ inputDim: 8, hiddenDims: [6, 5].slice(0, hidden), latentDim: 2, seed: 1 });
        const x = tf.ones([3, 8]) as tf.Tensor2D;
        const profile = await tf.profile(() => {
          const g = negativeElboGradients(vae, x, { estimator: c.estimator, variables: c.variables, seed: 1 });
          tf.dispose([g.grads, g.loss, g.recon, g.kl]);
        });
        const count = (name: string) => profile.kernels.filter((k) => k.name === name).length;
        const forward = 2 * hidden + 3 + (c.estimator === "score-baseline" ? hidden + 1 : 0);
        const encoderBack = 2 + (hidden > 0 ? 2 : 0) + hidden + Math.max(hidden - 1, 0);
        const what = `${c.estimator} ${c.variables}, ${hidden} hidden`;
        expect(count("BatchMatMul"), what).toBe(forward + c.decoderBack + encoderBack);
        expect(count("Tile"), what).toBe(c.estimator === "score-baseline" ? 1 : 0); // only the baseline, per sample
        expect(count("Reshape"), what).toBe(0);
        x.dispose();
        vae.dispose();
      }
    }
  });

  checkAllCases(6);

  it("training with it follows the autodiff tape step for step, and leaks no tensors", () => {
    expectTrainingAgrees(train, test, "auto", "tape", { beta: 0.8 }, 1e-3);
  });

  it("score-function training follows the tape too", () => {
    const run = (backprop: "auto" | "tape") => {
      const vae = new Vae({ hiddenDims: [32], latentDim: 3, seed: 2 });
      const h = trainVae(vae, train, test, { epochs: 2, batchSize: 20, lr: 1e-3, samples: 2, seed: 4, encoderEstimator: "score-loo", backprop });
      vae.dispose();
      return h;
    };
    const fast = run("auto");
    const tape = run("tape");
    for (let i = 0; i < 2; i++) expect(Math.abs(fast[i].testLoss - tape[i].testLoss)).toBeLessThan(1e-3 * tape[i].testLoss);
  });

  it("everything it returns is freed by an enclosing tf.tidy", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const x = tf.tensor2d(train.images.subarray(0, 4 * 784), [4, 784]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      negativeElboGradients(vae, x, { samples: 2 });
      negativeElboGradients(vae, x, { estimator: "score-baseline", variables: "encoder" });
    });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    vae.dispose();
  });

  it("refuses the score-loo estimator with one sample", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, seed: 1 });
    const x = tf.tensor2d(train.images.subarray(0, 2 * 784), [2, 784]);
    expect(() => negativeElboGradients(vae, x, { estimator: "score-loo", samples: 1 })).toThrow(/needs samples ≥ 2/);
    x.dispose();
    vae.dispose();
  });

  it("covers the Bernoulli likelihood only; a Gaussian model is refused and trains on the tape", () => {
    const vae = new Vae({ hiddenDims: [8], latentDim: 2, likelihood: "gaussian", seed: 1 });
    expect(explicitGradientsSupported(vae)).toBe(false);
    const x = tf.tensor2d(train.images.subarray(0, 2 * 784), [2, 784]);
    expect(() => negativeElboGradients(vae, x)).toThrow(/Bernoulli likelihood only/);
    const h = trainVae(vae, train, test, { epochs: 1, batchSize: 20 });
    expect(Number.isFinite(h[0].trainLoss)).toBe(true);
    x.dispose();
    vae.dispose();
  });
});

describeOnNativeWasm(
  "written-out backpropagation on wasm with the native kernels",
  () => {
    train = loadMnist({ dir: tiny, split: "train" });
    test = loadMnist({ dir: tiny, split: "test" });
  },
  () => {

  checkAllCases(6);

  it("the reference setup (784-400-20, batch 100): every gradient equals the traced one", () => {
    const vae = new Vae({ seed: 3 });
    const x = tf.tensor2d(train.images.subarray(0, 100 * 784), [100, 784]);
    const r = compareWithTrace(vae, x, { name: "", config: {}, beta: 1, samples: 1 }, 8);
    expect(r.loss).toBeCloseTo(r.refLoss, 2);
    for (const e of r.errors) expect(e).toBeLessThan(1e-4);
    x.dispose();
    vae.dispose();
  });

  it("training with it follows the tape on wasm too", () => {
    const run = (backprop: "auto" | "tape") => {
      const vae = new Vae({ hiddenDims: [48], latentDim: 3, seed: 2 });
      const h = trainVae(vae, train, test, { epochs: 2, batchSize: 20, lr: 3e-3, seed: 4, backprop });
      vae.dispose();
      return h;
    };
    const fast = run("auto");
    const tape = run("tape");
    for (let i = 0; i < 2; i++) expect(Math.abs(fast[i].testLoss - tape[i].testLoss)).toBeLessThan(1e-3 * tape[i].testLoss);
  });
  },
);
