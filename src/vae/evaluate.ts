/**
 * Evaluating a trained VAE: the importance-weighted log-likelihood estimate (IWAE bound), active units,
 * latent codes of a data set, decoded grids over the latent plane, reconstructions and prior samples.
 */
import * as tf from "../engine/tf";
import { normalCdf } from "../prob/gaussian";
import { batchTensor, MnistSet } from "../data/mnist";
import { Rng, tfSeed } from "../engine/random";
import { tidyValue } from "../engine/tidy";
import { logImportanceWeights } from "./iwae";
import type { LatentModel } from "./latent-model";
import { batchesFor, Condition, ConditionalVae } from "./conditional";

/**
 * The k-sample importance-weighted bound (Burda et al., 2016) averaged over a set:
 *
 *   log p(x) ≥ L_k = E[ log (1/k) Σ_i p(x, z_i) / q(z_i | x) ],  z_i ~ q(z|x),
 *
 * L_1 is the ELBO, L_k increases with k and tends to log p(x); with k = 5000 it is the usual estimate of
 * the test log-likelihood. Returned as a negative log-likelihood in nats per image (lower is better). For a
 * conditional VAE (conditional.ts) it is the bound on −log p(x|c), c as `condition` says (default: the class).
 */
export function iwaeNll(vae: LatentModel | ConditionalVae, set: MnistSet, options: { k?: number; limit?: number; seed?: number; chunk?: number; condition?: Condition } = {}): number {
  const steps = iwaeNllSteps(vae, set, options);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * iwaeNll one image at a time: yields the number of images done after each, returns the same value. A
 * caller that must stay responsive (the CLI, which polls for Ctrl-C) drives it and gives the event loop
 * turns between images.
 */
export function* iwaeNllSteps(vae: LatentModel | ConditionalVae, set: MnistSet, options: { k?: number; limit?: number; seed?: number; chunk?: number; condition?: Condition } = {}): Generator<number, number> {
  const { k = 100, chunk = 1000 } = options;
  const positive = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;
  if (!positive(k)) throw new Error(`iwaeNll: k must be a positive integer (got ${k})`);
  if (!positive(chunk)) throw new Error(`iwaeNll: chunk must be a positive integer (got ${chunk})`);
  if (options.limit !== undefined && !positive(options.limit)) throw new Error(`iwaeNll: limit must be a positive integer (got ${options.limit})`);
  if (set.count < 1) throw new Error("iwaeNll: the set is empty");
  const batchOf = batchesFor(vae, set, options.condition);
  const n = Math.min(options.limit ?? set.count, set.count);
  const rng = new Rng(options.seed ?? 7);
  const D = vae.config.latentDim;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const logW: number[] = [];
    tf.tidy(() => {
      const { model, x } = batchOf([i], batchTensor(set, [i], rng));
      for (let start = 0; start < k; start += chunk) {
        const m = Math.min(chunk, k - start);
        const w = tf.tidy(() => logImportanceWeights(model, x, tf.randomNormal([m, D], 0, 1, "float32", tfSeed(rng.nextSeed()))));
        logW.push(...w.dataSync());
      }
    });
    const mx = logW.reduce((a, b) => Math.max(a, b), -Infinity);
    total += mx + Math.log(logW.reduce((s, v) => s + Math.exp(v - mx), 0) / k);
    yield i + 1;
  }
  return -total / n;
}

/**
 * Posterior means E_q[z|x] of the first `limit` examples, as a [n × latentDim] row-major array (E_q[z|x, c] for
 * a conditional VAE, c as `condition` says: default the class).
 */
