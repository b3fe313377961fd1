import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "../src/engine/tf";
import { initBackend } from "../src/engine/backend";
import { Rng } from "../src/engine/random";
import type { ImageSet } from "../src/data/image-set";
import type { LatentModel } from "../src/vae/latent-model";
import { priorPairing } from "../src/vae/prior-pairing";

beforeAll(async () => {
  await initBackend("cpu");
});

/**
 * A model whose answers are known in closed form: 2 pixels, 2 latent dimensions, the decoder the identity
 * g(z) = z and the posterior q(z|x) = N(x, s² I). Then, for an image x,
 *   E‖x − g(z)‖², z ~ q(z|x):  2 s²;
 *   E‖x − g(z)‖², z ~ N(0, I): ‖x‖² + 2;
 * and the nearest of M prior draws is at a squared distance of order 1 / (M π φ(x)), small for large M.
 */
function identityModel(s: number): LatentModel {
  return {
    config: { inputDim: 2, latentDim: 2, likelihood: "bernoulli", gaussianVariance: 1 },
    encode: (x: tf.Tensor2D) => ({ mu: tf.clone(x), logVar: tf.fill(x.shape, Math.log(s * s)) as tf.Tensor2D }),
    decode: (z: tf.Tensor2D) => tf.clone(z),
    decodeMean: (z: tf.Tensor2D) => tf.clone(z),
    variables: () => [],
    parameterCount: () => 0,
    dispose: () => undefined,
  };
}

function pointSet(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = Float32Array.from({ length: 2 * n }, () => rng.uniform());
  return { split: "test", images, labels: new Int32Array(n).fill(-1), count: n, rows: 1, cols: 2, channels: 1, pixels: 2, classNames: [], binarize: "none", files: { images: "", labels: "" } };
}

describe("priorPairing", () => {
  it("matches the closed form of an identity decoder with posterior N(x, s² I)", () => {
    const set = pointSet(4000, 3);
    const meanNorm = Array.from({ length: set.count }, (_, i) => set.images[2 * i] ** 2 + set.images[2 * i + 1] ** 2).reduce((a, b) => a + b, 0) / set.count;
    for (const s of [0.1, 0.5]) {
      const before = tf.memory().numTensors;
      const r = priorPairing(identityModel(s), set, { limit: 4000, priorSamples: 500, seed: 2, chunk: 1000 });
      expect(tf.memory().numTensors).toBe(before);
      expect(r.images).toBe(4000);
      expect(r.priorSamples).toBe(500);
      // 2 s² with a standard error of 2 s² / √4000 (about 1.6%).
      expect(Math.abs(r.posterior / (2 * s * s) - 1)).toBeLessThan(0.07);
      // ‖x‖² + 2, up to the sampling error of 500 prior draws (standard error about 0.1).
      expect(r.prior).toBeGreaterThan(meanNorm + 2 - 0.4);
      expect(r.prior).toBeLessThan(meanNorm + 2 + 0.4);
      // The nearest of 500 draws of a 2-D standard normal to a point of the unit square: of order 0.005.
      expect(r.nearestPrior).toBeLessThan(0.03);
      expect(r.nearestPrior).toBeGreaterThan(0);
      expect(r.perImage.posterior.length).toBe(4000);
      // Per image, the nearest prior draw is never further than the average one.
      expect(r.perImage.nearestPrior.every((v, i) => v <= r.perImage.prior[i] + 1e-5)).toBe(true);
    }
  });

  it("is repeatable for a seed, and fewer prior draws leave the nearest one further away", () => {
    const set = pointSet(300, 5);
    const a = priorPairing(identityModel(0.3), set, { limit: 300, priorSamples: 200, seed: 7 });
    const b = priorPairing(identityModel(0.3), set, { limit: 300, priorSamples: 200, seed: 7 });
    expect(a.posterior).toBe(b.posterior);
    expect(a.prior).toBe(b.prior);
    const few = priorPairing(identityModel(0.3), set, { limit: 300, priorSamples: 5, seed: 7 });
    expect(few.nearestPrior).toBeGreaterThan(a.nearestPrior);
  });

  it("refuses an empty measurement", () => {
    expect(() => priorPairing(identityModel(1), pointSet(3, 1), { priorSamples: 0 })).toThrow(RangeError);
  });
});
