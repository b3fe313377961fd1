/**
 * The standard pictures of a trained VAE, as plotly figures: loss curves, the latent space coloured by
 * digit, the decoded manifold, reconstructions next to their originals, and samples from the prior.
 * Used by the CLI's report.html and by the notebooks.
 */
import { activeUnits, decodeLatentGrid, encodeMeans, reconstruct, samplePrior } from "./evaluate";
import { ConditionalVae, sampleClasses } from "./conditional";
import { MnistSet } from "../data/mnist";
import { className } from "../data/image-set";
import { Figure, imageGrid, lineChart, scatterByLabel } from "../plot/plot";
import { EpochRecord } from "./train";
import type { LatentModel } from "./latent-model";
import { plural } from "../cli/plural";
import { ImageShape, imageSizeText } from "../data/image-shape";

/**
 * Train and test negative ELBO per epoch and the test reconstruction term on the left axis; the test KL,
 * a few to a few tens of nats, on its own right-hand axis (on the totals' axis it would be a flat line).
 * Train −ELBO is the mean over the epoch's minibatches while the weights were still changing; the test
 * numbers are measured once, at the epoch's end — the legend says so.
 */
export function lossCurves(history: EpochRecord[], options: { title?: string } = {}): Figure {
  const { title = "Negative ELBO per image (nats)" } = options;
  const x = history.map((h) => h.epoch);
  const fig = lineChart(
    [
      { name: "train −ELBO (mean during the epoch)", x, y: history.map((h) => h.trainLoss), mode: "lines+markers" },
      { name: "test −ELBO (at the epoch's end)", x, y: history.map((h) => h.testLoss), mode: "lines+markers" },
      { name: "test reconstruction", x, y: history.map((h) => h.recon), dash: "dash", mode: "lines+markers" },
      { name: "test KL (right axis)", x, y: history.map((h) => h.kl), dash: "dot", mode: "lines+markers" },
    ],
    { title, xTitle: "epoch", yTitle: "−ELBO, reconstruction (nats per image)" },
  );
  fig.data[3].yaxis = "y2";
  fig.layout.yaxis2 = { title: { text: "KL (nats per image)" }, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false, tickmode: "auto", nticks: 6, tickformat: ".1f" };
  fig.layout.margin = { ...(fig.layout.margin as object), r: 70 };
  fig.layout.legend = { orientation: "h", y: -0.2 };
  fig.layout.height = 460;
  // Whole epochs only on the axis.
  fig.layout.xaxis = { ...(fig.layout.xaxis as object), dtick: Math.max(1, Math.ceil(history.length / 10)), tickformat: "d" };
  return fig;
}

/**
 * Posterior means of `limit` examples, coloured by class (digit for MNIST), named by the set's class names. For latent spaces of more than two dimensions
 * the two dimensions with the largest spread are shown. A conditional VAE's are E[z|x, c], each image read with its class.
 */
export function latentScatter(vae: LatentModel | ConditionalVae, set: MnistSet, options: { limit?: number } = {}): Figure {
  const { limit = 5000 } = options;
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
  // MNIST's images are digits; another set's are images of its classes (named in the legend).
  const digits = set.classNames.length === 10 && set.classNames.every((c, i) => c === String(i));
  const what = plural(n, digits ? "test digit" : "test image");
  // A conditional model's code is read with the class, which it need not hold: its classes may overlap.
  const mean = vae instanceof ConditionalVae ? "E[z|x, class]" : "E[z|x]";
  const title = D === 2 ? `Latent space: ${mean} of ${what}` : `Latent dimensions ${a} and ${b} (largest spread) of ${D}: ${mean} of ${what}`;
  const fig = scatterByLabel(xs, ys, set.labels.subarray(0, n), { title, xTitle: `z${a + 1}`, yTitle: D > 1 ? `z${b + 1}` : "", height: 560, labelName: (y) => className(set, y) });
  fig.layout.yaxis = { ...(fig.layout.yaxis as object), scaleanchor: "x" };
  return fig;
}

export type { ImageShape } from "../data/image-shape";

/** The model's image shape: given, or a grey square of its input size (28 × 28 for MNIST). */
function imageShapeOf(vae: LatentModel | ConditionalVae, shape?: ImageShape): Required<ImageShape> {
  if (shape) {
    const channels = shape.channels ?? 1;
    if (shape.rows * shape.cols * channels !== vae.config.inputDim) {
      throw new Error(`image shape ${imageSizeText(shape)} does not match the model's ${vae.config.inputDim} values per image`);
    }
    return { rows: shape.rows, cols: shape.cols, channels };
  }
  const side = Math.round(Math.sqrt(vae.config.inputDim));
  if (side * side !== vae.config.inputDim) throw new Error(`the model's ${vae.config.inputDim} pixels are not a square image: pass the image shape`);
  return { rows: side, cols: side, channels: 1 };
}

