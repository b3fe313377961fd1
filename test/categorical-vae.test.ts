import * as path from "path";
import * as tf from "../src/engine/tf";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { initBackend } from "../src/engine/backend";
import { loadMnist } from "../src/data/mnist";
import {
  CATEGORICAL_ESTIMATORS,
  CategoricalVae,
  categoricalEncoderGradientStats,
  categoricalKlToUniform,
  categoricalSurrogate,
  codeVariations,
  decodeCategoricalCodes,
  encodeArgmax,
  evaluateCategoricalElbo,
  trainCategoricalVae,
} from "../src/vae/categorical";
import { vimcoSignals } from "../src/prob/categorical";

const tiny = path.join(__dirname, "..", "data", "mnist-tiny");
const train = loadMnist({ dir: tiny, split: "train", binarize: "static", seed: 1 });
const test = loadMnist({ dir: tiny, split: "test", binarize: "static", seed: 2 });
const small = { hiddenDims: [64], variables: 20, classes: 10 };

// Statistical checks with thousands of draws: slow on a busy machine, so a generous time limit (results do not depend on time).
vi.setConfig({ testTimeout: 300_000 });

beforeAll(async () => {
  // The wasm backend with the native kernels: the same results as the pure-JS cpu backend up to float32
  // rounding (the assertions here are statistical), and several times faster.
  await initBackend("wasm");
});

describe("KL to the uniform prior", () => {
  it("the closed form Σ_n Σ_k q log(Kq) equals the sum over all K^N joint codes of q(z) log q(z)/p(z)", () => {
    const N = 3;
    const K = 4;
    const logits = [0.3, -1.2, 0.8, 0.1, 2.0, -0.5, 0.0, 0.4, -0.7, 1.1, 0.6, -2.0, 1.5, 0.2, -0.3, 0.9, 0.0, 0.0, 0.5, -1.0, 0.3, 0.7, -0.4, 1.9];
    const closed = tidyNumber(() => categoricalKlToUniform(tf.tensor2d(logits, [2, N * K]), K).arraySync() as number[]);
    for (let b = 0; b < 2; b++) {
      const q = Array.from({ length: N }, (_, n) => {
        const l = logits.slice(b * N * K + n * K, b * N * K + (n + 1) * K);
        const m = Math.max(...l);
        const e = l.map((v) => Math.exp(v - m));
        const s = e.reduce((a, c) => a + c, 0);
        return e.map((v) => v / s);
      });
      let kl = 0;
      for (let code = 0; code < K ** N; code++) {
        let qz = 1;
        let r = code;
        for (let n = 0; n < N; n++) {
          qz *= q[n][r % K];
          r = Math.floor(r / K);
        }
        kl += qz * Math.log(qz / K ** -N);
      }
      expect(closed[b]).toBeCloseTo(kl, 5);
    }
  });
});

function tidyNumber<T>(fn: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = fn();
  });
  return out;
}