export function encodeMeans(vae: LatentModel | ConditionalVae, set: MnistSet, options: { limit?: number; batchSize?: number; condition?: Condition } = {}): Float32Array {
  const batchOf = batchesFor(vae, set, options.condition);
  const n = Math.min(options.limit ?? set.count, set.count);
  const bs = options.batchSize ?? 1000;
  const D = vae.config.latentDim;
  const out = new Float32Array(n * D);
  const rng = new Rng(0);
  for (let start = 0; start < n; start += bs) {
    const m = Math.min(bs, n - start);
    const means = tidyValue(() => {
      const idx = Int32Array.from({ length: m }, (_, j) => start + j);
      const { model, x } = batchOf(idx, batchTensor(set, idx, rng));
      return model.encode(x).mu.dataSync();
    });
    out.set(means, start * D);
  }
  return out;
}

/**
 * Active units (Burda et al.): latent dimension d is active when the posterior mean E_q[z_d|x] varies
 * across the data, Cov_x(E_q[z_d|x]) > threshold (0.01). Returns the per-dimension variances and the count.
 */
export function activeUnits(vae: LatentModel | ConditionalVae, set: MnistSet, options: { limit?: number; threshold?: number; condition?: Condition } = {}): { count: number; variances: number[] } {
  const D = vae.config.latentDim;
  const means = encodeMeans(vae, set, { limit: options.limit, condition: options.condition });
  const n = means.length / D;
  const variances = Array.from({ length: D }, (_, d) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += means[i * D + d] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (means[i * D + d] - m) ** 2 / n;
    return v;
  });
  return { count: variances.filter((v) => v > (options.threshold ?? 0.01)).length, variances };
}

/**
 * Φ⁻¹(p), the standard normal quantile: Acklam's rational approximation (relative error < 1.2e-9), refined
 * in the central region 0.02425 ≤ p ≤ 0.97575 by one Halley step on Φ(x) − p (normalCdf, prob/gaussian.ts: there
 * Φ has no cancellation), which brings it to ~1e-15.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  const x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/**
 * Decode an n × n grid over the 2-D latent plane whose coordinates are Φ⁻¹ of evenly spaced probabilities
 * (as in Kingma & Welling, Fig. 4): equal prior mass between neighbouring points. Returns the pixel means,
 * row-major image after image (grid row 0 = the largest z₂, so the picture has z₂ growing upwards), and the
 * coordinates used. Needs a 2-D latent space.
 */
export function decodeLatentGrid(vae: LatentModel, options: { n?: number } = {}): { images: Float32Array; z1: number[]; z2: number[] } {
  const { n = 20 } = options;
  if (vae.config.latentDim !== 2) throw new Error(`decodeLatentGrid needs a 2-D latent space (this model has ${vae.config.latentDim})`);
  const coords = Array.from({ length: n }, (_, i) => normalQuantile((i + 0.5) / n));
  const z: number[] = [];
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) z.push(coords[c], coords[n - 1 - r]);
  const images = tidyValue(() => vae.decodeMean(tf.tensor2d(z, [n * n, 2])).dataSync() as Float32Array);
  return { images: Float32Array.from(images), z1: coords, z2: [...coords].reverse() };
}

/**
 * Pixel means of p(x|z) at the posterior means of the given examples: [n × pixels] (of p(x|z, c) at the means
 * of q(z|x, c) for a conditional VAE, c as `condition` says: default the class).
 */
export function reconstruct(vae: LatentModel | ConditionalVae, set: MnistSet, indices: number[], options: { condition?: Condition } = {}): Float32Array {
  const batchOf = batchesFor(vae, set, options.condition);
  return tidyValue(() => {
    const { model, x } = batchOf(indices, batchTensor(set, indices, new Rng(0)));
    return Float32Array.from(model.decodeMean(model.encode(x).mu).dataSync());
  });
}

/** Pixel means of p(x|z) for `n` draws z from the prior N(0, I) (same seed → same draws): [n × pixels]. */
export function samplePrior(vae: LatentModel, options: { n?: number; seed?: number } = {}): Float32Array {
  const { n = 30 } = options;
  const s = options.seed ?? new Rng().nextSeed();
  return tidyValue(() => Float32Array.from(vae.decodeMean(tf.randomNormal([n, vae.config.latentDim], 0, 1, "float32", tfSeed(s)) as tf.Tensor2D).dataSync()));
}
