/**
 * The standard pictures of a trained VAE, as plotly figures: loss curves, the latent space coloured by
 * digit, the decoded manifold, reconstructions next to their originals, and samples from the prior.
 * Used by the CLI's report.html and by the notebooks.
 */
import { activeUnits, decodeLatentGrid, encodeMeans, reconstruct, samplePrior } from "./evaluate";
import { MnistSet } from "../data/mnist";
import { Figure, imageGrid, lineChart, scatterByLabel } from "../plot/plot";
import { EpochRecord } from "./train";
import type { LatentModel } from "./latent-model";

/** Train and test negative ELBO per epoch, and the test reconstruction and KL terms. */
export function lossCurves(history: EpochRecord[], title = "Negative ELBO per image (nats)"): Figure {
  const x = history.map((h) => h.epoch);
  const fig = lineChart(
    [
      { name: "train −ELBO", x, y: history.map((h) => h.trainLoss), mode: "lines+markers" },
      { name: "test −ELBO", x, y: history.map((h) => h.testLoss), mode: "lines+markers" },
      { name: "test reconstruction", x, y: history.map((h) => h.recon), dash: "dash" },
      { name: "test KL", x, y: history.map((h) => h.kl), dash: "dot" },
    ],
    { title, xTitle: "epoch", yTitle: "nats per image" },
  );
  // Whole epochs only on the axis.
  fig.layout.xaxis = { ...(fig.layout.xaxis as object), dtick: Math.max(1, Math.ceil(history.length / 10)) };
  return fig;
}

/**
 * Posterior means of `limit` examples, coloured by digit. For latent spaces of more than two dimensions
 * the two dimensions with the largest spread are shown.
 */
export function latentScatter(vae: LatentModel, set: MnistSet, limit = 5000): Figure {
  const D = vae.config.latentDim;
  const n = Math.min(limit, set.count);
  const means = encodeMeans(vae, set, { limit: n });
  let [a, b] = [0, 1];
  if (D > 2) {
    const v = activeUnits(vae, set, { limit: n }).variances;
    [a, b] = v.map((x, i) => [x, i]).sort((p, q) => q[0] - p[0]).slice(0, 2).map((p) => p[1]);
  }
  const xs = Array.from({ length: n }, (_, i) => means[i * D + a]);
  const ys = D > 1 ? Array.from({ length: n }, (_, i) => means[i * D + b]) : new Array(n).fill(0);
  const title = D === 2 ? `Latent space: E[z|x] of ${n} test digits` : `Latent dimensions ${a} and ${b} (largest spread) of ${D}: E[z|x] of ${n} test digits`;
  const fig = scatterByLabel(xs, ys, set.labels.subarray(0, n), { title, xTitle: `z${a + 1}`, yTitle: D > 1 ? `z${b + 1}` : "", height: 560 });
  fig.layout.yaxis = { ...(fig.layout.yaxis as object), scaleanchor: "x" };
  return fig;
}

/** The decoded n × n grid over the latent plane (2-D models only). */
export function manifoldFigure(vae: LatentModel, n = 20): Figure {
  const grid = decodeLatentGrid(vae, n);
  return imageGrid(grid.images, 28, 28, { columns: n, gap: 0, title: `Decoded manifold: z on a ${n}×${n} grid of Gaussian quantiles`, width: 640 });
}

/** Originals (odd rows) above their reconstructions (even rows). */
export function reconstructionFigure(vae: LatentModel, set: MnistSet, n = 10): Figure {
  const idx = Array.from({ length: n }, (_, i) => i);
  const rec = reconstruct(vae, set, idx);
  const px = set.pixels;
  const rows = new Float32Array(2 * n * px);
  rows.set(set.images.subarray(0, n * px), 0);
  rows.set(rec, n * px);
  return imageGrid(rows, set.rows, set.cols, { columns: n, title: "Test digits (top) and their reconstructions (bottom)", width: 640 });
}

/** Pixel means of p(x|z) for z ~ N(0, I). */
export function samplesFigure(vae: LatentModel, n = 30, seed = 1): Figure {
  return imageGrid(samplePrior(vae, n, seed), 28, 28, { columns: Math.min(n, 10), title: "Samples: decoder means at z ~ N(0, I)", width: 640 });
}