describe("the categorical VAE", () => {
  for (const estimator of CATEGORICAL_ESTIMATORS) {
    it(`${estimator}: training lowers the −ELBO (discrete z) on the tiny set`, () => {
      const vae = new CategoricalVae({ ...small, seed: 3 });
      try {
        const before = evaluateCategoricalElbo(vae, train, { seed: 5 }).loss;
        trainCategoricalVae(vae, train, test, { epochs: 8, estimator, batchSize: 20, lr: 3e-3, samples: 2, seed: 4 });
        const after = evaluateCategoricalElbo(vae, train, { seed: 5 }).loss;
        expect(after).toBeLessThan(before - 100);
      } finally {
        vae.dispose();
      }
    }, 120_000);
  }

  it("is deterministic under a seed, and leaves no tensors behind", () => {
    const run = (seed: number) => {
      const vae = new CategoricalVae({ ...small, seed });
      try {
        const h = trainCategoricalVae(vae, train, test, { epochs: 2, estimator: "vimco", batchSize: 25, samples: 3, seed, gradientStats: { repeats: 3, batchSize: 10 } });
        return h.map((r) => [r.trainLoss, r.testLoss, r.gradient!.variance]);
      } finally {
        vae.dispose();
      }
    };
    const before = tf.memory().numTensors;
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it("the score-function surrogate's encoder gradient equals Σ (f − b) ∇ log q, averaged (checked against the estimator of prob/categorical on one variable)", () => {
    // One image, one variable of 4 classes: the encoder is only its logits layer's bias if the weights are zero.
    const vae = new CategoricalVae({ inputDim: 4, hiddenDims: [3], variables: 1, classes: 4, seed: 1 });
    try {
      const x = tf.tensor2d([[1, 0, 1, 1]]);
      const top = vae.encoder[vae.encoder.length - 1];
      // With the top layer's weights at zero, ℓ = its bias.
      top.W.assign(tf.zerosLike(top.W));
      const seedVals = [1, 2, 3];
      for (const estimator of ["score", "score-loo", "vimco"] as const) {
        for (const seed of seedVals) {
          const g = tidyNumber(() => {
            const { grads } = tf.variableGrads(() => categoricalSurrogate(vae, x, { estimator, samples: 3, seed }).objective, [top.b]);
            return Array.from(grads[top.b.name].dataSync());
          });
          // The same quantities by hand: the samples drawn, f at each, then the estimator's formula.
          const manual = tidyNumber(() => {
            const logits = Array.from(top.b.dataSync());
            const u = tf.clipByValue(tf.randomUniform([3, 1, 4], 0, 1, "float32", seed), 1e-7, 1 - 1e-7).dataSync();
            const cls = [0, 1, 2].map((i) => {
              let best = 0;
              for (let k = 1; k < 4; k++) if (logits[k] - Math.log(-Math.log(u[i * 4 + k])) > logits[best] - Math.log(-Math.log(u[i * 4 + best]))) best = k;
              return best;
            });
            const z = tf.oneHot(tf.tensor1d(cls, "int32"), 4).toFloat() as tf.Tensor2D;
            const out = vae.decode(z);
            const f = Array.from(out.relu().sub(out.abs().sigmoid().log()).sub(out.mul(tf.tile(x, [3, 1]))).sum(1).dataSync());
            const m = Math.max(...logits);
            const e = logits.map((v) => Math.exp(v - m));
            const p = e.map((v) => v / e.reduce((a, c) => a + c, 0));
            const logq = cls.map((c) => Math.log(p[c]));
            let signal: number[];
            if (estimator === "score") signal = f;
            else if (estimator === "score-loo") signal = f.map((fi, i) => fi - (f.reduce((a, c) => a + c, 0) - fi) / 2);
            else signal = vimcoSignals(f.map((fi, i) => -fi - logq[i] - Math.log(4))).map((s) => -s);
            const grad = [0, 0, 0, 0];
            cls.forEach((c, i) => {
              for (let k = 0; k < 4; k++) grad[k] += (signal[i] * ((k === c ? 1 : 0) - p[k])) * (estimator === "vimco" ? 1 : 1 / 3);
            });
            // KL's gradient (closed form): ∂/∂ℓ_j Σ p log(4p) = p_j (log(4 p_j) − Σ p log(4p)).
            const klv = p.reduce((s, pk) => s + pk * Math.log(4 * pk), 0);
            if (estimator !== "vimco") for (let j = 0; j < 4; j++) grad[j] += p[j] * (Math.log(4 * p[j]) - klv);
            else {
              // VIMCO also differentiates log w_i = … − log q(z_i) directly, weighted by the normalised weights.
              const lw = f.map((fi, i) => -fi - logq[i]);
              const mx = Math.max(...lw);
              const w = lw.map((v) => Math.exp(v - mx));
              const ws = w.reduce((a, c) => a + c, 0);
              cls.forEach((c, i) => {
                for (let k = 0; k < 4; k++) grad[k] += (w[i] / ws) * ((k === c ? 1 : 0) - p[k]);
              });
            }
            return grad;
          });
          g.forEach((v, k) => expect(v).toBeCloseTo(manual[k], 4));
        }
      }
      x.dispose();
    } finally {
      vae.dispose();
    }
  });

  it("gradient statistics: the score function's encoder gradient is noisier than the relaxation's, at the same L", () => {
    const vae = new CategoricalVae({ ...small, seed: 9 });
    try {
      const x = tf.tidy(() => tf.tensor2d(train.images.subarray(0, 20 * 784), [20, 784]));
      const score = categoricalEncoderGradientStats(vae, x, { estimator: "score", samples: 2, repeats: 8, seed: 1 });
      const gumbel = categoricalEncoderGradientStats(vae, x, { estimator: "gumbel", samples: 2, temperature: 1, repeats: 8, seed: 1 });
      expect(score.variance).toBeGreaterThan(10 * gumbel.variance);
      expect(gumbel.snr).toBeGreaterThan(score.snr);
      console.log(`score: variance ${score.variance.toExponential(2)}, SNR ${score.snr.toFixed(3)}; gumbel: variance ${gumbel.variance.toExponential(2)}, SNR ${gumbel.snr.toFixed(3)}`);
      x.dispose();
    } finally {
      vae.dispose();
    }
  }, 60_000);

  it("decodes codes, varies one variable at a time, and rejects bad codes and options", () => {
    const vae = new CategoricalVae({ ...small, seed: 1 });
    try {
      const base = encodeArgmax(vae, tf.tidy(() => tf.tensor2d(train.images.subarray(0, 784), [1, 784])))[0];
      expect(base).toHaveLength(20);
      const codes = codeVariations(base, 3, 10);
      expect(codes.map((c) => c[3])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(codes.every((c) => c.every((k, n) => n === 3 || k === base[n]))).toBe(true);
      const img = decodeCategoricalCodes(vae, codes);
      expect(img.length).toBe(10 * 784);
      expect(img.every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(() => decodeCategoricalCodes(vae, [[1, 2]])).toThrow(/20 class indices/);
      expect(() => trainCategoricalVae(vae, train, test, { epochs: 1, estimator: "vimco", samples: 1 })).toThrow(/vimco needs samples ≥ 2/);
      expect(() => trainCategoricalVae(vae, train, test, { epochs: 1, estimator: "nope" as "st" })).toThrow(/estimator must be one of/);
    } finally {
      vae.dispose();
    }
  });
});