/**
 * The decoded n × n grid over the latent plane (2-D models only), with z₁ along the bottom and z₂ up the
 * side at the grid's Gaussian-quantile coordinates, so it can be read against the latent scatter.
 */
export function manifoldFigure(vae: LatentModel, options: { n?: number; shape?: ImageShape } = {}): Figure {
  const { n = 20 } = options;
  const grid = decodeLatentGrid(vae, { n });
  const { rows, cols, channels } = imageShapeOf(vae, options.shape);
  const fig = imageGrid(grid.images, rows, cols, { channels, columns: n, gap: 0, title: `Decoded manifold: z on a ${n}×${n} grid of Gaussian quantiles`, width: 680 });
  // Ticks every few cells, symmetric about the centre, at cell centres (cell k spans pixels k*cols … k*cols + cols − 1).
  const every = Math.max(1, Math.round(n / 7));
  // A cell and its mirror image closer than `every` cells (the two middle cells of an even grid) would print
  // their labels (±0.06 for n = 20) on top of each other: those get no tick.
  const cells = Array.from({ length: n }, (_, k) => k).filter((k) => {
    const d = Math.min(k, n - 1 - k);
    return d % every === 0 && (n - 1 - 2 * d === 0 || n - 1 - 2 * d >= every);
  });
  const centreX = (k: number) => k * cols + (cols - 1) / 2;
  const centreY = (k: number) => k * rows + (rows - 1) / 2;
  fig.layout.xaxis = { visible: true, constrain: "domain", tickvals: cells.map(centreX), ticktext: cells.map((k) => grid.z1[k].toFixed(2)), title: { text: "z1" }, showgrid: false, zeroline: false };
  fig.layout.yaxis = { visible: true, autorange: "reversed", scaleanchor: "x", tickvals: cells.map(centreY), ticktext: cells.map((k) => grid.z2[k].toFixed(2)), title: { text: "z2" }, showgrid: false, zeroline: false };
  fig.layout.margin = { l: 60, r: 10, t: 50, b: 50 };
  // Room for the tick labels and axis titles, and a plotting area as tall as the grid is for its width.
  fig.layout.height = Math.round(((Number(fig.layout.width) - 70) * rows) / cols) + 100;
  return fig;
}

/** Originals (odd rows) above their reconstructions (even rows). */
export function reconstructionFigure(vae: LatentModel | ConditionalVae, set: MnistSet, options: { n?: number; title?: string } = {}): Figure {
  const digits = set.classNames.length === 10 && set.classNames.every((c, i) => c === String(i));
  const { title = `Test ${digits ? "digits" : "images"} (top) and their reconstructions (bottom)` } = options;
  // A test set of fewer images than asked for shows them all.
  const n = Math.min(options.n ?? 10, set.count);
  const idx = Array.from({ length: n }, (_, i) => i);
  const rec = reconstruct(vae, set, idx);
  const px = set.pixels;
  const rows = new Float32Array(2 * n * px);
  rows.set(set.images.subarray(0, n * px), 0);
  rows.set(rec, n * px);
  return imageGrid(rows, set.rows, set.cols, { channels: set.channels, columns: n, title, width: 640 });
}

/** Pixel means of p(x|z) for z ~ N(0, I). */
export function samplesFigure(vae: LatentModel, options: { n?: number; seed?: number; shape?: ImageShape } = {}): Figure {
  const { n = 30, seed = 1 } = options;
  const { rows, cols, channels } = imageShapeOf(vae, options.shape);
  return imageGrid(samplePrior(vae, { n, seed }), rows, cols, { channels, columns: Math.min(n, 10), title: "Samples: decoder means at z ~ N(0, I)", width: 640 });
}

/**
 * A class-conditional VAE's samples: one row per class (named on the left), `n` columns, column j the same
 * draw z ~ N(0, I) decoded under each class (evaluate.ts's sampleClasses), so a row shows the class and a
 * column the style the code holds.
 */
export function classSamplesFigure(vae: ConditionalVae, options: { n?: number; seed?: number; shape?: ImageShape; classNames?: string[] } = {}): Figure {
  const { n = 10, seed = 1 } = options;
  const K = vae.config.conditionDim;
  const names = options.classNames?.length === K ? options.classNames : Array.from({ length: K }, (_, k) => String(k));
  const { rows, cols, channels } = imageShapeOf(vae, options.shape);
  const fig = imageGrid(sampleClasses(vae, { n, seed }), rows, cols, { channels, columns: n, title: "Samples by class: each column one z ~ N(0, I), decoded under every class", width: 640 });
  // The grid's rows are one pixel apart (imageGrid's default gap): row k's centre is k·(rows + 1) + (rows − 1)/2.
  fig.layout.yaxis = { ...(fig.layout.yaxis as object), visible: true, showgrid: false, zeroline: false, tickvals: names.map((_, k) => k * (rows + 1) + (rows - 1) / 2), ticktext: names };
  fig.layout.margin = { ...(fig.layout.margin as object), l: 70 };
  return fig;
}
